"""Filters of a bucket's submissions table, shared by the API and the UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from leadflow.core.errors import ErrorCollector
from leadflow.core.pagination import Ordering
from leadflow.core.search import prefix_q
from leadflow.crm.models import Lead, unassigned_q
from leadflow.crm.search import word_prefix_q
from leadflow.intake.models import SubmissionStatus

SUBMISSION_ORDERINGS = {
    "-created_at": Ordering("created_at", True, kind="datetime"),
    "created_at": Ordering("created_at", False, kind="datetime"),
}


@dataclass
class SubmissionFilters:
    q: str | None = None
    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    manager: int | None = None
    unassigned: bool | None = None
    ordering: str = "-created_at"


def _lead_q(condition: Q) -> Q:
    """Submissions whose lead — created, or duplicated — matches `condition`."""
    leads = Lead.objects.filter(condition).values("pk")
    return Q(lead_id__in=leads) | Q(duplicate_of_id__in=leads)


def apply_submission_filters(qs: QuerySet, f: SubmissionFilters, *, now=None) -> QuerySet:
    """`q`: digits → submission or lead id; with @ → e-mail prefix; otherwise name words.
    `manager` and `unassigned` look at the lead the submission created or duplicates, with the
    one unassigned predicate of the leads list."""
    errors = ErrorCollector()
    if f.status is not None and f.status not in SubmissionStatus.values:
        errors.add("status", "invalid", f"status is one of {', '.join(SubmissionStatus.values)}.")
    if f.ordering not in SUBMISSION_ORDERINGS:
        errors.add("ordering", "invalid", "ordering is -created_at or created_at.")
    if f.q is not None and (len(f.q) > 200 or "\x00" in f.q):
        errors.add("q", "invalid", "At most 200 characters.")
    errors.raise_if_any()
    now = now or timezone.now()
    text = (f.q or "").strip()
    if text.isdigit() and len(text) < 19:
        qs = qs.filter(Q(pk=int(text)) | Q(lead_id=int(text)) | Q(duplicate_of_id=int(text)))
    elif "@" in text:
        qs = qs.filter(prefix_q("email_key", text.casefold()))
    elif text:
        qs = qs.filter(_lead_q(word_prefix_q(text)) | Q(name__istartswith=text))
    if f.status:
        qs = qs.filter(status=f.status)
    if f.created_after:
        qs = qs.filter(created_at__gte=f.created_after)
    if f.created_before:
        qs = qs.filter(created_at__lt=f.created_before)
    if f.manager is not None:
        qs = qs.filter(_lead_q(Q(owner_id=f.manager)))
    if f.unassigned:
        qs = qs.filter(_lead_q(unassigned_q(now)))
    return qs
