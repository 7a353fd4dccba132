"""Working a lead: log a call, a note or an e-mail sent, and schedule the next call.

Who: the lead's owner, or a manager of its project (DESIGN §2, "log activities, next call").
Each function checks access, validates, changes rows in one transaction and records its
timeline event in that same transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from leadflow.activities.models import MEANINGFUL_KINDS, Activity, ActivityKind
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ErrorCollector
from leadflow.crm.access import check_lead_action
from leadflow.crm.models import Lead
from leadflow.projects.models import OPEN_STATUSES, CallOutcome
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

MAX_BODY = 10_000
MAX_DURATION = 24 * 3600


def log_activity(
    lead: Lead, kind: str, *, actor: Actor, outcome: str | int | None = None,
    duration_seconds: int | None = None, body: str = "",
) -> Activity:
    """Log a call (optional outcome from the project's active call outcomes, by name or id;
    optional duration in seconds), a note (its text is required) or an e-mail sent.

    Every kind is meaningful: the lead's `last_activity_at` becomes now, so a fresh lead is
    fresh no more and retirement starts counting again.
    Timeline: ACTIVITY_LOGGED (kind, outcome, duration, activity id).
    Errors: PermissionDenied (not the owner nor a manager), ValidationFailed."""
    check_lead_action(actor, lead, "change")
    errors = ErrorCollector()
    if kind not in ActivityKind.values:
        errors.add("kind", "invalid", "kind is call, note or email.")
    chosen = None
    if outcome is not None and outcome != "":
        if kind != ActivityKind.CALL:
            errors.add("outcome", "not_a_call", "Only a call has an outcome.")
        else:
            chosen = _call_outcome(lead.project_id, outcome, errors)
    if duration_seconds is not None:
        if kind != ActivityKind.CALL:
            errors.add("duration_seconds", "not_a_call", "Only a call has a duration.")
        elif type(duration_seconds) is not int or not 0 <= duration_seconds <= MAX_DURATION:
            errors.add("duration_seconds", "out_of_range",
                       f"A duration is 0 to {MAX_DURATION} seconds.")
    body = (body or "").strip()
    if len(body) > MAX_BODY:
        errors.add("body", "too_long", f"At most {MAX_BODY} characters.")
    elif "\x00" in body:
        errors.add("body", "invalid", "The text cannot contain a NUL character.")
    elif kind == ActivityKind.NOTE and not body:
        errors.add("body", "required", "A note needs its text.")
    errors.raise_if_any()
    now = timezone.now()
    with transaction.atomic():
        activity = Activity.objects.create(
            project_id=lead.project_id, lead=lead, kind=kind, outcome=chosen,
            duration_seconds=duration_seconds, body=body, actor=actor.user,
            channel=actor.channel, occurred_at=now,
        )
        if kind in MEANINGFUL_KINDS:
            Lead.objects.filter(pk=lead.pk).update(last_activity_at=now)
            lead.last_activity_at = now
        after = {"activity": activity.pk, "kind": kind}
        if chosen is not None:
            after["outcome"] = chosen.name
        if duration_seconds is not None:
            after["duration_seconds"] = duration_seconds
        timeline.record(TimelineKind.ACTIVITY_LOGGED, actor=actor, lead=lead, after=after)
    return activity


def _call_outcome(project_id: int, given: str | int, errors: ErrorCollector):
    outcomes = list(CallOutcome.objects.filter(project_id=project_id, active=True))
    if isinstance(given, int) and not isinstance(given, bool):
        found = next((o for o in outcomes if o.pk == given), None)
    else:
        folded = str(given).strip().casefold()
        found = next((o for o in outcomes if o.name.casefold() == folded), None)
    if found is None:
        names = ", ".join(o.name for o in outcomes)
        errors.add("outcome", "invalid",
                   f"Not a call outcome of this project; choose one of: {names}.")
    return found


def schedule_next_call(lead: Lead, next_call_at: datetime | None, *, actor: Actor) -> Lead:
    """Set the lead's next call to a future time, or clear it with None. A time without a zone
    is read in the server's time zone. The same time again changes and records nothing.
    Timeline: NEXT_CALL_SET with before/after. Errors: PermissionDenied, ValidationFailed
    (`in_past`), Conflict (a converted or lost lead gets no next call)."""
    check_lead_action(actor, lead, "change")
    now = timezone.now()
    if next_call_at is not None:
        if timezone.is_naive(next_call_at):
            next_call_at = timezone.make_aware(next_call_at)
        next_call_at = next_call_at.astimezone(UTC)
        if next_call_at <= now:
            errors = ErrorCollector()
            errors.add("next_call_at", "in_past", "The next call must be in the future.")
            errors.raise_if_any()
        if lead.status not in OPEN_STATUSES:
            raise Conflict("A converted or lost lead gets no next call.", code="closed")
    before = lead.next_call_at
    if before == next_call_at:
        return lead
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(next_call_at=next_call_at, updated_at=now)
        timeline.record(
            TimelineKind.NEXT_CALL_SET, actor=actor, lead=lead,
            before={"next_call_at": _iso(before)}, after={"next_call_at": _iso(next_call_at)},
        )
    lead.next_call_at, lead.updated_at = next_call_at, now
    return lead


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
