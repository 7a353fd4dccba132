"""Presentation helpers of the web UI templates."""

from __future__ import annotations

from django import template

from leadflow.timeline.models import TimelineKind

register = template.Library()

FIELD_LABELS = {"kept_beside": "kept beside lead", "lost_reason": "lost reason"}


@register.filter
def kind_label(kind: str) -> str:
    try:
        return TimelineKind(kind).label
    except ValueError:
        return kind.replace("_", " ").capitalize()


def _show(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@register.filter
def changes(event) -> list[dict]:
    """The changed fields of an event: name, the value before (when there was one) and after."""
    before, after = event.before or {}, event.after or {}
    rows = []
    for key in dict.fromkeys([*before, *after]):
        rows.append({
            "field": FIELD_LABELS.get(key, key.replace("_", " ")),
            "had_before": key in before,
            "before": _show(before.get(key)),
            "after": _show(after.get(key)),
        })
    return rows


@register.filter
def widget_kind(bound_field) -> str:
    """How the shared field template lays a field out: checkbox, choices (many boxes), input."""
    widget = bound_field.field.widget
    if getattr(widget, "input_type", "") == "checkbox":
        return "choices" if getattr(widget, "allow_multiple_selected", False) else "checkbox"
    if getattr(widget, "input_type", "") == "hidden":
        return "hidden"
    return "input"
