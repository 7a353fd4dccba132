"""Reads of tags shared by the API and the UI."""

from __future__ import annotations

from django.db.models import Prefetch

from leadflow.core.actor import Actor
from leadflow.core.pagination import Ordering
from leadflow.tags.access import change_requests_visible_to, tags_directly
from leadflow.tags.models import ChangeRequest, ChangeState, LeadTag, Tag, TagRule

CHANGE_REQUEST_ORDER = Ordering("created_at", True, kind="datetime")


def with_tags(leads):
    """`leads` with their tags read in one query per page (for lists of leads)."""
    return leads.prefetch_related(
        Prefetch("lead_tags", queryset=LeadTag.objects.select_related("tag"))
    )


def lead_tags(lead) -> list[LeadTag]:
    """The lead's tags, by name (from the prefetch when there is one)."""
    cache = getattr(lead, "_prefetched_objects_cache", {})
    if "lead_tags" in cache:
        rows = list(cache["lead_tags"])
    else:
        rows = list(LeadTag.objects.filter(lead_id=lead.pk).select_related("tag"))
    return sorted(rows, key=lambda row: (row.tag.key, row.tag_id))


def tag_names(lead) -> list[str]:
    return [row.tag.name for row in lead_tags(lead)]


def tags_of_project(project_id: int) -> list[Tag]:
    return list(Tag.objects.filter(project_id=project_id).order_by("key", "id"))


def pending_count_for(user) -> int:
    """How many change requests wait for this user to decide (the approvals badge)."""
    actor = Actor(user, "ui")
    if not user.is_admin and not any(
        tags_directly(actor, pid) for pid in user.memberships_by_project()
    ):
        return 0
    return decidable_by(actor).filter(state=ChangeState.PENDING).count()


def decidable_by(actor: Actor):
    """The change requests of the projects the actor decides for."""
    qs = change_requests_visible_to(actor)
    user = actor.user
    if user is None or user.is_admin:
        return qs
    managed = [pid for pid in user.memberships_by_project() if tags_directly(actor, pid)]
    return qs.filter(project_id__in=managed)


def change_requests_of_lead(lead, *, limit: int = 10) -> list[ChangeRequest]:
    """The lead's latest change requests, pending ones first (the lead page shows them)."""
    rows = (ChangeRequest.objects.filter(lead_id=lead.pk)
            .select_related("tag", "requested_by", "decided_by").order_by("-created_at", "-id"))
    rows = list(rows[:limit])
    return sorted(rows, key=lambda r: r.state != ChangeState.PENDING)


def tag_out(tag: Tag) -> dict:
    return {"id": tag.pk, "project": tag.project_id, "name": tag.name,
            "is_modifiable": tag.is_modifiable}


def change_request_out(request: ChangeRequest) -> dict:
    return {
        "id": request.pk, "lead": request.lead_id, "tag": request.tag_id,
        "tag_name": request.tag.name, "action": request.action, "state": request.state,
        "requested_by": request.requested_by_id, "decided_by": request.decided_by_id,
        "reason": request.reason, "created_at": request.created_at,
        "decided_at": request.decided_at,
    }


def rule_out(rule: TagRule) -> dict:
    return {
        "id": rule.pk, "project": rule.project_id, "tag": rule.tag_id, "action": rule.action,
        "notify_owner": rule.notify_owner, "notify_managers": rule.notify_managers,
        "notify_users": sorted(u.pk for u in rule.notify_users.all()),
        "message": rule.message, "active": rule.active,
    }
