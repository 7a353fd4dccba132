"""REST routes of intake: submissions into buckets (bucket key), buckets, submissions,
possible duplicates."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import RequestDataTooBig
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from leadflow.accounts.services import count_wrong_credential
from leadflow.core.api import CONFIGURERS, DbId, Instant, actor_of, responses
from leadflow.core.clientaddress import client_address
from leadflow.core.errors import (
    NotFound,
    PermissionDenied,
    TooLarge,
    Unauthenticated,
    ValidationFailed,
)
from leadflow.core.pagination import check_limit, paginate
from leadflow.core.text import unstorable_fields
from leadflow.intake.filters import (
    SUBMISSION_ORDERINGS,
    SubmissionFilters,
    apply_submission_filters,
)
from leadflow.intake.models import Bucket, PairState, Submission
from leadflow.intake.services import buckets as bucket_services
from leadflow.intake.services import duplicates as duplicate_services
from leadflow.intake.services import submissions as submission_services
from leadflow.projects.access import get_project_for

router = Router(tags=["intake"])

MAX_ITEM = 1024 * 1024


class SubmissionResult(Schema):
    id: int
    status: str
    lead: int | None
    client: int | None
    duplicate_of: int | None
    errors: list[dict[str, str]]


class BatchResult(Schema):
    items: list[SubmissionResult]


class SubmissionOut(SubmissionResult):
    bucket: int
    project: int
    channel: str
    name: str
    email: str
    manager: int | None
    affiliate_id: str
    utm: dict[str, Any]
    matched: list[dict[str, Any]]
    attempts: int
    created_at: datetime
    processed_at: datetime | None


class AttemptOut(Schema):
    at: datetime
    status: str
    errors: list[dict[str, str]]
    lead: int | None
    duplicate_of: int | None
    matched: list[dict[str, Any]]
    by: str


class SubmissionDetail(SubmissionOut):
    raw: dict[str, Any]
    normalized: dict[str, Any]
    attempt_log: list[AttemptOut]


class SubmissionPage(Schema):
    items: list[SubmissionOut]
    next_cursor: str | None


class BucketOut(Schema):
    id: int
    project: int
    name: str
    label: str
    source: int
    default_manager: int | None
    affiliate_id: str
    active: bool
    creates: str


class BucketWithKey(BucketOut):
    api_key: str


class BucketIn(Schema):
    model_config = ConfigDict(extra="forbid")

    project: DbId
    name: str
    label: str | None = None
    source: DbId
    default_manager: DbId | None = None
    affiliate_id: str = ""
    active: bool = True
    creates: Literal["lead", "client"] = "lead"


class BucketPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    label: str | None = None
    source: DbId | None = None
    default_manager: DbId | None = None
    affiliate_id: str | None = None
    active: bool | None = None
    creates: Literal["lead", "client"] | None = None


def result_out(s: Submission) -> dict:
    return {"id": s.pk, "status": s.status, "lead": s.lead_id,
            "client": s.lead.client_id if s.lead_id else None,
            "duplicate_of": s.duplicate_of_id, "errors": s.errors}


def submission_out(s: Submission) -> dict:
    target = s.lead if s.lead_id else (s.duplicate_of if s.duplicate_of_id else None)
    normalized = s.normalized or {}
    return result_out(s) | {
        "bucket": s.bucket_id, "project": s.project_id, "channel": s.channel, "name": s.name,
        "email": normalized.get("email") or s.email_key,
        "manager": target.owner_id if target is not None else None,
        "affiliate_id": normalized.get("affiliate_id") or "",
        "utm": normalized.get("utm") or {}, "matched": s.matched, "attempts": s.attempts,
        "created_at": s.created_at, "processed_at": s.processed_at,
    }


def bucket_out(b: Bucket) -> dict:
    return {"id": b.pk, "project": b.project_id, "name": b.name, "label": b.label,
            "source": b.source_id, "default_manager": b.default_manager_id,
            "affiliate_id": b.affiliate_id, "active": b.active, "creates": b.creates}


# --- intake (bucket key) ---------------------------------------------------------------------


def _bucket_of(request, bucket_id: DbId) -> Bucket:
    """The authenticated, active bucket: 401/403 (or 429 after too many wrong keys from the
    client's address) come before anything about the body. Only a failure touches the
    throttle: a correct key costs nothing more."""
    raw_key = request.headers.get("X-Api-Key")
    bucket = bucket_services.authenticate_bucket(bucket_id, raw_key)
    if bucket is None:
        if raw_key:
            count_wrong_credential(client_address(request))
        raise Unauthenticated("A valid X-Api-Key for this bucket is required.")
    if not bucket.active:
        raise PermissionDenied("This bucket is not active; nothing was stored.", code="inactive")
    return bucket


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _check_storable(value) -> None:
    """The raw payload is stored whole: unstorable text anywhere in it refuses the body."""
    if unstorable_fields(value):
        raise ValidationFailed.one("body", "invalid",
                                   "The body contains a NUL character or invalid Unicode.")


def _json_body(request):
    """The parsed body, strict JSON: NaN, Infinity and numbers beyond a double are invalid."""
    try:
        value = json.loads(request.body or b"null", parse_constant=_not_json,
                           parse_float=_finite)
    except RequestDataTooBig:
        raise TooLarge("Request body is too large.")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed.one("body", "invalid_json", "The body is not valid JSON.")
    _check_storable(value)
    return value


@router.post("/intake/{bucket_id}", auth=None,
             response=responses(201, SubmissionResult, 400, 401, 403, 413))
def intake_one(request, bucket_id: DbId):
    bucket = _bucket_of(request, bucket_id)
    payload = _json_body(request)
    if not isinstance(payload, dict):
        raise ValidationFailed.one("body", "not_an_object", "The body must be a JSON object.")
    submission = submission_services.submit(
        bucket, payload, idempotency_key=request.headers.get("Idempotency-Key")
    )
    return Status(201, result_out(submission))


@router.post("/intake/{bucket_id}/batch", auth=None,
             response=responses(201, BatchResult, 400, 401, 403, 413))
def intake_batch(request, bucket_id: DbId):
    bucket = _bucket_of(request, bucket_id)
    payload = _json_body(request)
    if not isinstance(payload, list):
        raise ValidationFailed.one("body", "not_a_list", "The body must be a JSON array.")
    errors = [
        (i, "not_an_object") for i, item in enumerate(payload) if not isinstance(item, dict)
    ]
    if errors:
        raise ValidationFailed.one(f"{errors[0][0]}", "not_an_object",
                                   "Every item must be a JSON object.")
    for index, item in enumerate(payload):
        size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_ITEM:
            raise TooLarge(f"Item {index} is over 1 MB.")
    submissions = submission_services.submit_batch(
        bucket, payload, idempotency_key=request.headers.get("Idempotency-Key")
    )
    return Status(201, {"items": [result_out(s) for s in submissions]})


# --- buckets ---------------------------------------------------------------------------------


@router.get("/buckets", response=responses(200, list[BucketOut], 401))
def list_buckets(request, project: DbId | None = None):
    qs = bucket_services.buckets_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    return [bucket_out(b) for b in qs.order_by("project_id", "name")]


@router.post("/buckets", auth=CONFIGURERS,
             response=responses(201, BucketWithKey, 400, 401, 403, 404, 409))
def create_bucket(request, payload: BucketIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    values = payload.dict(exclude={"project"})
    if values["label"] is None:
        values.pop("label")
    bucket, key = bucket_services.create_bucket(project, actor=actor, **values)
    return Status(201, bucket_out(bucket) | {"api_key": key})


@router.get("/buckets/{bucket_id}", response=responses(200, BucketOut, 401, 404))
def get_bucket(request, bucket_id: DbId):
    return bucket_out(bucket_services.get_bucket_for(actor_of(request), bucket_id))


@router.patch("/buckets/{bucket_id}", auth=CONFIGURERS,
              response=responses(200, BucketOut, 400, 401, 403, 404, 409))
def update_bucket(request, bucket_id: DbId, payload: BucketPatch):
    actor = actor_of(request)
    bucket = bucket_services.get_bucket_for(actor, bucket_id)
    changes = payload.dict(exclude_unset=True)
    return bucket_out(bucket_services.update_bucket(bucket, actor=actor, **changes))


@router.post("/buckets/{bucket_id}/rotate-key", auth=CONFIGURERS,
             response=responses(200, BucketWithKey, 401, 403, 404))
def rotate_key(request, bucket_id: DbId):
    actor = actor_of(request)
    bucket = bucket_services.get_bucket_for(actor, bucket_id)
    key = bucket_services.rotate_bucket_key(bucket, actor=actor)
    return bucket_out(bucket) | {"api_key": key}


class SubmissionQuery(Schema):
    q: str | None = None
    status: str | None = None
    created_after: Instant | None = None
    created_before: Instant | None = None
    manager: DbId | None = None
    unassigned: bool | None = None
    ordering: str = "-created_at"
    limit: int | None = None
    cursor: str | None = None


@router.get("/buckets/{bucket_id}/submissions", response=responses(200, SubmissionPage, 400, 401,
                                                                   404))
def list_submissions(request, bucket_id: DbId, query: Query[SubmissionQuery]):
    bucket = bucket_services.get_bucket_for(actor_of(request), bucket_id)
    values = query.dict()
    limit, cursor = check_limit(values.pop("limit")), values.pop("cursor")
    filters = SubmissionFilters(**values)
    qs = apply_submission_filters(
        Submission.objects.filter(bucket=bucket).select_related("lead", "duplicate_of"), filters
    )
    rows, next_cursor = paginate(qs, SUBMISSION_ORDERINGS[filters.ordering], limit=limit,
                                 cursor=cursor)
    return {"items": [submission_out(s) for s in rows], "next_cursor": next_cursor}


def _submission_for(actor, submission_id: int) -> Submission:
    visible = bucket_services.buckets_visible_to(actor).values("pk")
    submission = (
        Submission.objects.select_related("lead", "duplicate_of")
        .filter(pk=submission_id, bucket_id__in=visible).first()
    )
    if submission is None:
        raise NotFound("Submission not found.")
    return submission


@router.get("/submissions/{submission_id}", response=responses(200, SubmissionDetail, 401, 404))
def get_submission(request, submission_id: DbId):
    s = _submission_for(actor_of(request), submission_id)
    attempts = [
        {"at": a.at, "status": a.status, "errors": a.errors, "lead": a.lead_id_value,
         "duplicate_of": a.duplicate_of_id_value, "matched": a.matched, "by": a.actor_label}
        for a in s.attempt_rows.all()
    ]
    return submission_out(s) | {"raw": s.raw, "normalized": s.normalized,
                                "attempt_log": attempts}


@router.post("/submissions/{submission_id}/reprocess",
             response=responses(200, SubmissionResult, 401, 403, 404, 409))
def reprocess(request, submission_id: DbId):
    actor = actor_of(request)
    submission = _submission_for(actor, submission_id)
    return result_out(submission_services.reprocess_submission(submission, actor=actor))


# --- possible duplicates ---------------------------------------------------------------------


class PairOut(Schema):
    id: int
    project: int
    lead_a: int
    lead_b: int
    names: list[str]
    score: float
    reason: str
    state: str
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


class PairPage(Schema):
    items: list[PairOut]
    next_cursor: str | None


class PairMergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    into: DbId | None = None


def pair_out(p) -> dict:
    return {"id": p.pk, "project": p.project_id, "lead_a": p.lead_a_id, "lead_b": p.lead_b_id,
            "names": [p.lead_a.name, p.lead_b.name], "score": p.score, "reason": p.reason,
            "state": p.state, "decided_by": p.decided_by_id, "decided_at": p.decided_at,
            "created_at": p.created_at}


PAIR_ORDER = SUBMISSION_ORDERINGS["-created_at"]


@router.get("/possible-duplicates", response=responses(200, PairPage, 400, 401))
def list_pairs(request, project: DbId | None = None, state: str = "open",
               limit: int | None = None, cursor: str | None = None):
    qs = duplicate_services.pairs_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    if state != "all":
        if state not in PairState.values:
            raise ValidationFailed.one("state", "invalid",
                                       f"state is all or one of {', '.join(PairState.values)}.")
        qs = qs.filter(state=state)
    rows, next_cursor = paginate(qs, PAIR_ORDER, limit=check_limit(limit), cursor=cursor)
    return {"items": [pair_out(p) for p in rows], "next_cursor": next_cursor}


@router.post("/possible-duplicates/{pair_id}/dismiss", auth=CONFIGURERS,
             response=responses(200, PairOut, 401, 403, 404, 409))
def dismiss_pair(request, pair_id: DbId):
    actor = actor_of(request)
    pair = duplicate_services.get_pair_for(actor, pair_id)
    return pair_out(duplicate_services.dismiss_pair(pair, actor=actor))


@router.post("/possible-duplicates/{pair_id}/merge", auth=CONFIGURERS,
             response=responses(200, dict, 400, 401, 403, 404, 409))
def merge_pair(request, pair_id: DbId, payload: PairMergeIn):
    from leadflow.crm.selectors import lead_out

    actor = actor_of(request)
    pair = duplicate_services.get_pair_for(actor, pair_id)
    return lead_out(duplicate_services.merge_pair(pair, actor=actor, into=payload.into))
