"""Reads of activities shared by the API and the UI."""

from __future__ import annotations

from leadflow.activities.models import Activity
from leadflow.core.pagination import Ordering, paginate
from leadflow.crm.models import Lead

ACTIVITY_ORDER = Ordering("occurred_at", True, kind="datetime")


def activities_of(lead: Lead, *, limit: int, cursor: str | None = None):
    """The lead's activities, newest first, those of leads merged into it included, in keyset
    pages."""
    from leadflow.crm.selectors import lead_ids_of_history

    qs = Activity.objects.filter(lead_id__in=lead_ids_of_history(lead)).select_related(
        "outcome", "actor")
    return paginate(qs, ACTIVITY_ORDER, limit=limit, cursor=cursor)


def activity_out(activity: Activity) -> dict:
    return {
        "id": activity.pk,
        "lead": activity.lead_id,
        "kind": activity.kind,
        "outcome": activity.outcome.name if activity.outcome_id else None,
        "duration_seconds": activity.duration_seconds,
        "body": activity.body,
        "actor": activity.actor_id,
        "channel": activity.channel,
        "occurred_at": activity.occurred_at,
    }
