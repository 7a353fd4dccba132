"""Template helpers of tags: the lead page's tags panel and the approvals badge."""

from __future__ import annotations

from django import template

from leadflow.core.actor import Actor
from leadflow.crm.access import can
from leadflow.tags.access import tags_directly
from leadflow.tags.selectors import (
    change_requests_of_lead,
    lead_tags,
    pending_count_for,
    tags_of_project,
)

register = template.Library()


def tags_panel_context(user, lead) -> dict:
    """What the tags panel shows the viewer: the lead's tags with what they may do with each,
    the tags they may add, and the lead's latest change requests."""
    actor = Actor(user, "ui")
    direct = tags_directly(actor, lead.project_id)
    owner = can(actor, lead, "change")
    rows = lead_tags(lead)
    carried = {row.tag_id for row in rows}
    return {
        "lead": lead,
        "tag_rows": [
            {"tag": row.tag, "added_at": row.added_at,
             "removable": direct or owner,
             "asks": not direct and not row.tag.is_modifiable}
            for row in rows
        ],
        "addable": [
            {"tag": tag, "asks": not direct and not tag.is_modifiable}
            for tag in tags_of_project(lead.project_id) if tag.pk not in carried
        ] if direct or owner else [],
        "can_tag": direct or owner,
        "change_requests": change_requests_of_lead(lead),
        "decides": direct,
    }


@register.inclusion_tag("tags/partials/_tags_panel.html", takes_context=True)
def tags_panel(context, lead):
    return {**tags_panel_context(context["user"], lead),
            "csrf_token": context.get("csrf_token"),
            "tag_message": context.get("tag_message"), "tag_error": context.get("tag_error"),
            "oob": context.get("oob_tags")}


@register.simple_tag(takes_context=True)
def pending_approvals(context) -> int | None:
    """How many change requests wait for the user; None when they decide none."""
    user = context["user"]
    if not user.is_authenticated:
        return None
    actor = Actor(user, "ui")
    if not user.is_admin and not any(tags_directly(actor, pid)
                                     for pid in user.memberships_by_project()):
        return None
    return pending_count_for(user)
