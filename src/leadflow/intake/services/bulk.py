"""Processing a batch of submissions with set-based writes: one lookup of existing keys,
multi-row inserts of leads, keys, search words, timeline events and attempts — the same
outcomes, events and rules as processing each submission alone (`process_submission`)."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.core.db import insert_rows, update_rows
from leadflow.core.errors import ValidationFailed
from leadflow.crm.models import Lead, LeadWord
from leadflow.crm.search import words_of
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
    created_after,
    facts_of,
    find_canonical,
    first_open_stage,
    new_lead,
    notify_routed,
    routed_owner,
    validate_input,
)
from leadflow.intake.tasks import queue_duplicate_checks
from leadflow.routing.services.router import Router
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind


class KeyRace(Exception):
    """A concurrent submission claimed one of the batch's keys first."""


def plan_batch(context, rows: list[Submission]) -> list:
    """Read and validate every payload of a batch, before any transaction: per row (row,
    input, cleaned values, errors, keys)."""
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
        plans.append((row, data, cleaned, errors, keys))
    return plans


def process_batch(bucket: Bucket, rows: list[Submission], *, actor: Actor,
                  batch_id: uuid.UUID, plans: list | None = None) -> bool:
    """Process freshly stored `rows` in input order, in one transaction (a savepoint of the
    caller's). `plans` are the rows' `plan_batch`, when read already. Returns False, having
    changed nothing, when a concurrent writer claimed a key meanwhile: the caller then
    processes the rows one by one."""
    context = context_for(bucket)
    if plans is None:
        plans = plan_batch(context, rows)
    try:
        with transaction.atomic():
            _write(plans, bucket=context.bucket, project=context.project, scope=context.scope,
                   pool=context.pool, stage=context.stage, rules=context.rules, actor=actor,
                   reason=f"Submitted to bucket {bucket.name}", batch_id=batch_id,
                   now=timezone.now())
            if bucket.creates == BucketCreates.CLIENT:
                from leadflow.clients.services import convert_lead

                for row in rows:
                    if row.lead is not None:
                        convert_lead(row.lead, actor=actor,
                                     reason=f"Bucket {bucket.name} creates clients")
    except KeyRace:
        return False
    return True


def _write(plans, *, bucket, project, scope, pool, stage, rules, actor, reason, batch_id, now):
    existing = find_canonical(scope, [k for *_, keys in plans for k in keys])
    existing_leads = {
        lead.pk: lead for lead in Lead.objects.filter(pk__in=set(existing.values()))
        .only("pk", "project_id", "name")
    }
    claimed: dict[tuple[str, str], int] = {}  # key → index of the new lead in `new`
    new: list[Lead] = []
    router, decisions = Router(project.pk, rules), []
    outcomes = []  # (row, status, errors, new index | None, duplicate lead or new index, matched)
    for row, data, cleaned, errors, keys in plans:
        if errors:
            outcomes.append((row, S.REJECTED, errors, None, None, [], data, cleaned))
            continue
        matched, target = [], None
        for key in keys:
            if key in existing:
                matched.append({"kind": key[0], "value": key[1], "lead": existing[key]})
                target = target if target is not None else ("lead", existing[key])
            elif key in claimed:
                matched.append({"kind": key[0], "value": key[1], "new": claimed[key]})
                target = target if target is not None else ("new", claimed[key])
        if target is not None:
            outcomes.append((row, S.DUPLICATE, [], None, target, matched, data, cleaned))
            continue
        decision = router.decide(facts_of(cleaned, data, source=bucket.source, bucket=bucket),
                                 bucket=bucket, source=bucket.source, pool=pool)
        owner, lead_pool = routed_owner(decision, pool, router)
        decisions.append(decision)
        new.append(new_lead(project, cleaned, data, source=bucket.source, pool=lead_pool,
                            owner=owner, stage=stage, bucket=bucket, now=now))
        for key in keys:
            claimed[key] = len(new) - 1
        outcomes.append((row, S.PROCESSED, [], len(new) - 1, None, [], data, cleaned))

    try:
        with transaction.atomic():
            insert_rows(Lead, new, returning=True)
            insert_rows(DuplicateKey, [DuplicateKey(scope=scope, kind=k, value=v, lead=new[i])
                                       for (k, v), i in claimed.items()])
    except IntegrityError:
        raise KeyRace
    router.flush()
    notify_routed(list(zip(new, decisions, strict=True)))
    insert_rows(LeadWord, [LeadWord(lead=lead, word=w) for lead in new
                           for w in sorted(words_of(lead.name, lead.company))])
    events = [
        {"kind": TimelineKind.LEAD_CREATED, "actor": actor, "lead": lead, "reason": reason,
         "batch_id": batch_id, "occurred_at": now,
         "after": created_after(lead, source=bucket.source, pool=lead.pool, stage=stage,
                                owner=lead.owner, bucket=bucket)}
        for lead in new
    ]
    has_rules = bool(new) and bool(router.rules())
    events += [
        {"kind": TimelineKind.LEAD_ROUTED, "actor": actor, "lead": lead, "after": d.explain,
         "batch_id": batch_id, "occurred_at": now}
        for lead, d in zip(new, decisions, strict=True) if d.routed or has_rules
    ]
    rows = []
    for row, status, errors, index, target, matched, data, cleaned in outcomes:
        duplicate_of = None
        if target is not None:
            duplicate_of = existing_leads[target[1]] if target[0] == "lead" else new[target[1]]
            matched = [
                {"kind": m["kind"], "value": m["value"],
                 "lead": m["lead"] if "lead" in m else new[m["new"]].pk}
                for m in matched
            ]
        outcome = {
            "status": status, "errors": errors,
            "lead": new[index] if index is not None else None, "duplicate_of": duplicate_of,
            "matched": matched, "normalized": normalized_values(data, cleaned, bucket),
            "attempts": row.attempts + 1, "processed_at": now,
        }
        for key, value in outcome.items():
            setattr(row, key, value)
        rows.append(row)
    update_rows(Submission, rows, ["status", "errors", "lead", "duplicate_of", "matched",
                                   "normalized", "attempts", "processed_at"])
    label = actor.user.email if actor.user else actor.channel
    attempts = []
    for row in rows:
        duplicate_of = row.duplicate_of
        if duplicate_of is not None:
            events.append({
                "kind": TimelineKind.LEAD_REGISTERED_AGAIN, "actor": actor, "lead": duplicate_of,
                "after": {"bucket": bucket.name, "submission": row.pk,
                          "matched": [{"rule": m["kind"], "value": m["value"]}
                                      for m in row.matched]},
                "reason": f"Registered again through bucket {bucket.name}",
                "batch_id": batch_id, "occurred_at": now,
            })
        attempts.append(SubmissionAttempt(
            submission=row, at=now, status=row.status, errors=row.errors,
            lead_id_value=row.lead_id, duplicate_of_id_value=row.duplicate_of_id,
            matched=row.matched, actor_label=label,
        ))
    timeline.record_many(events)
    insert_rows(SubmissionAttempt, attempts)
    ids = [lead.pk for lead in new]
    if ids:
        transaction.on_commit(lambda: queue_duplicate_checks(ids))
