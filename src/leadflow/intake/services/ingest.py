"""`ingest`: the one path by which any incoming person becomes a lead or a duplicate result."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leadflow.accounts import services as accounts
from leadflow.accounts.models import User
from leadflow.core.actor import Actor
from leadflow.core.db import batched_writes, build, fetch, insert_row, insert_tuples
from leadflow.core.errors import Conflict, ErrorCollector
from leadflow.crm.contact import LeadInput, clean_contact, require_reachable
from leadflow.crm.models import Lead, LeadWord
from leadflow.crm.search import index_words, words_of
from leadflow.intake.keys import derive_keys, scope_for
from leadflow.intake.models import DuplicateKey
from leadflow.intake.tasks import queue_duplicate_checks
from leadflow.projects.fields import clean_custom, definitions_of, stored
from leadflow.projects.models import (
    OPEN_STATUSES,
    FieldDefinition,
    Pool,
    Project,
    Source,
    Stage,
    SystemSettings,
)
from leadflow.routing.services import loads
from leadflow.routing.services.router import Decision, LeadFacts, Router
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

OnDuplicate = Literal["reject", "merge", "keep_both"]
MERGEABLE = ("name", "email", "company", "timezone", "country", "language")
ATTEMPTS = 3
KEY_COLUMNS = ["scope", "kind", "value", "lead_id", "canonical"]


class KeyRace(Conflict):
    """A concurrent caller claimed one of the keys first; the caller's transaction must roll
    back and may run again (ingest with `retry=False`)."""

    def __init__(self):
        super().__init__("The contact keys are being changed concurrently; try again.",
                         code="busy")


def lead_words(cleaned: dict) -> list[str]:
    """The search words of a lead made of `cleaned` values, in order."""
    return sorted(words_of(cleaned["name"], cleaned.get("company", "")))


@dataclass
class IngestResult:
    """What became of one incoming person. `matches` lists the keys that matched, in order."""

    lead: Lead | None = None
    created: bool = False
    merged: bool = False
    duplicate_of: Lead | None = None
    matches: list[dict] = field(default_factory=list)
    cleaned: dict = field(default_factory=dict)


def validate_input(project: Project, data: LeadInput,
                   fields: list[FieldDefinition] | None = None) -> dict:
    """Cleaned contact values of `data`, with its custom values (`custom`, blanks left out)
    checked against the project's field definitions (`fields`, read when not given; required
    fields must have a value), or ValidationFailed with every field error."""
    errors = ErrorCollector()
    values = data.given()
    values.setdefault("name", "")
    cleaned = clean_contact(values, region=project.default_region, errors=errors)
    require_reachable(cleaned, errors)
    if fields is None:
        fields = definitions_of(project.pk)
    custom = clean_custom(data.custom, fields, region=project.default_region, errors=errors,
                          creating=True)
    errors.raise_if_any()
    cleaned["custom"] = stored(custom)
    return cleaned


def first_open_stage(project: Project) -> Stage:
    stage = Stage.objects.filter(
        project=project, status__in=OPEN_STATUSES, retired_at__isnull=True
    ).order_by("position", "id")
    found = stage.first()
    if found is None:
        raise Conflict("The project has no open stage.", code="no_stage")
    return found


@dataclass
class Prepared:
    """What ingest reads and computes before it writes: validated values, keys, first stage."""

    cleaned: dict
    scope: str
    keys: list[tuple[str, str]]
    stage: Stage


def prepare(project: Project, data: LeadInput, *, settings: SystemSettings | None = None,
            stage: Stage | None = None,
            fields: list[FieldDefinition] | None = None) -> Prepared:
    """Validate `data` and read what ingest needs, without writing. Raises ValidationFailed.
    Callers that wrap ingest in a longer transaction call this first, so the transaction (and
    SQLite's write lock) covers only the writes; callers that hold the system settings, the
    first open stage and the project's field definitions already pass them."""
    if fields is None:
        fields = definitions_of(project.pk)
    cleaned = validate_input(project, data, fields)
    settings = settings or SystemSettings.load()
    keys = derive_keys(cleaned.get("email", ""), cleaned.get("phones", []), settings,
                       cleaned["custom"], fields)
    return Prepared(cleaned, scope_for(project.pk, settings), keys,
                    stage or first_open_stage(project))


def ingest(
    project: Project,
    data: LeadInput,
    *,
    actor: Actor,
    source: Source,
    pool: Pool,
    owner=None,
    on_duplicate: OnDuplicate = "reject",
    merge_check: Callable[[Lead], None] | None = None,
    reason: str = "",
    batch_id: uuid.UUID | None = None,
    bucket=None,
    prepared: Prepared | None = None,
    route: bool = False,
    client=None,
    rules: list | None = None,
    savepoint: bool = True,
    retry: bool = True,
) -> IngestResult:
    """Validate and normalize `data`, derive its duplicate keys, and create the lead — or report
    the lead it duplicates (`reject`), fill that lead's blanks with the new values (`merge`, after
    `merge_check` allowed it), or create a second lead holding non-canonical keys (`keep_both`).

    The keys are claimed in the creating transaction under a partial unique index: when a
    concurrent caller claims one first, the insert fails, the savepoint rolls back and the
    lookup runs again, so one person never becomes two leads.

    With `client` (an upsell lead of an existing client) there is no duplicate check: the new
    lead links to the client and holds all its keys non-canonically.

    With `route` and no `owner`, the router picks the new lead's owner and pool in the creating
    transaction (direct-to-user, then distribution rules; `rules`, the project's active rules
    as the caller keeps them, spare reading them).

    A caller that runs ingest inside a savepoint of its own, and rolls back to it on any error,
    passes `savepoint=False` to spare a second one. A caller that runs ingest in a transaction
    it retries as a whole passes `retry=False` as well: no savepoint is taken at all, and a lost
    race for a key raises KeyRace, after which that transaction can only roll back.

    Timeline: LEAD_CREATED (and LEAD_ROUTED when routed) on the new lead, DUPLICATE_MERGED on a
    merged-into lead, CLIENT_LEAD_ADDED on the client of an upsell lead.
    Errors: ValidationFailed (fields), Conflict (no open stage, keys still contended).
    """
    prepared = prepared or prepare(project, data)
    cleaned, scope, keys, stage = (
        prepared.cleaned, prepared.scope, prepared.keys, prepared.stage
    )
    for _attempt in range(ATTEMPTS if retry else 1):
        with transaction.atomic(savepoint=savepoint):
            matches, holders = _find_matches(scope, keys) if client is None else ([], {})
            if matches and on_duplicate != "keep_both":
                if on_duplicate == "reject":
                    return IngestResult(duplicate_of=holders[matches[0]["lead"]],
                                        matches=matches, cleaned=cleaned)
                target = Lead.objects.get(pk=matches[0]["lead"])
                if merge_check is not None:
                    merge_check(target)
                _merge_into(target, cleaned, scope, keys, matches, actor=actor, batch_id=batch_id)
                return IngestResult(lead=target, merged=True, duplicate_of=target, matches=matches,
                                    cleaned=cleaned)
            try:
                with transaction.atomic(savepoint=retry):
                    lead = _create(
                        project, cleaned, data, scope, keys, matches,
                        actor=actor, source=source, pool=pool, owner=owner, stage=stage,
                        reason=reason, batch_id=batch_id, bucket=bucket, route=route,
                        client=client,
                        rules=rules,
                    )
            except IntegrityError:
                if not retry:
                    raise KeyRace from None
                continue  # a concurrent caller claimed one of the keys first: look again
            duplicate_of = holders[matches[0]["lead"]] if matches else None
            return IngestResult(lead=lead, created=True, duplicate_of=duplicate_of, matches=matches,
                                cleaned=cleaned)
    raise KeyRace


def find_canonical(scope: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Lead ids holding any of `keys` canonically: one prepared query per kind and 500 values
    through the canonical unique index (on PostgreSQL one statement for any number of
    values, `= ANY`; SQLite takes them listed)."""
    wanted: dict[str, list[str]] = {}
    for kind, value in dict.fromkeys(keys):
        wanted.setdefault(kind, []).append(value)
    found: dict[tuple[str, str], int] = {}
    postgres = connection.vendor == "postgresql"
    for kind, values in wanted.items():
        for start in range(0, len(values), CANONICAL_CHUNK):
            chunk = values[start:start + CANONICAL_CHUNK]
            rows = fetch(_canonical_sql(postgres, 0 if postgres else len(chunk)),
                         [scope, kind, chunk] if postgres else [scope, kind, *chunk])
            found.update(((kind, value), lead_id) for value, lead_id in rows)
    return found


CANONICAL_CHUNK = 500


@functools.lru_cache(maxsize=64)
def _canonical_sql(postgres: bool, n: int) -> str:
    """The canonical holders of one kind's values: an array parameter on PostgreSQL, `n`
    listed on SQLite. Column names come from the model."""
    quote = connection.ops.quote_name
    values = "= ANY(%s)" if postgres else f"IN ({', '.join(['%s'] * n)})"
    return (
        f"SELECT {quote('value')}, {quote('lead_id')} "
        f"FROM {quote(DuplicateKey._meta.db_table)} "
        f"WHERE {quote('scope')} = %s AND {quote('kind')} = %s AND {quote('canonical')} "
        f"AND {quote('value')} {values}"
    )


HOLDER_FIELDS = ["id", "project_id", "name"]


def _find_matches(scope: str, keys: list[tuple[str, str]]) -> tuple[list[dict], dict[int, Lead]]:
    """The canonical holders of `keys`, in key order, with each holding lead (its id, project
    and name loaded; other fields load on access). One statement: `kind IN (…) AND value IN
    (…)` seeks the canonical unique index once per combination (an OR of pairs would make both
    planners scan the scope); combinations that are no key are dropped here."""
    if not keys:
        return [], {}
    kinds, values = list(dict.fromkeys(k for k, _ in keys)), list(dict.fromkeys(v for _, v in keys))
    quote = connection.ops.quote_name
    sql = (
        f"SELECT k.kind, k.value, l.id, l.project_id, l.name "
        f"FROM {quote(DuplicateKey._meta.db_table)} k "
        f"JOIN {quote(Lead._meta.db_table)} l ON l.id = k.lead_id "
        f"WHERE k.scope = %s AND k.canonical AND k.kind IN ({', '.join(['%s'] * len(kinds))}) "
        f"AND k.value IN ({', '.join(['%s'] * len(values))})"
    )
    rows = fetch(sql, [scope, *kinds, *values])
    found = {(kind, value): lead_id for kind, value, lead_id, _project, _name in rows}
    holders = {row[2]: Lead.from_db(connection.alias, HOLDER_FIELDS, row[2:]) for row in rows}
    matches = [
        {"kind": kind, "value": value, "lead": found[(kind, value)]}
        for kind, value in keys
        if (kind, value) in found
    ]
    return matches, holders


def facts_of(cleaned: dict, data: LeadInput, *, source, bucket) -> LeadFacts:
    """What distribution rules look at in an incoming person."""
    return LeadFacts(
        source_id=source.pk, bucket_id=bucket.pk if bucket is not None else None,
        country=cleaned.get("country", ""), language=cleaned.get("language", ""),
        custom=dict(cleaned.get("custom") or {}),
    )


def routed_owner(decision: Decision, pool: Pool, router: Router):
    """The owner (a User carrying its id and e-mail, enough to store and describe the lead)
    and the pool a router decision names."""
    if decision.pool is not None:
        pool = decision.pool
    if decision.owner_id is None:
        return None, pool
    return User(pk=decision.owner_id, email=router.emails.get(decision.owner_id, "")), pool


def notify_routed(routed: list[tuple[Lead, Decision]]) -> None:
    """Tell each agent routing gave a lead to, in the transaction that created it."""
    accounts.notify_each(
        (decision.owner_id, "lead_assigned", f"Lead {lead.name} was routed to you.",
         lead.project_id, lead.pk)
        for lead, decision in routed if decision.owner_id is not None
    )


def new_lead(project, cleaned, data, *, source, pool, owner, stage, bucket, now) -> Lead:
    """An unsaved lead of validated values (shared by single and bulk creation). Related rows
    are given by id, their objects put in the lead's cache: the same lead as assigning them,
    at a fraction of the cost (each assignment runs a descriptor's checks)."""
    lead = build(
        Lead,
        project_id=project.pk,
        name=cleaned["name"],
        email=cleaned.get("email", ""),
        email_key=cleaned.get("email", "").casefold(),
        phones=cleaned.get("phones", []),
        company=cleaned.get("company", ""),
        timezone=cleaned.get("timezone", ""),
        country=cleaned.get("country", ""),
        language=cleaned.get("language", ""),
        custom=dict(cleaned.get("custom") or {}),
        source_id=source.pk,
        bucket_id=bucket.pk if bucket is not None else None,
        bucket_label=bucket.label if bucket is not None else "",
        affiliate_id=data.affiliate_id or (bucket.affiliate_id if bucket is not None else ""),
        utm=data.utm,
        pool_id=pool.pk,
        owner_id=owner.pk if owner is not None else None,
        original_owner_id=owner.pk if owner is not None else None,
        assigned_at=now if owner else None,
        stage_id=stage.pk,
        status=stage.status,
        created_at=now,
        updated_at=now,
    )
    lead._state.fields_cache.update(project=project, source=source, bucket=bucket, pool=pool,
                                    owner=owner, original_owner=owner, stage=stage)
    return lead


def created_after(lead: Lead, *, source, pool, stage, owner, bucket) -> dict:
    """The LEAD_CREATED event's `after`."""
    after = {
        "name": lead.name,
        "email": lead.email,
        "phones": lead.phones,
        "company": lead.company,
        "source": source.name,
        "pool": pool.name,
        "stage": stage.name,
        "owner": owner.email if owner else None,
    }
    if lead.custom:
        after["custom"] = lead.custom
    if bucket is not None:
        after["bucket"] = bucket.name
    return after


def _create(
    project, cleaned, data, scope, keys, matches, *, actor, source, pool, owner, stage, reason,
    batch_id, bucket, route=False, client=None, rules=None,
) -> Lead:
    decision = router = None
    if route and owner is None:
        router = Router(project.pk, rules)
        decision = router.decide(facts_of(cleaned, data, source=source, bucket=bucket),
                                 bucket=bucket, source=source, pool=pool)
        owner, pool = routed_owner(decision, pool, router)
    lead = new_lead(project, cleaned, data, source=source, pool=pool, owner=owner, stage=stage,
                    bucket=bucket, now=timezone.now())
    lead.client = client
    insert_row(Lead, lead)
    after = created_after(lead, source=source, pool=pool, stage=stage, owner=owner, bucket=bucket)
    if matches:
        after["kept_beside"] = matches[0]["lead"]
    if client is not None:
        after["client"] = client.pk
    events = [{"kind": TimelineKind.LEAD_CREATED, "actor": actor, "lead": lead, "after": after,
               "reason": reason, "batch_id": batch_id}]
    if client is not None:
        events.append({"kind": TimelineKind.CLIENT_LEAD_ADDED, "actor": actor, "client": client,
                       "after": {"lead": lead.pk, "name": lead.name}, "reason": reason,
                       "batch_id": batch_id})
    if decision is not None and (decision.routed or router.rules()):
        events.append({"kind": TimelineKind.LEAD_ROUTED, "actor": actor, "lead": lead,
                       "after": decision.explain, "batch_id": batch_id})
    taken = {(m["kind"], m["value"]) for m in matches}
    # Everything after the lead row only writes: sent together (one round trip on
    # PostgreSQL), inside this transaction, before it ends.
    with batched_writes():
        if router is not None:
            router.flush()
            notify_routed([(lead, decision)])
        elif owner is not None:
            loads.shift(project.pk, {owner.pk: 1})
        insert_tuples(DuplicateKey, KEY_COLUMNS, [
            (scope, k, v, lead.pk, client is None and (k, v) not in taken) for k, v in keys
        ])
        insert_tuples(LeadWord, ["lead_id", "word"], [(lead.pk, w) for w in lead_words(cleaned)])
        timeline.record_many(events)
    transaction.on_commit(lambda: queue_duplicate_checks([lead.pk]))
    return lead


def _merge_into(target: Lead, cleaned, scope, keys, matches, *, actor, batch_id) -> None:
    before, after = {}, {}
    for name in MERGEABLE:
        value = cleaned.get(name)
        if value and not getattr(target, name):
            before[name], after[name] = getattr(target, name), value
            setattr(target, name, value)
    new_phones = [p for p in cleaned.get("phones", []) if p not in target.phones]
    room = 5 - len(target.phones)
    if new_phones and room > 0:
        before["phones"] = list(target.phones)
        target.phones = target.phones + new_phones[:room]
        after["phones"] = target.phones
    filled = {name: value for name, value in (cleaned.get("custom") or {}).items()
              if (target.custom or {}).get(name) is None}
    if filled:
        before["custom"] = dict.fromkeys(filled)
        after["custom"] = filled
        target.custom = {**(target.custom or {}), **filled}
    matched_on = ", ".join(f"{m['kind']} {m['value']}" for m in matches)
    if after:
        if "email" in after:
            target.email_key = target.email.casefold()
        target.updated_at = timezone.now()
        target.save(update_fields=[*after, "email_key", "updated_at"])
        if "name" in after or "company" in after:
            index_words(target, replace=True)
        owned = set(
            DuplicateKey.objects.filter(lead=target).values_list("kind", "value")
        )
        claimed = {(m["kind"], m["value"]) for m in matches}
        current = derive_keys(target.email, target.phones, SystemSettings.load(),
                              target.custom, definitions_of(target.project_id))
        for kind, value in current:
            if (kind, value) in owned:
                continue
            _add_key(scope, kind, value, target, canonical=(kind, value) not in claimed)
    timeline.record(
        TimelineKind.DUPLICATE_MERGED, actor=actor, lead=target, before=before, after=after,
        reason=f"Matched on {matched_on}", batch_id=batch_id,
    )


def _add_key(scope: str, kind: str, value: str, lead: Lead, *, canonical: bool) -> None:
    if canonical:
        try:
            with transaction.atomic():
                DuplicateKey.objects.create(scope=scope, kind=kind, value=value, lead=lead)
            return
        except IntegrityError:
            pass  # another lead holds it canonically: this one keeps a non-canonical copy
    DuplicateKey.objects.create(scope=scope, kind=kind, value=value, lead=lead, canonical=False)
