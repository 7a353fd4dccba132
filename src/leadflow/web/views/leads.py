"""Lead pages: list, detail with timeline and stage control, create, edit, merge, delete."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leadflow.accounts.access import can_configure, has_grant, require
from leadflow.accounts.models import Grant
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.core.pagination import paginate
from leadflow.crm import services
from leadflow.crm.access import can, get_lead_for, leads_visible_to
from leadflow.crm.filters import ORDERINGS, apply_lead_filters
from leadflow.crm.selectors import timeline_for
from leadflow.projects.access import project_for_new_lead, projects_visible_to
from leadflow.projects.fields import definitions_of, display_value
from leadflow.tags.selectors import with_tags
from leadflow.web.forms import (
    ContactForm,
    LeadCreateForm,
    LeadFilterForm,
    LeadMergeForm,
    StageForm,
)
from leadflow.web.views.base import copy_errors, ui_view, wants_partial
from leadflow.web.views.ownership_panel import ownership_context

PAGE_SIZE = 50
TIMELINE_PAGE = 20


def _search_region(actor, project_id):
    """The region national phone numbers in `q` are read with: the chosen or only project's."""
    try:
        return project_for_new_lead(actor, project_id).default_region
    except (ValidationFailed, NotFound):
        return None


@require_GET
@ui_view
def lead_list(request, actor):
    form = LeadFilterForm(request.GET)
    form.is_valid()
    filters = form.to_filters(actor.user)
    rows, next_cursor = [], None
    try:
        region = _search_region(actor, filters.project) if filters.q else None
        leads = apply_lead_filters(leads_visible_to(actor), filters, region=region)
        rows, next_cursor = paginate(
            with_tags(leads.select_related("stage", "owner", "source")),
            ORDERINGS[filters.ordering],
            limit=PAGE_SIZE, cursor=request.GET.get("cursor") or None,
        )
    except ValidationFailed as exc:
        copy_errors(form, exc)
    context = {"form": form, "leads": rows, "next_cursor": next_cursor,
               "paged": bool(request.GET.get("cursor")), "can_bulk": can_configure(actor.user),
               "fresh": bool(filters.fresh)}
    if wants_partial(request):
        return render(request, "crm/partials/_lead_table.html", context)
    form.load_choices(actor)
    if context["can_bulk"]:
        from leadflow.web.views.ownership import bulk_form

        context["bulk_form"] = bulk_form(actor)
    return render(request, "crm/lead_list.html", context)


def detail_context(actor, lead, *, stage_form=None, events_cursor=None, **ownership) -> dict:
    """Everything the lead page shows; `ownership` goes to the ownership panel (its forms
    with errors, an error, the dialog to open)."""
    events, next_events = timeline_for(lead, limit=TIMELINE_PAGE, cursor=events_cursor)
    return {
        **ownership_context(actor, lead, **ownership),
        "lead": lead,
        "stage_form": stage_form or StageForm(
            initial={"stage": lead.stage_id}, project_id=lead.project_id,
            current_id=lead.stage_id,
        ),
        "events": events,
        "next_events": next_events,
        "events_paged": bool(events_cursor),
        "can_change": can(actor, lead, "change"),
        "can_stage": can(actor, lead, "stage"),
        "can_delete": can(actor, lead, "delete"),
        "merge_form": LeadMergeForm(),
        "custom_fields": [
            (d.label, display_value(d, (lead.custom or {}).get(d.name)))
            for d in definitions_of(lead.project_id)
        ],
    }


@require_GET
@ui_view
def lead_detail(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "view")
    context = detail_context(actor, lead, events_cursor=request.GET.get("events") or None)
    return render(request, "crm/lead_detail.html", context)


@require_GET
@ui_view
def lead_timeline(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "view")
    cursor = request.GET.get("cursor") or None
    if not wants_partial(request):
        url = reverse("crm:lead_detail", args=[lead.pk])
        return redirect(f"{url}?events={cursor}#timeline" if cursor else url)
    events, next_events = timeline_for(lead, limit=TIMELINE_PAGE, cursor=cursor)
    context = {"lead": lead, "events": events, "next_events": next_events,
               "events_paged": bool(cursor)}
    return render(request, "crm/partials/_timeline.html", context)


@require_POST
@ui_view
def lead_stage(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "stage")
    form = StageForm(request.POST, project_id=lead.project_id, current_id=lead.stage_id)
    if form.is_valid():
        try:
            lead = services.set_stage(
                lead, form.chosen_stage(), actor=actor,
                lost_reason=form.cleaned_data["lost_reason"], reason=form.cleaned_data["reason"],
            )
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except (PermissionDenied, Conflict) as exc:
            # The lead itself was allowed (checked above): what is refused is this move.
            form.add_error(None, exc.detail)
        else:
            if not wants_partial(request):
                messages.success(request, f"Stage changed to {lead.stage.name}.")
                return redirect("crm:lead_detail", lead.pk)
            form = None
    context = detail_context(actor, lead, stage_form=form)
    if wants_partial(request):
        context["refresh_timeline"] = form is None
        return render(request, "crm/partials/_pipeline.html", context)
    return render(request, "crm/lead_detail.html", context)


def _optional_id(raw: str | None) -> int | None:
    """An id typed into a URL or form; junk names nothing, like a missing object."""
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise NotFound("Not found.")


@ui_view
def lead_create(request, actor):
    data = request.POST if request.method == "POST" else None
    try:
        project = project_for_new_lead(
            actor, _optional_id((data or request.GET).get("project"))
        )
    except ValidationFailed:
        projects = projects_visible_to(actor)
        return render(request, "crm/lead_project_choice.html", {"projects": projects})
    require(actor, Grant.CREATE_LEAD, project.pk)
    manages = has_grant(actor, project.pk, Grant.MANAGE_LEADS)
    for_client = _upsell_client(actor, (data or request.GET).get("client"), project)
    form = LeadCreateForm(data, project=project, manages=manages)
    duplicate_of = None
    if data is not None and form.is_valid():
        try:
            result = services.create_lead(
                project, form.lead_input(), actor=actor, owner=form.chosen_owner(),
                source=form.chosen_source(),
                on_duplicate=form.cleaned_data["on_duplicate"] or "reject", client=for_client,
            )
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            if exc.code == "duplicate":
                duplicate_of = exc.extra["duplicate_of"]
            else:
                messages.error(request, exc.detail)
        except PermissionDenied as exc:
            # Merging needs the right to change the existing lead; keep-both is still open.
            messages.error(request, exc.detail)
            duplicate_of = _optional_id(data.get("duplicate_of"))
        else:
            if result.merged:
                messages.success(request, f"Merged into lead #{result.lead.pk}.")
            else:
                messages.success(request, "Lead created.")
            return redirect("crm:lead_detail", result.lead.pk)
    context = {"form": form, "project": project, "duplicate_of": duplicate_of,
               "several_projects": projects_visible_to(actor)[1:2].exists(),
               "for_client": for_client}
    return render(request, "crm/lead_form.html", context)


def _upsell_client(actor, raw: str | None, project):
    """The client a new lead is an upsell of (`?client=` from the client's page), if any."""
    client_id = _optional_id(raw)
    if client_id is None:
        return None
    from leadflow.clients.access import get_client_for

    client = get_client_for(actor, client_id, "view")
    if client.project_id != project.pk:
        raise NotFound("Client not found.")
    return client


@ui_view
def lead_edit(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "change")
    data = request.POST if request.method == "POST" else None
    definitions = definitions_of(lead.project_id)
    form = ContactForm(data, initial=ContactForm.initial_from(lead, definitions),
                       definitions=definitions)
    duplicate_of = None
    if data is not None and form.is_valid():
        try:
            services.update_lead(lead, form.contact(), actor=actor)
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            messages.error(request, exc.detail)
            duplicate_of = exc.extra.get("duplicate_of")
        else:
            messages.success(request, "Lead saved.")
            return redirect("crm:lead_detail", lead.pk)
        lead.refresh_from_db()
    context = {"form": form, "lead": lead, "duplicate_of": duplicate_of}
    return render(request, "crm/lead_form.html", context)


@ui_view
def lead_delete(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "delete")
    if request.method == "POST":
        services.delete_lead(lead, actor=actor)
        messages.success(request, f"Lead #{lead_id} deleted.")
        return redirect("crm:lead_list")
    return render(request, "crm/lead_delete.html", {"lead": lead})


@require_POST
@ui_view
def lead_merge(request, actor, lead_id: int):
    """Merge this lead into another one (managers); the survivor's page follows."""
    lead = get_lead_for(actor, lead_id, "manage")
    form = LeadMergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the number of the lead to merge into.")
        return redirect("crm:lead_detail", lead.pk)
    into_id = form.cleaned_data["into"]
    try:
        into = get_lead_for(actor, into_id, "manage")
        survivor = services.merge_leads(lead, into, actor=actor)
    except NotFound:
        messages.error(request, f"Lead #{into_id} not found.")
    except ValidationFailed as exc:
        messages.error(request, " ".join(error.message for error in exc.errors))
    except (Conflict, PermissionDenied) as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Lead #{lead.pk} merged into lead #{survivor.pk}.")
        return redirect("crm:lead_detail", survivor.pk)
    return redirect("crm:lead_detail", lead.pk)
