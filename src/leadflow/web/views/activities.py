"""Working a lead from the web: the lead page's activity panel (log a call, note or e-mail;
set or clear the next call) and "My day", the user's own open leads by next call."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from leadflow.activities import services
from leadflow.activities.selectors import activities_of
from leadflow.core.errors import Conflict, ValidationFailed
from leadflow.crm.access import can, get_lead_for, leads_visible_to
from leadflow.crm.selectors import timeline_for
from leadflow.projects.access import active_call_outcomes
from leadflow.projects.models import OPEN_STATUSES
from leadflow.web.forms_work import ActivityForm, NextCallForm
from leadflow.web.views.base import copy_errors, ui_view, wants_partial

PANEL_ACTIVITIES = 10
TIMELINE_PAGE = 20
MY_DAY_LIMIT = 200


def panel_context(actor, lead, *, activity_form=None, next_form=None, error="") -> dict:
    """What the lead page's activity panel shows."""
    activities, more = activities_of(lead, limit=PANEL_ACTIVITIES)
    return {
        "lead": lead,
        "activities": activities,
        "more_activities": bool(more),
        "can_work": can(actor, lead, "change"),
        "activity_form": activity_form or ActivityForm(project_id=lead.project_id),
        "next_form": next_form or NextCallForm.for_lead(lead),
        "panel_error": error,
        "now": timezone.now(),
    }


def _back(request, lead):
    """Where a plain form post returns: a safe `next` of this site, else the lead page."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  request.is_secure()):
        return redirect(target)
    return redirect("crm:lead_detail", lead.pk)


def _panel(request, actor, lead, **forms):
    context = panel_context(actor, lead, **forms)
    events, next_events = timeline_for(lead, limit=TIMELINE_PAGE, cursor=None)
    context.update({"events": events, "next_events": next_events, "events_paged": False,
                    "refresh_timeline": not forms})
    return render(request, "crm/partials/_activity_panel.html", context)


@require_POST
@ui_view
def activity_log(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "change")
    form = ActivityForm(request.POST, project_id=lead.project_id)
    if form.is_valid():
        kind = form.cleaned_data["kind"]
        try:
            services.log_activity(lead, kind, actor=actor, **form.service_values())
        except ValidationFailed as exc:
            copy_errors(form, exc)
        else:
            label = dict(form.fields["kind"].choices)[kind]
            if not wants_partial(request):
                messages.success(request, f"{label} logged on {lead.name}.")
                return _back(request, lead)
            return _panel(request, actor, lead)
    if not wants_partial(request) and request.POST.get("next"):
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"{lead.name}: {errors}")
        return _back(request, lead)
    return _panel(request, actor, lead, activity_form=form)


@require_POST
@ui_view
def next_call(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "change")
    form = NextCallForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.schedule_next_call(lead, form.chosen(), actor=actor)
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            error = exc.detail
        else:
            if not wants_partial(request):
                messages.success(request, "Next call cleared." if form.chosen() is None
                                 else "Next call scheduled.")
                return _back(request, lead)
            return _panel(request, actor, lead)
    if not wants_partial(request) and request.POST.get("next"):
        messages.error(request, error or "; ".join(
            str(e) for errs in form.errors.values() for e in errs))
        return _back(request, lead)
    return _panel(request, actor, lead, next_form=form, error=error)


@require_GET
@ui_view
def my_day(request, actor):
    """The user's own open leads: overdue calls first, then today's, then upcoming ones, then
    those with no next call yet."""
    now = timezone.now()
    end_of_today = timezone.make_aware(
        datetime.combine(timezone.localdate(now) + timedelta(days=1), time.min))
    mine = leads_visible_to(actor).filter(owner=actor.user, status__in=OPEN_STATUSES,
                                          retired_at__isnull=True).select_related("stage")
    scheduled = list(mine.filter(next_call_at__isnull=False)
                     .order_by("next_call_at", "id")[:MY_DAY_LIMIT])
    unscheduled = list(mine.filter(next_call_at__isnull=True)
                       .order_by("-created_at", "-id")[:50])
    groups = [
        ("overdue", "Overdue", [lead for lead in scheduled if lead.next_call_at <= now]),
        ("today", "Today", [lead for lead in scheduled if now < lead.next_call_at < end_of_today]),
        ("upcoming", "Upcoming", [lead for lead in scheduled if lead.next_call_at >= end_of_today]),
        ("unscheduled", "No next call yet", unscheduled),
    ]
    outcomes = {}
    for lead in scheduled + unscheduled:
        if lead.project_id not in outcomes:
            outcomes[lead.project_id] = active_call_outcomes(lead.project_id)
    rows = [(key, title, [(lead, outcomes[lead.project_id]) for lead in leads])
            for key, title, leads in groups]
    return render(request, "work/my_day.html", {"groups": rows, "now": now})
