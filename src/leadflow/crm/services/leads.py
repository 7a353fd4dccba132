"""Use cases of the worked lead: create, edit contact fields, set stage, delete.

Each function checks access, validates, changes rows in one transaction and records its
timeline events in that same transaction."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from leadflow.accounts import access as project_access
from leadflow.accounts.models import Grant
from leadflow.clients.access import clients_visible_to
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ErrorCollector, PermissionDenied, ValidationFailed
from leadflow.crm.access import check_lead_action
from leadflow.crm.contact import CONTACT_FIELDS, LeadInput, clean_contact, require_reachable
from leadflow.crm.models import Lead, LeadWord
from leadflow.crm.search import index_words
from leadflow.intake import services as intake
from leadflow.intake.keys import derive_keys, scope_for
from leadflow.intake.models import DuplicateKey
from leadflow.intake.tasks import queue_duplicate_checks
from leadflow.projects.access import active_lost_reasons
from leadflow.projects.fields import clean_custom, definitions_of
from leadflow.projects.models import (
    OPEN_STATUSES,
    Pool,
    Project,
    Source,
    Stage,
    Status,
    SystemSettings,
)
from leadflow.routing.services import loads
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

MANUAL_SOURCE = "Manual"


def create_lead(
    project: Project,
    data: LeadInput,
    *,
    actor: Actor,
    owner=None,
    source: Source | None = None,
    on_duplicate: intake.OnDuplicate = "reject",
    route: bool = True,
    client=None,
) -> intake.IngestResult:
    """Create a lead by hand. Agents own what they create; managers choose any owner from the
    pool, or leave it to the distribution rules (`route`; unowned in the default pool when no
    rule names anyone). Source defaults to Manual and is stamped for good.

    A duplicate raises Conflict(code="duplicate", duplicate_of=id) unless the caller chose
    `merge` (fill the existing lead's blanks; needs the right to change it) or `keep_both`.
    With `client` (a client of the project the caller may see) the lead is an upsell lead of
    that client: no duplicate check, its keys are held non-canonically.
    Timeline: LEAD_CREATED, or DUPLICATE_MERGED on the existing lead; CLIENT_LEAD_ADDED on the
    client of an upsell lead.
    Errors: PermissionDenied (no create_lead, owner without manage_leads), ValidationFailed
    (fields, `not_in_pool`), Conflict (duplicate).
    """
    project_access.require(actor, Grant.CREATE_LEAD, project.pk)
    manages = project_access.has_grant(actor, project.pk, Grant.MANAGE_LEADS)
    if owner is not None and not manages and owner != actor.user:
        raise PermissionDenied("Only a lead manager may choose the owner.")
    if source is None:
        source = Source.objects.get(project=project, name=MANUAL_SOURCE)
    elif source.project_id != project.pk:
        raise ValidationFailed.one("source", "invalid", "That source is not in this project.")
    if client is not None and (
        client.project_id != project.pk
        or not clients_visible_to(actor).filter(pk=client.pk).exists()
    ):
        raise ValidationFailed.one("client", "invalid", "No such client in this project.")
    if manages:
        pool = _default_pool(project)
    else:
        owner = actor.user
        pool = _pool_of_agent(project, owner)
    if owner is not None and not pool.members.filter(pk=owner.pk).exists():
        raise ValidationFailed.one("owner", "not_in_pool", f"{owner} is not in pool {pool}.")
    result = intake.ingest(
        project, data, actor=actor, source=source, pool=pool, owner=owner,
        on_duplicate=on_duplicate, route=manages and owner is None and route,
        merge_check=lambda lead: check_lead_action(actor, lead, "change"), client=client,
    )
    if result.lead is None:
        raise Conflict(
            f"This person already exists as lead #{result.duplicate_of.pk}.",
            code="duplicate",
            duplicate_of=result.duplicate_of.pk,
        )
    return result


def _default_pool(project: Project) -> Pool:
    return Pool.objects.get(project=project, is_default=True)


def _pool_of_agent(project: Project, user) -> Pool:
    pools = Pool.objects.filter(project=project, members=user).order_by("-is_default", "name")
    pool = pools.first()
    if pool is None:
        raise ValidationFailed.one("pool", "not_in_pool", "You are in no pool of this project.")
    return pool


def update_lead(lead: Lead, changes: dict[str, Any], *, actor: Actor) -> Lead:
    """Change contact fields (name, email, phones, company, timezone, country, language) and
    custom fields (`custom`: the fields named change, a blank or null value clears one; each
    is checked against the project's field definitions, a required field cannot be cleared).

    Ownership, stage, tags, source and project are not changed here. A changed e-mail, phone
    or unique (or primary-key) custom field moves the lead's duplicate keys; one held by
    another lead is Conflict(code="duplicate").
    Timeline: LEAD_UPDATED with before/after of the fields that really changed (`custom` with
    the custom fields that changed, None for a cleared one); nothing when nothing changed.
    Errors: PermissionDenied, ValidationFailed, Conflict.
    """
    check_lead_action(actor, lead, "change")
    errors = ErrorCollector()
    for key in changes:
        if key in ("source", "project"):
            errors.add(key, "immutable", f"{key} cannot be changed.")
        elif key not in CONTACT_FIELDS and key != "custom":
            errors.add(key, "unknown_field", f"'{key}' cannot be changed here.")
    contact = {k: v for k, v in changes.items() if k in CONTACT_FIELDS}
    region = lead.project.default_region
    cleaned = clean_contact(contact, region=region, errors=errors)
    fields = definitions_of(lead.project_id) if changes.get("custom") is not None else []
    custom = clean_custom(changes.get("custom"), fields, region=region, errors=errors,
                          creating=False)
    merged = {k: getattr(lead, k) for k in CONTACT_FIELDS} | cleaned
    require_reachable(merged, errors)
    errors.raise_if_any()
    before = {k: getattr(lead, k) for k, v in cleaned.items() if getattr(lead, k) != v}
    after = {k: cleaned[k] for k in before}
    current = dict(lead.custom or {})
    changed = {name: value for name, value in custom.items() if current.get(name) != value}
    if changed:
        before["custom"] = {name: current.get(name) for name in changed}
        after["custom"] = changed
    if not before:
        return lead
    try:
        with transaction.atomic():
            for key, value in after.items():
                if key != "custom":
                    setattr(lead, key, value)
            if changed:
                lead.custom = {name: value for name, value in {**current, **changed}.items()
                               if value is not None}
            lead.email_key = lead.email.casefold()
            lead.updated_at = timezone.now()
            lead.save(update_fields=[*after, "email_key", "updated_at"])
            if "email" in after or "phones" in after or (
                changed and any(f.keyed for f in fields if f.name in changed)
            ):
                _replace_keys(lead)
            if "name" in after or "company" in after:
                index_words(lead, replace=True)
                # Checked again for possible duplicates under the new name (and its blocks).
                Lead.objects.filter(pk=lead.pk).update(duplicates_checked_at=None)
                transaction.on_commit(lambda: queue_duplicate_checks([lead.pk]))
            timeline.record(TimelineKind.LEAD_UPDATED, actor=actor, lead=lead, before=before,
                            after=after)
    except Conflict:
        lead.refresh_from_db()  # the caller must not keep values the database refused
        raise
    return lead


def _replace_keys(lead: Lead) -> None:
    """Give the lead exactly the keys of its current contact values; a key held canonically by
    another lead is a duplicate and rolls the change back."""
    settings = SystemSettings.load()
    scope = scope_for(lead.project_id, settings)
    wanted = derive_keys(lead.email, lead.phones, settings, lead.custom,
                         definitions_of(lead.project_id))
    current = {(k.kind, k.value): k for k in DuplicateKey.objects.filter(lead=lead)}
    stale = [k.pk for key, k in current.items() if key not in wanted]
    DuplicateKey.objects.filter(pk__in=stale).delete()
    for kind, value in wanted:
        if (kind, value) in current:
            continue
        try:
            with transaction.atomic():
                DuplicateKey.objects.create(scope=scope, kind=kind, value=value, lead=lead)
        except IntegrityError:
            holder = DuplicateKey.objects.get(scope=scope, kind=kind, value=value, canonical=True)
            raise Conflict(
                f"Lead #{holder.lead_id} already has {kind} {value}.",
                code="duplicate",
                duplicate_of=holder.lead_id,
            )


def set_stage(
    lead: Lead, stage: Stage, *, actor: Actor, lost_reason: str = "", reason: str = ""
) -> Lead:
    """Move a lead to `stage` of its project; its status follows the stage.

    Agents (owners) move forward only, or to Converted or Lost; managers move anywhere. Lost
    needs a `lost_reason` naming one of the project's active lost reasons. A retired stage is
    no target. The same stage again changes and records nothing. The update is
    conditional on the stage read, so of two concurrent moves one wins and the other gets 409.
    Timeline: STAGE_CHANGED. Errors: PermissionDenied, ValidationFailed, Conflict.
    """
    check_lead_action(actor, lead, "stage")
    if stage.project_id != lead.project_id:
        raise ValidationFailed.one("stage", "invalid", "That stage is not in the lead's project.")
    lost_reason = (lost_reason or "").strip()
    if stage.pk == lead.stage_id:
        return lead
    if stage.retired:
        raise ValidationFailed.one("stage", "retired", f"Stage {stage.name} is retired.")
    if stage.status == Status.LOST:
        lost_reason = _lost_reason_of(lead.project_id, lost_reason)
    current = lead.stage
    if not project_access.is_manager(actor, lead.project_id) and not _is_forward(current, stage):
        raise PermissionDenied("Agents move a lead forward, or to Lost with a reason.")
    now = timezone.now()
    new_reason = lost_reason if stage.status == Status.LOST else ""
    with transaction.atomic():
        changed = Lead.objects.filter(pk=lead.pk, stage_id=current.pk).update(
            stage=stage, status=stage.status, lost_reason=new_reason, updated_at=now
        )
        if changed != 1:
            raise Conflict("The lead's stage was changed meanwhile; reload and try again.")
        was_open, is_open = current.status in OPEN_STATUSES, stage.status in OPEN_STATUSES
        if lead.owner_id is not None and was_open != is_open:
            loads.shift(lead.project_id, {lead.owner_id: 1 if is_open else -1})
        before = {"stage": current.name, "status": current.status}
        after = {"stage": stage.name, "status": stage.status}
        if new_reason or lead.lost_reason:
            before["lost_reason"], after["lost_reason"] = lead.lost_reason, new_reason
        timeline.record(TimelineKind.STAGE_CHANGED, actor=actor, lead=lead, before=before,
                        after=after, reason=reason)
    lead.refresh_from_db()
    return lead


def _lost_reason_of(project_id: int, given: str) -> str:
    """The name of the project's active lost reason `given` names (any letter case)."""
    if not given:
        raise ValidationFailed.one("lost_reason", "required", "Say why the lead was lost.")
    reasons = {r.name.casefold(): r.name for r in active_lost_reasons(project_id)}
    found = reasons.get(given.casefold())
    if found is None:
        raise ValidationFailed.one(
            "lost_reason", "invalid",
            f"'{given[:100]}' is not a lost reason of this project; choose one of: "
            f"{', '.join(reasons.values())}.",
        )
    return found


def _is_forward(current: Stage, target: Stage) -> bool:
    if current.is_terminal:
        return False
    if target.is_terminal:
        return True
    return target.position > current.position


def delete_lead(lead: Lead, *, actor: Actor, reason: str = "") -> None:
    """Delete a lead for good (managers). Its duplicate keys and search words go with it; its
    timeline is scrubbed of personal data, never deleted, and LEAD_DELETED is recorded without
    personal data. Errors: PermissionDenied."""
    check_lead_action(actor, lead, "delete")
    from leadflow.crm.selectors import lead_ids_of_history

    with transaction.atomic():
        lead_id, project_id = lead.pk, lead.project_id
        # Leads merged into this one are the same person's history: they go with it.
        history = lead_ids_of_history(lead)
        for old_id in history:
            timeline.scrub(old_id)
        Lead.objects.filter(pk__in=history[1:]).update(merged_into=None)
        Lead.objects.filter(pk__in=history[1:]).delete()
        if lead.status in OPEN_STATUSES:
            loads.owned_leads_changed(lead.project_id, [lead.owner_id], -1)
        lead.delete()
        lead.pk, lead.project_id = lead_id, project_id
        timeline.record(TimelineKind.LEAD_DELETED, actor=actor, lead=lead, label="",
                        reason=reason)


def merge_leads(lead: Lead, into: Lead, *, actor: Actor, reason: str = "") -> Lead:
    """Merge `lead` into `into` (managers): the survivor takes the other's duplicate keys, its
    phones (up to five) and the contact and custom values it lacks; the merged-away lead stays
    as history, marked `merged_into`, its timeline read through the survivor. Merging again
    into the same survivor returns it and changes nothing. Open possible-duplicate pairs of the
    two close.

    Timeline: LEADS_MERGED on the survivor, LEAD_MERGED_INTO on the merged-away lead.
    Errors: PermissionDenied, ValidationFailed (same lead, other project), Conflict (either
    lead merged elsewhere meanwhile)."""
    from leadflow.intake.models import PairState, PossibleDuplicate

    check_lead_action(actor, into, "manage")
    check_lead_action(actor, lead, "manage")
    if lead.pk == into.pk:
        raise ValidationFailed.one("into", "same_lead", "A lead cannot be merged into itself.")
    if lead.project_id != into.project_id:
        raise ValidationFailed.one("into", "other_project", "Both leads must be in one project.")
    if lead.merged_into_id == into.pk:
        return into
    if lead.merged_into_id is not None or into.merged_into_id is not None:
        raise Conflict("One of the leads was merged into another lead already.", code="merged")
    now = timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(pk=lead.pk, merged_into__isnull=True).update(
            merged_into=into, updated_at=now
        )
        if won != 1 or Lead.objects.filter(pk=into.pk, merged_into__isnull=False).exists():
            lead.refresh_from_db()
            if lead.merged_into_id == into.pk:
                return into
            raise Conflict("One of the leads was merged meanwhile.", code="merged")
        if lead.status in OPEN_STATUSES:
            loads.owned_leads_changed(lead.project_id, [lead.owner_id], -1)
        before, after = {}, {}
        for name in ("email", "company", "timezone", "country", "language"):
            if getattr(lead, name) and not getattr(into, name):
                before[name], after[name] = getattr(into, name), getattr(lead, name)
                setattr(into, name, getattr(lead, name))
        extra = [p for p in lead.phones if p not in into.phones][: 5 - len(into.phones)]
        if extra:
            before["phones"], after["phones"] = list(into.phones), into.phones + extra
            into.phones = into.phones + extra
        kept = dict(into.custom or {})
        filled = {k: v for k, v in (lead.custom or {}).items() if kept.get(k) is None}
        if filled:
            before["custom"], after["custom"] = dict.fromkeys(filled), filled
            into.custom = {**kept, **filled}
        into.email_key = into.email.casefold()
        into.updated_at = now
        into.save(update_fields=[*after, "email_key", "updated_at"])
        held = set(DuplicateKey.objects.filter(lead=into).values_list("kind", "value"))
        moving = DuplicateKey.objects.filter(lead=lead)
        DuplicateKey.objects.filter(
            pk__in=[k.pk for k in moving if (k.kind, k.value) in held]
        ).delete()
        DuplicateKey.objects.filter(lead=lead).update(lead=into)
        LeadWord.objects.filter(lead=lead).delete()
        if "company" in after:
            index_words(into, replace=True)
        PossibleDuplicate.objects.filter(
            Q(lead_a__in=[lead.pk, into.pk]) & Q(lead_b__in=[lead.pk, into.pk]),
            state=PairState.OPEN,
        ).update(state=PairState.MERGED, decided_by=actor.user, decided_at=now)
        batch = uuid.uuid4()
        timeline.record(TimelineKind.LEADS_MERGED, actor=actor, lead=into, before=before,
                        after={**after, "merged_lead": lead.pk}, reason=reason, batch_id=batch)
        timeline.record(TimelineKind.LEAD_MERGED_INTO, actor=actor, lead=lead,
                        after={"merged_into": into.pk}, reason=reason, batch_id=batch)
    into.refresh_from_db()
    return into
