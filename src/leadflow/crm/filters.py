"""Lead filters and ordering, shared by the API and the UI."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from leadflow.core.errors import ErrorCollector
from leadflow.core.normalize import fold, phone_search_prefix
from leadflow.core.pagination import Ordering
from leadflow.core.search import prefix_q
from leadflow.crm.models import LeadQuerySet, unassigned_q
from leadflow.crm.search import word_prefix_q
from leadflow.intake.models import DuplicateKey, KeyKind
from leadflow.projects.models import Status

ORDERINGS = {
    "-created_at": Ordering("created_at", True, kind="datetime"),
    "created_at": Ordering("created_at", False, kind="datetime"),
    "next_call_at": Ordering("next_call_at", False, nullable=True, kind="datetime"),
    "-last_activity_at": Ordering("last_activity_at", True, nullable=True, kind="datetime"),
    "name": Ordering("name", False),
}


@dataclass
class LeadFilters:
    """Every lead filter of DESIGN §4; None means not filtered."""

    q: str | None = None
    project: int | None = None
    status: str | None = None
    stage: int | None = None
    source: int | None = None
    owner: int | None = None
    pool: int | None = None
    tag: str | None = None
    unassigned: bool | None = None
    retired: bool | None = None
    list: int | None = None
    bucket: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    next_call_before: datetime | None = None
    ordering: str = "-created_at"

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def check_filters(f: LeadFilters) -> None:
    errors = ErrorCollector()
    if f.status is not None and f.status not in Status.values:
        errors.add("status", "invalid", f"status must be one of {', '.join(Status.values)}.")
    if f.ordering not in ORDERINGS:
        errors.add("ordering", "invalid", f"ordering must be one of {', '.join(ORDERINGS)}.")
    if f.q is not None and len(f.q) > 200:
        errors.add("q", "too_long", "At most 200 characters.")
    elif f.q is not None and "\x00" in f.q:
        # PostgreSQL text cannot hold NUL: refused here rather than failing in the query.
        errors.add("q", "invalid", "q cannot contain a NUL character.")
    errors.raise_if_any()


def search_q(q: str, region: str | None) -> Q:
    """The `q` rules: digits → id; leading + or 0 → phone prefix; @ → e-mail prefix;
    otherwise word prefix on name and company."""
    text = q.strip()
    compact = text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if text.startswith(("+", "0")) and compact.lstrip("+").isdigit():
        prefix = phone_search_prefix(compact, region)
        keys = DuplicateKey.objects.filter(prefix_q("value", prefix), kind=KeyKind.PHONE)
        return Q(pk__in=keys.values("lead_id"))
    if compact.isdigit():
        return Q(pk=int(compact)) if len(compact) < 19 else Q(pk__in=[])
    if "@" in text:
        return prefix_q("email_key", text.casefold())
    if not fold(text).strip():
        return Q()
    return word_prefix_q(text)


def apply_lead_filters(qs: LeadQuerySet, f: LeadFilters, *, region: str | None = None,
                       now=None) -> LeadQuerySet:
    check_filters(f)
    now = now or timezone.now()
    if f.q:
        qs = qs.filter(search_q(f.q, region))
    simple = {
        "project_id": f.project, "status": f.status, "stage_id": f.stage,
        "source_id": f.source, "owner_id": f.owner, "pool_id": f.pool,
        "created_at__gte": f.created_after, "created_at__lt": f.created_before,
        "next_call_at__lt": f.next_call_before,
    }
    qs = qs.filter(**{k: v for k, v in simple.items() if v is not None})
    if f.unassigned is not None:
        qs = qs.filter(unassigned_q(now)) if f.unassigned else qs.exclude(unassigned_q(now))
    if f.retired is not None:
        qs = qs.filter(retired_at__isnull=not f.retired)
    if f.bucket is not None:
        qs = qs.filter(bucket_id=f.bucket)
    # Tags and lists are not in this release: no lead carries one yet.
    if f.tag is not None or f.list is not None:
        qs = qs.none()
    return qs
