"""Retired leads (managers of their projects and admins): the leads the sweep or a rule retired,
who had each and when, filtered by project, source and previous owner; each is reassigned
through the assign dialog's service, many at once through the bulk bar."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from leadflow.core.errors import ValidationFailed
from leadflow.core.pagination import paginate
from leadflow.crm.filters import ORDERINGS
from leadflow.crm.services import retirement
from leadflow.projects.models import SystemSettings
from leadflow.web.forms import pool_members
from leadflow.web.forms_retirement import RetiredFilterForm
from leadflow.web.views.base import copy_errors, require_configurer, ui_view, wants_partial

PAGE_SIZE = 50


@require_GET
@ui_view
def retired_list(request, actor):
    require_configurer(actor, "Only managers and admins see retired leads.")
    form = RetiredFilterForm(request.GET)
    form.is_valid()
    rows, next_cursor = [], None
    try:
        leads = retirement.retired_leads_visible_to(actor, form.to_filters(),
                                                    had_it=form.had_it_user())
        rows, next_cursor = paginate(
            leads.select_related("stage", "source", "pool", "project"),
            ORDERINGS["-created_at"], limit=PAGE_SIZE, cursor=request.GET.get("cursor") or None,
        )
    except ValidationFailed as exc:
        copy_errors(form, exc)
    had_it = retirement.last_owners(lead.pk for lead in rows)
    members = {pool_id: pool_members(pool_id) for pool_id in {lead.pool_id for lead in rows}}
    for lead in rows:
        lead.had_it = had_it.get(lead.pk, "")
        lead.candidates = members[lead.pool_id]
    context = {"form": form, "leads": rows, "next_cursor": next_cursor,
               "paged": bool(request.GET.get("cursor"))}
    if wants_partial(request):
        return render(request, "retirement/partials/_retired_table.html", context)
    form.load_choices(actor)
    from leadflow.web.views.ownership import bulk_form

    context["bulk_form"] = bulk_form(actor)
    context["retirement_days"] = SystemSettings.load().retirement_days
    return render(request, "retirement/retired_list.html", context)
