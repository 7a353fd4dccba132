"""Processing a batch of submissions with set-based writes: one lookup of existing keys,
multi-row inserts of leads, keys, search words, timeline events and attempts — the same
outcomes, events and rules as processing each submission alone (`process_submission`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.core.db import insert_rows, insert_tuples
from leadflow.core.errors import ValidationFailed
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead, LeadWord
from leadflow.intake.keys import derive_keys
from leadflow.intake.models import (
    Bucket,
    BucketCreates,
    DuplicateKey,
    Submission,
    SubmissionAttempt,
)
from leadflow.intake.models import SubmissionStatus as S
from leadflow.intake.payload import normalized_values, read_payload
from leadflow.intake.services.context import context_for
from leadflow.intake.services.ingest import (
    KeyRace,
    created_after,
    facts_of,
    find_canonical,
    first_open_stage,
    lead_words,
    new_lead,
    notify_routed,
    routed_owner,
    validate_input,
)
from leadflow.intake.tasks import queue_duplicate_checks
from leadflow.projects.models import Source, Stage
from leadflow.routing.services import loads
from leadflow.routing.services.router import Router
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

ATTEMPT_COLUMNS = ["submission_id", "at", "status", "errors", "lead_id_value",
                   "duplicate_of_id_value", "matched", "actor_label"]


def plan_batch(context, rows: list[Submission]) -> list:
    """Read and validate every payload of a batch, before any transaction: per row (row,
    input, cleaned values, errors, keys, search words)."""
    project, settings = context.project, context.settings
    if context.stage is None:
        first_open_stage(project)  # Conflict: the project has no open stage
    plans = []
    for row in rows:
        data, payload_errors = read_payload(row.raw, context.fields)
        cleaned, errors, keys = {}, [e.as_dict() for e in payload_errors], []
        if not errors:
            try:
                cleaned = validate_input(project, data, context.fields)
            except ValidationFailed as exc:
                errors = [e.as_dict() for e in exc.errors]
            else:
                keys = derive_keys(cleaned.get("email", ""), cleaned.get("phones", []), settings,
                                   cleaned["custom"], context.fields)
        plans.append((row, data, cleaned, errors, keys, None if errors else lead_words(cleaned)))
    return plans


def process_batch(bucket: Bucket, rows: list[Submission], *, actor: Actor,
                  batch_id: uuid.UUID, plans: list | None = None) -> None:
    """Process new `rows` (not stored yet) in input order, then store them with their outcomes,
    their attempts and what they recorded, inside the caller's transaction. `plans` are the
    rows' `plan_batch`, when read already. Raises KeyRace when a concurrent writer claimed a
    key meanwhile: the caller's transaction must roll back (and may process the rows one by
    one)."""
    context = context_for(bucket)
    if plans is None:
        plans = plan_batch(context, rows)
    now = timezone.now()
    _write(plans, bucket=context.bucket, project=context.project, scope=context.scope,
           pool=context.pool, stage=context.stage, rules=context.rules, actor=actor,
           reason=f"Submitted to bucket {bucket.name}", batch_id=batch_id, now=now)
    if bucket.creates == BucketCreates.CLIENT:
        from leadflow.clients.services import convert_lead

        for row in rows:
            if row.lead is not None:
                convert_lead(row.lead, actor=actor, reason=f"Bucket {bucket.name} creates clients")
    insert_rows(Submission, rows, returning=True)
    record_outcomes(rows, bucket=context.bucket, actor=actor, batch_id=batch_id)


def _write(plans, *, bucket, project, scope, pool, stage, rules, actor, reason, batch_id, now):
    """Ingest the valid rows of a batch and set every row's outcome."""
    items = [BatchItem(data, cleaned, keys, words=words)
             for _row, data, cleaned, errors, keys, words in plans if not errors]
    try:
        ingest_batch(project, items, scope=scope, pool=pool, stage=stage, source=bucket.source,
                     bucket=bucket, route=True, rules=rules, actor=actor, reason=reason,
                     batch_id=batch_id, now=now)
    except IntegrityError:
        raise KeyRace from None
    by_plan = iter(items)
    for row, data, cleaned, errors, _keys, _words in plans:
        item = None if errors else next(by_plan)
        if item is None:
            status, lead, duplicate_of, matched = S.REJECTED, None, None, []
        elif item.created:
            status, lead, duplicate_of, matched = S.PROCESSED, item.lead, None, []
        else:
            status, lead, duplicate_of = S.DUPLICATE, None, item.duplicate_of
            matched = [{"kind": m["kind"], "value": m["value"], "lead": m["lead"].pk}
                       for m in item.matched]
        outcome = {
            "status": status, "errors": errors, "lead": lead, "duplicate_of": duplicate_of,
            "matched": matched, "normalized": normalized_values(data, cleaned, bucket),
            "attempts": 1, "processed_at": now,
        }
        for name, value in outcome.items():
            setattr(row, name, value)


def record_outcomes(rows: list[Submission], *, bucket, actor, batch_id, again: bool = True
                    ) -> None:
    """The attempt of each stored row's outcome and, for a duplicate (with `again`: not one
    already before this attempt), LEAD_REGISTERED_AGAIN on the lead it duplicates."""
    label = actor.user.email if actor.user else actor.channel
    adapt = connection.ops.adapt_datetimefield_value
    events, attempts = [], []
    for row in rows:
        duplicate_of = row.duplicate_of
        if duplicate_of is not None and again:
            events.append({
                "kind": TimelineKind.LEAD_REGISTERED_AGAIN, "actor": actor, "lead": duplicate_of,
                "after": {"bucket": bucket.name, "submission": row.pk,
                          "matched": [{"rule": m["kind"], "value": m["value"]}
                                      for m in row.matched]},
                "reason": f"Registered again through bucket {bucket.name}",
                "batch_id": batch_id, "occurred_at": row.processed_at,
            })
        attempts.append((
            row.pk, adapt(row.processed_at), row.status, json.dumps(row.errors), row.lead_id,
            row.duplicate_of_id, json.dumps(row.matched), label,
        ))
    timeline.record_many(events)
    insert_tuples(SubmissionAttempt, ATTEMPT_COLUMNS, attempts)


@dataclass
class BatchItem:
    """One validated person of a batch (`data`, its `cleaned` values and duplicate `keys`), with
    an optional source, stage, list and custom values of its own, and its search words when the
    caller computed them already (outside the transaction, or in a worker process).
    `ingest_batch` fills in the
    outcome: `lead` (created, or created beside a duplicate with keep-both), `duplicate_of`
    (the lead it duplicates: an existing one, or one created earlier in the batch) and
    `matched` (`{"kind", "value", "lead"}` per matching key, in key order)."""

    data: LeadInput
    cleaned: dict
    keys: list[tuple[str, str]]
    source: Source | None = None
    words: list[str] | None = None  # the lead's search words, when computed already
    stage: Stage | None = None
    lead: Lead | None = None
    created: bool = False
    duplicate_of: Lead | None = None
    matched: list[dict] = field(default_factory=list)


def ingest_batch(project, items: list[BatchItem], *, scope: str, pool, stage, source, actor,
                 reason: str, batch_id: uuid.UUID, now, bucket=None, route: bool = False,
                 rules: list | None = None, owner=None, keep_both: bool = False,
                 list_id: int | None = None, claimed: dict | None = None,
                 dry_run: bool = False) -> list[Lead]:
    """`ingest` for many people at once, in input order, with set-based writes: one lookup of
    the keys already held (per kind and 500 values, through the canonical unique index), then
    multi-row inserts of the new leads, their keys and search words and their LEAD_CREATED
    (and LEAD_ROUTED) events. An item whose key is held — by an existing lead or by a lead
    created earlier in the batch — is a duplicate of the first holder in key order; with
    `keep_both` it is created anyway, holding the taken keys non-canonically.

    `claimed` (key → new lead) carries the keys of earlier batches that were never written
    (a dry run across batches). With `dry_run` nothing is written: the outcomes are filled in
    and the new leads stay unsaved. Runs inside the caller's transaction; a key claimed
    concurrently raises IntegrityError from the inserts (the caller retries or goes one by
    one). Returns the new leads."""
    existing = find_canonical(scope, [k for item in items for k in item.keys])
    holders = {
        lead.pk: lead for lead in Lead.objects.filter(pk__in=set(existing.values()))
        .only("pk", "project_id", "name", "list_id")
    } if existing else {}
    claimed = {} if claimed is None else claimed
    new: list[Lead] = []
    new_keys: list[tuple[str, str, Lead, bool]] = []
    router = Router(project.pk, rules) if route and owner is None else None
    decisions = []
    for item in items:
        matched, target = [], None
        for key in item.keys:
            holder = holders.get(existing[key]) if key in existing else claimed.get(key)
            if holder is not None:
                matched.append({"kind": key[0], "value": key[1], "lead": holder})
                target = target or holder
        item.matched, item.duplicate_of = matched, target
        if target is not None and not keep_both:
            continue
        item_source, item_stage = item.source or source, item.stage or stage
        lead_owner, lead_pool = owner, pool
        if router is not None and owner is None:
            decision = router.decide(facts_of(item.cleaned, item.data, source=item_source,
                                              bucket=bucket),
                                     bucket=bucket, source=item_source, pool=pool)
            lead_owner, lead_pool = routed_owner(decision, pool, router)
            decisions.append(decision)
        lead = new_lead(project, item.cleaned, item.data, source=item_source, pool=lead_pool,
                        owner=lead_owner, stage=item_stage, bucket=bucket, now=now)
        if item.data.custom:
            lead.custom = dict(item.cleaned.get("custom", item.data.custom))
        lead.list_id = list_id
        taken = {(m["kind"], m["value"]) for m in matched}
        for key in item.keys:
            if key not in taken:
                claimed[key] = lead
            new_keys.append((*key, lead, key not in taken))
        item.lead, item.created = lead, True
        new.append(lead)
    if dry_run or not new:
        return new

    with transaction.atomic():
        insert_rows(Lead, new, returning=True)
        insert_tuples(DuplicateKey, ["scope", "kind", "value", "lead_id", "canonical"],
                      [(scope, k, v, lead.pk, canonical) for k, v, lead, canonical in new_keys])
    if router is not None:
        router.flush()
        notify_routed(list(zip(new, decisions, strict=True)))
    elif owner is not None:
        loads.shift(project.pk, {owner.pk: len(new)})
    insert_tuples(LeadWord, ["lead_id", "word"],
                  [(item.lead.pk, w) for item in items if item.created
                   for w in (item.words if item.words is not None
                             else lead_words(item.cleaned))])
    created_events = []
    for item in items:
        if not item.created:
            continue
        lead = item.lead
        after = created_after(lead, source=item.source or source, pool=lead.pool,
                              stage=item.stage or stage, owner=lead.owner, bucket=bucket)
        if item.matched:
            after["kept_beside"] = item.matched[0]["lead"].pk
        if list_id is not None:
            after["list"] = list_id
        created_events.append((lead.pk, project.pk, lead.name, None, after))
    timeline.record_for_leads(TimelineKind.LEAD_CREATED, created_events, actor=actor,
                              reason=reason, batch_id=batch_id, occurred_at=now)
    if router is not None:
        has_rules = bool(router.rules())
        timeline.record_many(
            {"kind": TimelineKind.LEAD_ROUTED, "actor": actor, "lead": lead, "after": d.explain,
             "batch_id": batch_id, "occurred_at": now}
            for lead, d in zip(new, decisions, strict=True) if d.routed or has_rules
        )
    ids = [lead.pk for lead in new]
    transaction.on_commit(lambda: queue_duplicate_checks(ids))
    return new
