"""Submissions: each is stored verbatim and processed through `ingest` in one transaction,
the processing inside a savepoint, so a processing failure still stores the raw payload (left
`new`, with the error) and a crash stores nothing the client was told of; reprocess; the sweep
that finishes submissions left `new`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.db import insert_row, insert_rows, update_row
from leadflow.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from leadflow.crm.contact import LeadInput
from leadflow.intake.models import (
    Bucket,
    BucketCreates,
    Submission,
    SubmissionAttempt,
    SubmissionStatus,
)
from leadflow.intake.payload import normalized_values, read_payload
from leadflow.intake.services.bulk import plan_batch, process_batch
from leadflow.intake.services.context import BucketContext, context_for, load_context
from leadflow.intake.services.ingest import Prepared, ingest, prepare
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

IDEMPOTENCY_WINDOW = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=2)
MAX_BATCH = 1000
INTAKE = Actor(None, "intake")


def _check_active(bucket: Bucket) -> None:
    if not bucket.active:
        raise PermissionDenied("This bucket is not active; nothing was stored.", code="inactive")


def _replayed(bucket: Bucket, key: str) -> Submission | None:
    return Submission.objects.filter(
        bucket=bucket, idempotency_key=key, created_at__gte=timezone.now() - IDEMPOTENCY_WINDOW
    ).first()


def _new_row(bucket: Bucket, payload: dict, channel: str, key: str | None,
             source=None) -> Submission:
    email = payload.get("email")
    name = payload.get("name") or " ".join(
        str(payload.get(k) or "") for k in ("first_name", "last_name")
    ).strip()
    return Submission(
        bucket=bucket, project_id=bucket.project_id, channel=channel, raw=payload,
        name=str(name)[:200], email_key=(str(email).strip().casefold()[:254] if email else ""),
        idempotency_key=key, source=source,
    )


def _release_keys(bucket: Bucket, keys: list[str]) -> None:
    """A key older than the window is free again: the old row lets go of it."""
    if keys:
        Submission.objects.filter(
            bucket=bucket, idempotency_key__in=keys,
            created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW,
        ).update(idempotency_key=None)


def _record_failure(row: Submission, exc: Exception) -> None:
    """A stored submission whose processing failed stays `new` (the sweep takes it again),
    with the error."""
    if isinstance(exc, DomainError):
        error = {"field": "submission", "code": exc.code, "message": str(exc)}
    else:
        error = {"field": "submission", "code": "processing_failed",
                 "message": f"Processing failed ({type(exc).__name__}); it is retried."}
    Submission.objects.filter(pk=row.pk).update(errors=[error])
    row.errors = [error]


@dataclass
class Plan:
    """What processing a payload needs, read and validated before any transaction."""

    data: LeadInput
    errors: list[dict]
    prepared: Prepared | None = None


def plan_submission(context: BucketContext, raw: dict) -> Plan:
    """Read and validate a payload. Raises Conflict when the project has no open stage."""
    data, payload_errors = read_payload(raw, context.fields)
    plan = Plan(data, [e.as_dict() for e in payload_errors])
    if not plan.errors:
        try:
            plan.prepared = prepare(context.project, data, settings=context.settings,
                                    stage=context.stage, fields=context.fields)
        except ValidationFailed as exc:
            plan.errors = [e.as_dict() for e in exc.errors]
    return plan


def submit(
    bucket: Bucket, payload: dict[str, Any], *, channel: str = "api",
    idempotency_key: str | None = None, source=None,
) -> Submission:
    """Take one submission into an active bucket: store it verbatim and process it, in one
    transaction. Processing runs in a savepoint: should it fail, the submission is stored
    `new` with the error (the sweep retries it) and the error is raised. With an idempotency
    key, a retry within 24 hours returns the first submission unchanged.
    Errors: PermissionDenied (inactive bucket; nothing stored)."""
    _check_active(bucket)
    key = (idempotency_key or "").strip()[:200] or None
    if key and (first := _replayed(bucket, key)) is not None:
        return first
    context = context_for(bucket)
    row = _new_row(context.bucket, payload, channel, key, source)
    plan = failure = None
    try:
        # Reading and validating come before the transaction, which then holds SQLite's write
        # lock only for the writes.
        plan = plan_submission(context, payload)
    except Conflict as exc:
        failure = exc
    try:
        with transaction.atomic():
            _release_keys(context.bucket, [key] if key else [])
            insert_row(Submission, row)
            if failure is None:
                try:
                    process_submission(row, actor=INTAKE, bucket=context.bucket, plan=plan)
                except Exception as exc:  # noqa: BLE001 - stored as new, raised after commit
                    failure = exc
            if failure is not None:
                _record_failure(row, failure)
    except IntegrityError:
        first = _replayed(bucket, key) if key else None
        if first is None:
            raise
        return first  # a concurrent retry with the same key stored it first
    if failure is not None:
        raise failure
    return row


def submit_batch(
    bucket: Bucket, payloads: list[dict[str, Any]], *, channel: str = "api",
    idempotency_key: str | None = None,
) -> list[Submission]:
    """Take up to 1,000 submissions: stored verbatim and processed in input order, in one
    transaction, so a later copy of an earlier item is a duplicate of the lead it created.
    When processing fails, the submissions are stored `new` with the error, which is raised.
    With an idempotency key, a retry within 24 hours returns the first batch's submissions."""
    _check_active(bucket)
    if len(payloads) > MAX_BATCH:
        raise ValidationFailed.one("body", "too_many", f"At most {MAX_BATCH} submissions.")
    key = (idempotency_key or "").strip()[:190] or None
    keys = [f"{key}#{i}" for i in range(len(payloads))] if key else []
    if key and _replayed(bucket, keys[0] if keys else key) is not None:
        found = {s.idempotency_key: s for s in Submission.objects.filter(
            bucket=bucket, idempotency_key__in=keys)}
        return [found[k] for k in keys if k in found]
    context = context_for(bucket)
    rows = [_new_row(context.bucket, p, channel, keys[i] if keys else None)
            for i, p in enumerate(payloads)]
    batch_id, plans, failure, done = uuid.uuid4(), None, None, False
    try:
        plans = plan_batch(context, rows)
    except Conflict as exc:
        failure = exc
    with transaction.atomic():
        _release_keys(context.bucket, keys)
        insert_rows(Submission, rows, returning=True)
        if failure is None:
            try:
                done = process_batch(context.bucket, rows, actor=INTAKE, batch_id=batch_id,
                                     plans=plans)
            except Exception as exc:  # noqa: BLE001 - stored as new, raised after commit
                failure = exc
        if failure is not None:
            for row in rows:
                _record_failure(row, failure)
    if failure is not None:
        raise failure
    if done:
        return rows
    # A concurrent submission claimed a key meanwhile: process one at a time, in order.
    return [process_submission(Submission.objects.get(pk=row.pk), actor=INTAKE,
                               batch_id=batch_id, bucket=context.bucket) for row in rows]


def process_submission(
    submission: Submission, *, actor: Actor, batch_id: uuid.UUID | None = None,
    bucket: Bucket | None = None, plan: Plan | None = None,
) -> Submission:
    """Run one processing attempt of a stored submission: read the payload (unless `plan`
    holds it read), `ingest` it into the bucket's project, and record the outcome
    (processed, duplicate or rejected) and the attempt. The submission row is updated
    conditionally on the state read, so two processors never both win.

    Timeline: LEAD_CREATED (by ingest) on a new lead; LEAD_REGISTERED_AGAIN on the lead a
    submission duplicates, with the keys that matched. Errors: Conflict (already processed, or
    processed concurrently, or the project has no open stage)."""
    if bucket is not None and bucket.pk == submission.bucket_id:
        context = context_for(bucket)
    else:
        context = load_context(submission.bucket_id)
    bucket = context.bucket
    seen_status, seen_attempts = submission.status, submission.attempts
    if seen_status == SubmissionStatus.PROCESSED:
        raise Conflict("This submission was processed already.", code="processed")
    plan = plan or plan_submission(context, submission.raw)
    errors = plan.errors
    now = timezone.now()
    with transaction.atomic():
        lead = duplicate_of = None
        matched: list[dict] = []
        normalized: dict = {}
        if errors:
            status = SubmissionStatus.REJECTED
        else:
            source = submission.source if submission.source_id else context.source
            try:
                # This block rolls back as a whole on any error: ingest needs no savepoint.
                result = ingest(
                    context.project, plan.data, actor=actor, source=source, pool=context.pool,
                    route=True, rules=context.rules, bucket=bucket, batch_id=batch_id,
                    prepared=plan.prepared, reason=f"Submitted to bucket {bucket.name}",
                    savepoint=False,
                )
            except ValidationFailed as exc:
                status, errors = SubmissionStatus.REJECTED, [e.as_dict() for e in exc.errors]
            else:
                matched, normalized = result.matches, result.cleaned
                if result.created:
                    status, lead = SubmissionStatus.PROCESSED, result.lead
                    if bucket.creates == BucketCreates.CLIENT:
                        from leadflow.clients.services import convert_lead

                        convert_lead(lead, actor=actor, reason=f"Bucket {bucket.name} creates "
                                     "clients")
                else:
                    status, duplicate_of = SubmissionStatus.DUPLICATE, result.duplicate_of
        outcome = {
            "status": status, "errors": errors, "lead": lead, "duplicate_of": duplicate_of,
            "matched": matched, "normalized": normalized_values(plan.data, normalized, bucket),
            "attempts": seen_attempts + 1, "processed_at": now,
        }
        changed = update_row(Submission, submission.pk, outcome,
                             where={"status": seen_status, "attempts": seen_attempts})
        if changed != 1:
            raise Conflict("This submission is being processed by someone else.", code="busy")
        insert_rows(SubmissionAttempt, [SubmissionAttempt(
            submission=submission, at=now, status=status, errors=errors,
            lead_id_value=lead.pk if lead else None,
            duplicate_of_id_value=duplicate_of.pk if duplicate_of else None, matched=matched,
            actor_label=actor.user.email if actor.user else actor.channel,
        )])
        if duplicate_of is not None and seen_status != SubmissionStatus.DUPLICATE:
            timeline.record_many([{
                "kind": TimelineKind.LEAD_REGISTERED_AGAIN, "actor": actor, "lead": duplicate_of,
                "after": {"bucket": bucket.name, "submission": submission.pk,
                          "matched": [{"rule": m["kind"], "value": m["value"]}
                                      for m in matched]},
                "reason": f"Registered again through bucket {bucket.name}",
                "batch_id": batch_id,
            }])
    for name, value in outcome.items():
        setattr(submission, name, value)
    return submission


def reprocess_submission(submission: Submission, *, actor: Actor) -> Submission:
    """Process a `new`, `rejected` or `duplicate` submission again (managers of its project).
    Duplicate rules apply as always. A processed one is Conflict."""
    access.require_manager(actor, submission.project_id)
    return process_submission(submission, actor=actor)


def sweep_new_submissions(*, older_than: timedelta = STALE_AFTER, limit: int = 1000) -> int:
    """Process submissions left `new` (a crash between storing and processing). Safe to run
    from several workers: each row is claimed by a conditional update. Returns how many."""
    cutoff = timezone.now() - older_than
    done = 0
    ids = list(
        Submission.objects.filter(status=SubmissionStatus.NEW, created_at__lt=cutoff)
        .order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    sweeper = Actor(None, "job")
    for submission in Submission.objects.filter(pk__in=ids).order_by("created_at", "pk"):
        try:
            process_submission(submission, actor=sweeper)
        except Conflict:
            continue
        done += 1
    return done

