"""Submissions: each is processed through `ingest` and stored verbatim with its outcome in one
transaction; should processing fail, the raw payload is still stored (left `new`, with the
error), and a crash stores nothing the client was told of; reprocess; the sweep that finishes
submissions left `new`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.db import batched_writes, insert_row, insert_rows, update_row
from leadflow.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from leadflow.crm.contact import LeadInput
from leadflow.intake.models import (
    Bucket,
    BucketCreates,
    Submission,
    SubmissionStatus,
)
from leadflow.intake.payload import normalized_values, read_payload
from leadflow.intake.services.bulk import plan_batch, process_batch, record_outcomes
from leadflow.intake.services.context import BucketContext, context_for, load_context
from leadflow.intake.services.ingest import ATTEMPTS, KeyRace, Prepared, ingest, prepare

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


def _error_of(exc: Exception) -> dict:
    if isinstance(exc, DomainError):
        return {"field": "submission", "code": exc.code, "message": str(exc)}
    return {"field": "submission", "code": "processing_failed",
            "message": f"Processing failed ({type(exc).__name__}); it is retried."}


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
    """Take one submission into an active bucket: process it and store it with its outcome,
    in one transaction, retried as a whole when a concurrent submission claims one of its keys
    first. Should processing fail, the payload is stored `new` with the error in a transaction
    of its own (the sweep retries it) and the error is raised; a crash in between stores
    nothing the client was told of. With an idempotency key, a retry within 24 hours returns
    the first submission unchanged.
    Errors: PermissionDenied (inactive bucket; nothing stored)."""
    _check_active(bucket)
    key = (idempotency_key or "").strip()[:200] or None
    if key and (first := _replayed(bucket, key)) is not None:
        return first
    context = context_for(bucket)
    row = _new_row(context.bucket, payload, channel, key, source)
    failure: Exception | None = None
    plan = None
    try:
        # Reading and validating come before the transaction, which then holds SQLite's write
        # lock only for the writes.
        plan = plan_submission(context, payload)
    except Conflict as exc:
        failure = exc
    attempts = ATTEMPTS if failure is None else 0
    for _attempt in range(attempts):
        try:
            with transaction.atomic():
                _release_keys(context.bucket, [key] if key else [])
                outcome = _outcome(row, context, plan, actor=INTAKE, batch_id=None, retry=False)
                _store_new(row, outcome, actor=INTAKE, bucket=context.bucket)
            return row
        except KeyRace as exc:
            failure = exc  # a concurrent submission claimed a key first: all again
        except IntegrityError:
            first = _replayed(bucket, key) if key else None
            if first is None:
                raise
            return first  # a concurrent retry with the same key stored it first
        except Exception as exc:  # noqa: BLE001 - stored as new below, then raised
            failure = exc
            break
    # Processing failed: the payload is stored `new`, with the error.
    row = _new_row(context.bucket, payload, channel, key, source)
    row.errors = [_error_of(failure)]
    with transaction.atomic():
        _release_keys(context.bucket, [key] if key else [])
        insert_row(Submission, row)
    raise failure


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

    def new_rows() -> list[Submission]:
        return [_new_row(context.bucket, p, channel, keys[i] if keys else None)
                for i, p in enumerate(payloads)]

    rows, batch_id = new_rows(), uuid.uuid4()
    try:
        plans = plan_batch(context, rows)
        with transaction.atomic():
            _release_keys(context.bucket, keys)
            process_batch(context.bucket, rows, actor=INTAKE, batch_id=batch_id, plans=plans)
        return rows
    except KeyRace:
        failure = None  # a concurrent submission claimed a key meanwhile: one at a time below
    except IntegrityError:
        if key and _replayed(bucket, keys[0]) is not None:
            found = {s.idempotency_key: s for s in Submission.objects.filter(
                bucket=bucket, idempotency_key__in=keys)}
            return [found[k] for k in keys if k in found]  # a concurrent retry stored it first
        raise
    except Exception as exc:  # noqa: BLE001 - stored as new below, then raised
        failure = exc
    # Processing failed, or must go one at a time: the payloads are stored `new` first (with the
    # error when there is one), in a transaction of their own.
    rows = new_rows()
    if failure is not None:
        for row in rows:
            row.errors = [_error_of(failure)]
    with transaction.atomic():
        _release_keys(context.bucket, keys)
        insert_rows(Submission, rows, returning=True)
    if failure is not None:
        raise failure
    return [process_submission(row, actor=INTAKE, batch_id=batch_id, bucket=context.bucket)
            for row in rows]


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
    seen_status, seen_attempts = submission.status, submission.attempts
    if seen_status == SubmissionStatus.PROCESSED:
        raise Conflict("This submission was processed already.", code="processed")
    plan = plan or plan_submission(context, submission.raw)
    with transaction.atomic():
        outcome = _outcome(submission, context, plan, actor=actor, batch_id=batch_id)
        outcome["attempts"] = seen_attempts + 1
        changed = update_row(Submission, submission.pk, outcome,
                             where={"status": seen_status, "attempts": seen_attempts})
        if changed != 1:
            raise Conflict("This submission is being processed by someone else.", code="busy")
        for name, value in outcome.items():
            setattr(submission, name, value)
        with batched_writes():
            record_outcomes([submission], bucket=context.bucket, actor=actor, batch_id=batch_id,
                            again=seen_status != SubmissionStatus.DUPLICATE)
    return submission


def _outcome(submission: Submission, context: BucketContext, plan: Plan, *, actor: Actor,
             batch_id: uuid.UUID | None, retry: bool = True) -> dict:
    """Ingest a read payload into the bucket's project (inside the caller's transaction):
    the submission's outcome fields. With `retry=False` a lost key race raises KeyRace."""
    bucket = context.bucket
    lead = duplicate_of = None
    matched: list[dict] = []
    normalized: dict = {}
    errors = plan.errors
    if errors:
        status = SubmissionStatus.REJECTED
    else:
        source = submission.source if submission.source_id else context.source
        try:
            # The caller's transaction rolls back as a whole on any error: no savepoint.
            result = ingest(
                context.project, plan.data, actor=actor, source=source, pool=context.pool,
                route=True, rules=context.rules, bucket=bucket, batch_id=batch_id,
                prepared=plan.prepared, reason=f"Submitted to bucket {bucket.name}",
                savepoint=False, retry=retry,
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
    return {
        "status": status, "errors": errors, "lead": lead, "duplicate_of": duplicate_of,
        "matched": matched, "normalized": normalized_values(plan.data, normalized, bucket),
        "attempts": 1, "processed_at": timezone.now(),
    }


def _store_new(row: Submission, outcome: dict, *, actor: Actor, bucket: Bucket) -> None:
    """Insert a new submission with its outcome, its attempt and what it recorded."""
    for name, value in outcome.items():
        setattr(row, name, value)
    insert_row(Submission, row)
    with batched_writes():
        record_outcomes([row], bucket=bucket, actor=actor, batch_id=None)


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

