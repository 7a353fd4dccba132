"""Personal data of one person in one project: find it, export it, erase it.

A person is named by an e-mail address or a phone number and found through the duplicate keys
(DESIGN §2 "Identity and duplicates"), canonical or not, within the project: their leads, the
leads merged into those (and the survivors they were merged into), the clients those leads
belong to and every lead of those clients, and the submissions that created or duplicated any
of those leads or arrived with the same e-mail address (or, for a phone, a submission that made
no lead and carried that phone).

Only admins (and the operator's command line) may export or erase: both reach
every lead of a project, whoever owns it, and erasure cannot be undone (DESIGN §2: admins own
system matters; a manager can still delete single leads)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leadflow.accounts.access import require_admin
from leadflow.accounts.models import Notification
from leadflow.activities.models import Activity
from leadflow.activities.selectors import activity_out
from leadflow.clients.models import Client
from leadflow.clients.selectors import client_out
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.core.normalize import InvalidValue, email_key, normalize_email, normalize_phone
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.crm.selectors import event_out, lead_ids_of_history, lead_out, offer_out
from leadflow.imports.models import Import, ImportRejection
from leadflow.intake.keys import scope_for
from leadflow.intake.models import (
    DuplicateKey,
    KeyKind,
    PossibleDuplicate,
    Submission,
    SubmissionAttempt,
)
from leadflow.jobs.models import Job
from leadflow.privacy.models import Erasure, IdentifierKind
from leadflow.projects.models import Project, SystemSettings
from leadflow.routing.models import Offer
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineEvent

ERASED_REASON = "Personal data erased on request"
COUNT_KINDS = ("leads", "clients", "submissions", "activities", "events_scrubbed",
               "possible_duplicates", "notifications", "import_rows")


@dataclass
class Person:
    """What is held about one person in one project (ids only)."""

    project: Project
    kind: str  # IdentifierKind
    value: str  # the normalized e-mail address or E.164 phone
    given: str  # as the caller wrote it
    lead_ids: list[int] = field(default_factory=list)
    client_ids: list[int] = field(default_factory=list)
    submission_ids: list[int] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.lead_ids or self.client_ids or self.submission_ids)

    def leads(self):
        return Lead.objects.filter(pk__in=self.lead_ids).order_by("pk")


@dataclass
class ErasureResult:
    person: Person
    counts: dict[str, int]
    erasure: Erasure | None  # None when nothing was held


def _identify(project: Project, email: str | None, phone: str | None) -> tuple[str, str, str]:
    """(kind, normalized value, duplicate-key value) of the identifier given."""
    email, phone = (email or "").strip(), (phone or "").strip()
    if bool(email) == bool(phone):
        raise ValidationFailed.one("email", "one_identifier",
                                   "Give either an e-mail address or a phone number.")
    try:
        if email:
            value = normalize_email(email)
            options = SystemSettings.load()
            return IdentifierKind.EMAIL, value, email_key(
                value, ignore_plus=options.email_ignore_plus,
                ignore_gmail_dots=options.email_ignore_gmail_dots)
        value = normalize_phone(phone, project.default_region)
        return IdentifierKind.PHONE, value, value
    except InvalidValue as exc:
        name = "email" if email else "phone"
        what = "an e-mail address" if email else "a phone number"
        raise ValidationFailed.one(name, exc.code, f"'{email or phone}' is not {what}.") from None


def find_person(project: Project, *, actor: Actor, email: str | None = None,
                phone: str | None = None) -> Person:
    """Everything held about the person with this e-mail or phone in `project` (ids), as the
    module docstring says. Reads only. Errors: PermissionDenied (not an admin),
    ValidationFailed (`one_identifier`: none or both given; `invalid_email`/`invalid_phone`)."""
    require_admin(actor)
    kind, value, key = _identify(project, email, phone)
    person = Person(project, kind, value, (email or phone or "").strip())
    scope = scope_for(project.pk, SystemSettings.load())
    key_kind = KeyKind.EMAIL if kind == IdentifierKind.EMAIL else KeyKind.PHONE
    leads = set(DuplicateKey.objects.filter(scope=scope, kind=key_kind, value=key,
                                            lead__project=project)
                .values_list("lead_id", flat=True))
    folded = value.casefold() if kind == IdentifierKind.EMAIL else None
    clients: set[int] = set()
    if folded:
        leads |= set(Lead.objects.filter(project=project, email_key=folded)
                     .values_list("pk", flat=True))
        clients |= set(Client.objects.filter(project=project, email_key=folded)
                       .values_list("pk", flat=True))
    # Until nothing new turns up: the survivors of merged-away leads, the leads merged into
    # them, the clients of all of these and every lead of those clients.
    while True:
        known = (len(leads), len(clients))
        rows = Lead.objects.filter(pk__in=leads).values_list("pk", "merged_into_id", "client_id")
        for _pk, merged_into, client in rows:
            if merged_into is not None:
                leads.add(merged_into)
            if client is not None:
                clients.add(client)
        leads |= set(Lead.objects.filter(client_id__in=clients).values_list("pk", flat=True))
        for lead in Lead.objects.filter(pk__in=leads, merged_into__isnull=True):
            leads.update(lead_ids_of_history(lead))
        if (len(leads), len(clients)) == known:
            break
    submissions = Q(project=project) & (Q(lead_id__in=leads) | Q(duplicate_of_id__in=leads))
    if folded:
        submissions |= Q(project=project, email_key=folded)
    person.lead_ids = sorted(leads)
    person.client_ids = sorted(clients)
    found = set(Submission.objects.filter(submissions).values_list("pk", flat=True))
    if kind == IdentifierKind.PHONE:
        found |= _unlinked_submissions_with_phone(project, value)
    person.submission_ids = sorted(found)
    return person


def _unlinked_submissions_with_phone(project: Project, phone: str) -> set[int]:
    """Submissions of the project that made no lead and matched none (rejected, or not yet
    processed) whose phones, as read, are this one. They have no key to look up by: each is
    read and its phones normalized (an admin's rare request; rejected submissions are few)."""
    found = set()
    unlinked = Submission.objects.filter(project=project, lead__isnull=True,
                                         duplicate_of__isnull=True)
    for pk, normalized in unlinked.values_list("pk", "normalized").iterator():
        phones = (normalized or {}).get("phones") if isinstance(normalized, dict) else None
        for raw in phones if isinstance(phones, list) else []:
            try:
                if normalize_phone(str(raw), project.default_region) == phone:
                    found.add(pk)
                    break
            except InvalidValue:
                continue
    return found


def reference_of(project: Project, kind: str, value: str) -> str:
    """A keyed SHA-256 of the normalized identifier: the same person gives the same reference
    (so an admin can tell whether someone was erased), and without the install's secret key
    it cannot even be checked against a list of addresses."""
    message = f"{project.pk}:{kind}:{value}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def erase_person(project: Project, *, actor: Actor, email: str | None = None,
                 phone: str | None = None) -> ErasureResult:
    """Erase the person's data in `project` (admins), in one transaction:

    - leads (merged-away ones with their survivor) are deleted through `crm.delete_lead`: their
      duplicate keys, search words, activities, tags, offers and possible-duplicate pairs go
      with them, their timeline is scrubbed of personal data and LEAD_DELETED is recorded;
    - clients are deleted and their timeline scrubbed;
    - submissions keep their row, status and links for the bucket's counts, with the raw and
      normalized payloads, name, e-mail, matches and error messages blanked;
    - notifications about the leads or their offers are deleted;
    - rejected import rows holding the e-mail or phone are deleted, with the job's list of
      first problems for those rows.

    One `Erasure` record keeps who, when and how many of each kind, and a keyed hash of the
    identifier, never the identifier itself. Nothing found: nothing changes and no record is
    written (a second run finds nothing). Errors: as find_person."""
    with transaction.atomic():
        person = find_person(project, actor=actor, email=email, phone=phone)
        counts = dict.fromkeys(COUNT_KINDS, 0)
        if not person.found:
            return ErasureResult(person, counts, None)
        leads = person.lead_ids
        counts["leads"] = len(leads)
        counts["clients"] = len(person.client_ids)
        counts["activities"] = Activity.objects.filter(lead_id__in=leads).count()
        counts["possible_duplicates"] = PossibleDuplicate.objects.filter(
            Q(lead_a_id__in=leads) | Q(lead_b_id__in=leads)).count()
        counts["submissions"] = _blank_submissions(person.submission_ids)
        offers = Offer.objects.filter(lead_id__in=leads).values("pk")
        counts["notifications"], _ = Notification.objects.filter(
            Q(lead_id__in=leads) | Q(offer_id__in=offers)).delete()
        counts["import_rows"] = _forget_import_rows(person)
        counts["events_scrubbed"] = TimelineEvent.objects.filter(
            lead_id__in=leads, scrubbed=False).count()
        for lead in Lead.objects.filter(pk__in=leads, merged_into__isnull=True):
            crm_services.delete_lead(lead, actor=actor, reason=ERASED_REASON)
        for client_id in person.client_ids:
            counts["events_scrubbed"] += timeline.scrub_client(client_id)
        Client.objects.filter(pk__in=person.client_ids).delete()
        user = actor.user
        erasure = Erasure.objects.create(
            project=project, erased_by=user, actor_label=user.email if user else "system",
            channel=actor.channel, identifier_kind=person.kind,
            reference=reference_of(project, person.kind, person.value), counts=counts,
        )
    return ErasureResult(person, counts, erasure)


def _blank_submissions(ids: list[int]) -> int:
    rows = list(Submission.objects.filter(pk__in=ids))
    for row in rows:
        row.raw, row.normalized, row.matched = {}, {}, []
        row.name, row.email_key = "", ""
        row.errors = [{"field": e.get("field", ""), "code": e.get("code", ""), "message": ""}
                      for e in row.errors or [] if isinstance(e, dict)]
        row.save(update_fields=["raw", "normalized", "matched", "name", "email_key", "errors"])
    SubmissionAttempt.objects.filter(submission_id__in=ids).update(errors=[], matched=[])
    return len(rows)


def _mentions(person: Person, cells) -> bool:
    for cell in cells if isinstance(cells, list) else []:
        text = str(cell or "").strip()
        if not text:
            continue
        if person.kind == IdentifierKind.EMAIL:
            if person.value.casefold() in text.casefold():
                return True
        elif sum(c.isdigit() for c in text) >= 6:
            try:
                if normalize_phone(text, person.project.default_region) == person.value:
                    return True
            except InvalidValue:
                continue
    return False


def _forget_import_rows(person: Person) -> int:
    """Delete the project's rejected import rows that hold the person's e-mail or phone, and
    those rows' entries in their job's first problems."""
    imports = Import.objects.filter(project=person.project).values("pk")
    found: dict[int, set[int]] = {}
    for row in ImportRejection.objects.filter(import_run_id__in=imports).iterator():
        if _mentions(person, row.cells):
            found.setdefault(row.import_run_id, set()).add(row.pk)
    removed = 0
    for import_id, row_ids in found.items():
        numbers = set(ImportRejection.objects.filter(pk__in=row_ids)
                      .values_list("row_number", flat=True))
        removed += ImportRejection.objects.filter(pk__in=row_ids).delete()[0]
        job = Job.objects.get(pk=import_id)
        kept = [p for p in job.errors or [] if not (isinstance(p, dict)
                                                   and p.get("row") in numbers)]
        if kept != job.errors:
            job.errors = kept
            job.save(update_fields=["errors"])
    return removed


def export_person(project: Project, *, actor: Actor, email: str | None = None,
                  phone: str | None = None) -> dict:
    """Everything held about the person in `project` as a JSON-ready dict (admins): the leads
    (every field, custom fields, tags, list, merge and conversion) with their timeline,
    activities and offers; the clients with their timeline; the submissions with their raw
    and normalized payloads and processing attempts; and the notifications about them.
    Reads only. Errors: as find_person, and NotFound when nothing is
    held ("No data held about X in project Y.")."""
    person = find_person(project, actor=actor, email=email, phone=phone)
    if not person.found:
        raise NotFound(f"No data held about {person.given} in project {project.slug}.")
    leads = list(person.leads().select_related("list"))
    offers: dict[int, list] = {}
    for offer in Offer.objects.filter(lead_id__in=person.lead_ids).prefetch_related(
            "recipients").order_by("pk"):
        offers.setdefault(offer.lead_id, []).append(offer_out(offer))
    activities: dict[int, list] = {}
    for activity in Activity.objects.filter(lead_id__in=person.lead_ids).select_related(
            "outcome").order_by("occurred_at", "pk"):
        activities.setdefault(activity.lead_id, []).append(activity_out(activity))
    events = TimelineEvent.objects.filter(
        Q(lead_id__in=person.lead_ids) | Q(client_id__in=person.client_ids)
    ).order_by("occurred_at", "pk")
    by_lead: dict[int, list] = {}
    by_client: dict[int, list] = {}
    for event in events:
        if event.lead_id in person.lead_ids:
            by_lead.setdefault(event.lead_id, []).append(event_out(event))
        else:
            by_client.setdefault(event.client_id, []).append(event_out(event))
    attempts: dict[int, list] = {}
    for attempt in SubmissionAttempt.objects.filter(submission_id__in=person.submission_ids):
        attempts.setdefault(attempt.submission_id, []).append({
            "at": attempt.at, "status": attempt.status, "errors": attempt.errors,
            "lead": attempt.lead_id_value, "duplicate_of": attempt.duplicate_of_id_value,
            "matched": attempt.matched})
    offer_ids = [o["id"] for group in offers.values() for o in group]
    notifications = Notification.objects.filter(
        Q(lead_id__in=person.lead_ids) | Q(offer_id__in=offer_ids)).order_by("pk")
    return {
        "project": {"id": project.pk, "slug": project.slug, "name": project.name},
        "identifier": {"kind": person.kind, "value": person.value},
        "exported_at": timezone.now(),
        "leads": [
            lead_out(lead) | {
                "list_name": lead.list.name if lead.list_id else None,
                "merged_into": lead.merged_into_id, "converted_at": lead.converted_at,
                "retired_at": lead.retired_at, "timeline": by_lead.get(lead.pk, []),
                "activities": activities.get(lead.pk, []), "offers": offers.get(lead.pk, []),
            }
            for lead in leads
        ],
        "clients": [
            client_out(client) | {"timeline": by_client.get(client.pk, [])}
            for client in Client.objects.filter(pk__in=person.client_ids).order_by("pk")
        ],
        "submissions": [
            {"id": s.pk, "bucket": s.bucket_id, "bucket_name": s.bucket.name,
             "channel": s.channel, "status": s.status, "raw": s.raw,
             "normalized": s.normalized, "errors": s.errors, "matched": s.matched,
             "lead": s.lead_id, "duplicate_of": s.duplicate_of_id, "created_at": s.created_at,
             "processed_at": s.processed_at, "attempts": attempts.get(s.pk, [])}
            for s in Submission.objects.filter(pk__in=person.submission_ids)
            .select_related("bucket").order_by("pk")
        ],
        "notifications": [
            {"id": n.pk, "user": n.user_id, "kind": n.kind, "message": n.message,
             "lead": n.lead_id, "created_at": n.created_at}
            for n in notifications
        ],
    }


def describe_counts(counts: dict[str, int]) -> str:
    """"2 leads, 1 client, 3 submissions and 4 activities": leads, clients and submissions
    always, the other kinds when some were removed."""
    names = {"leads": ("lead", "leads"), "clients": ("client", "clients"),
             "submissions": ("submission", "submissions"),
             "activities": ("activity", "activities"),
             "events_scrubbed": ("history entry", "history entries"),
             "possible_duplicates": ("possible duplicate", "possible duplicates"),
             "notifications": ("notification", "notifications"),
             "import_rows": ("rejected import row", "rejected import rows")}
    parts = [f"{counts.get(kind, 0):,} {names[kind][counts.get(kind, 0) != 1]}"
             for kind in COUNT_KINDS
             if kind in ("leads", "clients", "submissions") or counts.get(kind)]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
