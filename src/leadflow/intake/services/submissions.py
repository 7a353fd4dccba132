"""Submissions: store the raw payload first, then process it through `ingest`; reprocess; the
sweep that finishes submissions a crash left `new`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.intake.models import (
    Bucket,
    BucketCreates,
    Submission,
    SubmissionAttempt,
    SubmissionStatus,
)
from leadflow.intake.payload import normalized_values, read_payload
from leadflow.intake.services.bulk import process_batch
from leadflow.intake.services.ingest import ingest, prepare
from leadflow.projects.models import Pool
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


def _store(bucket: Bucket, rows: list[Submission], keys: list[str]) -> None:
    """Persist raw payloads in their own transaction, before any processing can fail."""
    with transaction.atomic():
        if keys:
            # A key older than the window is free again: the old row lets go of it.
            Submission.objects.filter(
                bucket=bucket, idempotency_key__in=keys,
                created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW,
            ).update(idempotency_key=None)
        Submission.objects.bulk_create(rows)


def submit(
    bucket: Bucket, payload: dict[str, Any], *, channel: str = "api",
    idempotency_key: str | None = None, source=None,
) -> Submission:
    """Take one submission into an active bucket: store it verbatim, then process it. With an
    idempotency key, a retry within 24 hours returns the first submission unchanged.
    Errors: PermissionDenied (inactive bucket; nothing stored)."""
    _check_active(bucket)
    key = (idempotency_key or "").strip()[:200] or None
    if key and (first := _replayed(bucket, key)) is not None:
        return first
    row = _new_row(bucket, payload, channel, key, source)
    try:
        _store(bucket, [row], [key] if key else [])
    except IntegrityError:
        first = _replayed(bucket, key) if key else None
        if first is None:
            raise
        return first  # a concurrent retry with the same key stored it first
    return process_submission(row, actor=INTAKE, bucket=bucket)


def submit_batch(
    bucket: Bucket, payloads: list[dict[str, Any]], *, channel: str = "api",
    idempotency_key: str | None = None,
) -> list[Submission]:
    """Take up to 1,000 submissions: all stored verbatim in one transaction, then processed in
    input order, so a later copy of an earlier item is a duplicate of the lead it created.
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
    rows = [
        _new_row(bucket, p, channel, keys[i] if keys else None) for i, p in enumerate(payloads)
    ]
    _store(bucket, rows, keys)
    batch_id = uuid.uuid4()
    if process_batch(bucket, rows, actor=INTAKE, batch_id=batch_id):
        return rows
    # A concurrent submission claimed a key meanwhile: fall back to one at a time, in order.
    return [process_submission(Submission.objects.get(pk=row.pk), actor=INTAKE,
                               batch_id=batch_id, bucket=bucket) for row in rows]


def process_submission(
    submission: Submission, *, actor: Actor, batch_id: uuid.UUID | None = None,
    bucket: Bucket | None = None,
) -> Submission:
    """Run one processing attempt: read the payload, `ingest` it into the bucket's project,
    and record the outcome (processed, duplicate or rejected) and the attempt. The submission
    row is updated conditionally on the state read, so two processors never both win.

    Timeline: LEAD_CREATED (by ingest) on a new lead; LEAD_REGISTERED_AGAIN on the lead a
    submission duplicates, with the keys that matched. Errors: Conflict (already processed, or
    processed concurrently)."""
    if bucket is None or bucket.pk != submission.bucket_id:
        bucket = Bucket.objects.select_related("project", "source", "default_manager").get(
            pk=submission.bucket_id
        )
    project = bucket.project
    data, payload_errors = read_payload(submission.raw)
    seen_status, seen_attempts = submission.status, submission.attempts
    if seen_status == SubmissionStatus.PROCESSED:
        raise Conflict("This submission was processed already.", code="processed")
    errors = [e.as_dict() for e in payload_errors]
    prepared = None
    if not errors:
        # Validation and reads happen before the transaction, which then holds SQLite's
        # single write lock only for the writes.
        try:
            prepared = prepare(project, data)
        except ValidationFailed as exc:
            errors = [e.as_dict() for e in exc.errors]
        else:
            pool = Pool.objects.get(project=project, is_default=True)
            source = submission.source if submission.source_id else bucket.source
    now = timezone.now()
    with transaction.atomic():
        lead = duplicate_of = None
        matched: list[dict] = []
        normalized: dict = {}
        if errors:
            status = SubmissionStatus.REJECTED
        else:
            try:
                result = ingest(
                    project, data, actor=actor, source=source, pool=pool, route=True,
                    bucket=bucket, batch_id=batch_id, prepared=prepared,
                    reason=f"Submitted to bucket {bucket.name}",
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
            "matched": matched, "normalized": normalized_values(data, normalized, bucket),
            "attempts": seen_attempts + 1, "processed_at": now,
        }
        changed = Submission.objects.filter(
            pk=submission.pk, status=seen_status, attempts=seen_attempts
        ).update(**outcome)
        if changed != 1:
            raise Conflict("This submission is being processed by someone else.", code="busy")
        SubmissionAttempt.objects.create(
            submission=submission, at=now, status=status, errors=errors,
            lead_id_value=lead.pk if lead else None,
            duplicate_of_id_value=duplicate_of.pk if duplicate_of else None, matched=matched,
            actor_label=actor.user.email if actor.user else actor.channel,
        )
        if duplicate_of is not None and seen_status != SubmissionStatus.DUPLICATE:
            timeline.record(
                TimelineKind.LEAD_REGISTERED_AGAIN, actor=actor, lead=duplicate_of,
                after={"bucket": bucket.name, "submission": submission.pk,
                       "matched": [{"rule": m["kind"], "value": m["value"]} for m in matched]},
                reason=f"Registered again through bucket {bucket.name}", batch_id=batch_id,
            )
    for key, value in outcome.items():
        setattr(submission, key, value)
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

