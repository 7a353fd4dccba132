"""Presentation helpers of the web UI templates."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html

from leadflow.timeline.models import TimelineKind

register = template.Library()

FIELD_LABELS = {
    "kept_beside": "kept beside lead",
    "lost_reason": "lost reason",
    "merged_into": "merged into",
    "merged_lead": "merged in",
    "other_lead": "other lead",
    "matched": "matched on",
    "submission": "submission",
    "affiliate_id": "affiliate ID",
    "utm": "UTM",
    "email": "e-mail",
    "client_name": "client name",
    "existing_client": "into an existing client",
    "bucket_label": "bucket label",
}
# Values naming another lead, shown as "#N"; those naming a lead that still stands are linked
# (a merged-away lead has no page of its own: its history is read through the survivor).
LEAD_REFERENCES = {"kept_beside", "merged_into", "merged_lead", "other_lead", "lead"}
LINKED_REFERENCES = {"kept_beside", "merged_into", "other_lead", "lead"}
# Kinds whose title names the other lead: (title with {link}, the key holding its id).
TITLED_KINDS = {
    TimelineKind.LEAD_MERGED_INTO: ("Merged into lead {link}", "merged_into"),
    TimelineKind.LEADS_MERGED: ("Lead {link} merged into this one", "merged_lead"),
    TimelineKind.POSSIBLE_DUPLICATE_DISMISSED: ("Marked not a duplicate of lead {link}",
                                                "other_lead"),
}


@register.filter
def kind_label(kind: str) -> str:
    try:
        return TimelineKind(kind).label
    except ValueError:
        return kind.replace("_", " ").capitalize()


def lead_link(key: str, lead_id: int) -> str:
    if key in LINKED_REFERENCES:
        return format_html('<a href="{}">#{}</a>', reverse("crm:lead_detail", args=[lead_id]),
                           lead_id)
    return format_html("#{}", lead_id)


@register.filter
def event_title(event) -> str:
    """The event's kind in words; merges and dismissals name the other lead."""
    titled = TITLED_KINDS.get(event.kind)
    lead = _lead_id((event.after or {}).get(titled[1])) if titled else None
    if lead is None:
        return kind_label(event.kind)
    return format_html(titled[0], link=lead_link(titled[1], lead))


@register.filter
def match_text(match) -> str:
    """One matched duplicate key (`{"kind"|"rule", "value"}`) as "e-mail ada@example.com"."""
    if not isinstance(match, dict):
        return str(match)
    kind = match.get("kind") or match.get("rule") or "key"
    return f"{FIELD_LABELS.get(kind, kind)} {match.get('value', '')}".strip()


@register.filter
def show_value(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(match_text(v) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    return str(value)


@register.filter
def field_label(key: str) -> str:
    return FIELD_LABELS.get(key, key.replace("_", " "))


def _lead_id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@register.filter
def changes(event) -> list[dict]:
    """The changed fields of an event: name, the value before (when there was one) and after.
    A value naming another lead carries its id (`lead`) so the timeline can link it."""
    before, after = event.before or {}, event.after or {}
    titled = TITLED_KINDS.get(event.kind)
    rows = []
    for key in dict.fromkeys([*before, *after]):
        if titled and key == titled[1] and key not in before:
            continue  # named in the title already
        lead = _lead_id(after.get(key)) if key in LEAD_REFERENCES else None
        rows.append({
            "field": field_label(key),
            "had_before": key in before,
            "before": show_value(before.get(key)),
            "after": lead_link(key, lead) if lead else show_value(after.get(key)),
        })
    return rows


@register.filter
def widget_kind(bound_field) -> str:
    """How the shared field template lays a field out: checkbox, choices (many boxes), input."""
    widget = bound_field.field.widget
    if getattr(widget, "input_type", "") == "checkbox":
        return "choices" if getattr(widget, "allow_multiple_selected", False) else "checkbox"
    if getattr(widget, "input_type", "") == "radio":
        return "choices"
    if getattr(widget, "input_type", "") == "hidden":
        return "hidden"
    return "input"


@register.filter
def recipient_state(recipient, now) -> str:
    """An offer recipient's state as of `now`: pending, waiting, accepted, declined, lapsed,
    closed."""
    return recipient.state(now)
