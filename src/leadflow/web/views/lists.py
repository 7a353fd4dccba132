"""Settings screens of lead lists and campaigns (managers of the project and admins): a
project's lists, one list with its leads (add a contact by hand, take one off), a project's
campaigns, and one campaign with the dual-list picker that assigns and unassigns lists."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from leadflow.accounts.models import User
from leadflow.core.errors import Conflict, NotFound, ValidationFailed
from leadflow.core.normalize import fold
from leadflow.core.pagination import paginate
from leadflow.crm.access import get_lead_for, leads_visible_to
from leadflow.crm.filters import ORDERINGS
from leadflow.lists import services
from leadflow.lists.access import get_campaign_for, get_list_for
from leadflow.lists.selectors import (
    assigned_list_ids,
    campaign_leads,
    campaigns_of_project,
    lists_of_project,
    own_campaigns,
)
from leadflow.tags.selectors import with_tags
from leadflow.web.forms_lists import CampaignForm, CampaignListsForm, ListForm, ListLeadForm
from leadflow.web.views.base import copy_errors, managed_project, ui_view, wants_partial

LEADS_PAGE = 50


def _post(request):
    return request.POST if request.method == "POST" else None


def _members(project_id: int):
    return User.objects.filter(memberships__project_id=project_id, is_active=True).order_by(
        "email")


def _save(request, form, action, success: str) -> bool:
    try:
        action()
    except ValidationFailed as exc:
        copy_errors(form, exc)
    except Conflict as exc:
        form.add_error("name" if exc.extra.get("field") == "name" else None, exc.detail)
    else:
        messages.success(request, success)
        return True
    return False


def _leads_page(request, leads):
    rows, next_cursor = paginate(with_tags(leads.select_related("stage", "owner")),
                                 ORDERINGS["-created_at"], limit=LEADS_PAGE,
                                 cursor=request.GET.get("cursor") or None)
    return rows, next_cursor


# --- lists -----------------------------------------------------------------------------------


@ui_view
def lists(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = ListForm(_post(request), members=_members(project.pk))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.create_list(
            project, actor=actor, name=data["name"], timezone_name=data["timezone"],
            owner=data["owner"], description=data["description"], enabled=data["enabled"],
        ), f"List {data['name'].strip()} added."):
            return redirect("config:lists", project.pk)
    rows = lists_of_project(project.pk)
    owners = own_campaigns(rows)
    context = {"project": project, "tab": "lists", "form": form,
               "rows": [(row, owners.get(row.pk)) for row in rows]}
    return render(request, "config/lists.html", context)


@ui_view
def list_detail(request, actor, list_id: int):
    lead_list = get_list_for(actor, list_id)
    project = lead_list.project
    initial = {"name": lead_list.name, "timezone": lead_list.timezone,
               "owner": lead_list.owner_id, "description": lead_list.description,
               "enabled": lead_list.enabled}
    form = ListForm(_post(request), initial=initial, members=_members(project.pk))
    campaign_id = own_campaigns([lead_list]).get(lead_list.pk)
    if form.is_bound and form.is_valid():
        changes = dict(form.cleaned_data)
        if campaign_id is not None:
            changes.pop("name")
        if _save(request, form, lambda: services.update_list(lead_list, actor=actor, **changes),
                 "List saved."):
            return redirect("config:list_detail", lead_list.pk)
    rows, next_cursor = _leads_page(request, leads_visible_to(actor).filter(list_id=lead_list.pk))
    context = {"project": project, "tab": "lists", "list": lead_list, "form": form,
               "campaign_id": campaign_id, "lead_form": ListLeadForm(), "leads": rows,
               "next_cursor": next_cursor}
    return render(request, "config/list_detail.html", context)


@require_POST
@ui_view
def list_delete(request, actor, list_id: int):
    lead_list = get_list_for(actor, list_id)
    try:
        unlinked = services.delete_list(lead_list, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
        return redirect("config:list_detail", lead_list.pk)
    messages.success(request, f"List {lead_list.name} deleted; {unlinked} leads are on no "
                     "list now.")
    return redirect("config:lists", lead_list.project_id)


def _find_lead(actor, project_id: int, text: str):
    """A lead of the project by `#id`, id or e-mail, among those the actor sees."""
    text = text.strip().lstrip("#")
    if text.isdigit():
        try:
            return get_lead_for(actor, int(text), "view")
        except NotFound:
            return None
    return (leads_visible_to(actor).filter(project_id=project_id, email_key=text.casefold())
            .select_related("project").order_by("pk").first())


@require_POST
@ui_view
def list_add_lead(request, actor, list_id: int):
    """Add a contact to the list by hand: it becomes the lead's home list."""
    lead_list = get_list_for(actor, list_id)
    form = ListLeadForm(request.POST)
    lead = _find_lead(actor, lead_list.project_id, request.POST.get("lead", "")) if (
        form.is_valid()) else None
    if lead is None:
        messages.error(request, "No lead of this project with that number or e-mail.")
    else:
        try:
            services.add_lead_to_list(lead_list, lead, actor=actor)
        except (ValidationFailed, Conflict) as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"{lead.name or 'Lead'} (#{lead.pk}) is on this list.")
    return redirect("config:list_detail", lead_list.pk)


@require_POST
@ui_view
def list_remove_lead(request, actor, list_id: int, lead_id: int):
    lead_list = get_list_for(actor, list_id)
    lead = get_lead_for(actor, lead_id, "view")
    services.remove_lead_from_list(lead, actor=actor, lead_list=lead_list)
    messages.success(request, f"{lead.name or 'Lead'} (#{lead.pk}) taken off the list.")
    return redirect("config:list_detail", lead_list.pk)


# --- campaigns -------------------------------------------------------------------------------


@ui_view
def campaigns(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = CampaignForm(_post(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.create_campaign(project, actor=actor, **data),
                 f"Campaign {data['name'].strip()} added."):
            return redirect("config:campaigns", project.pk)
    context = {"project": project, "tab": "campaigns", "form": form,
               "rows": campaigns_of_project(project.pk)}
    return render(request, "config/campaigns.html", context)


def _matches(lead_list, query: str) -> bool:
    return not query or fold(query) in fold(lead_list.name)


def _picker(campaign, available_q: str = "", assigned_q: str = ""):
    """The two boxes of the dual-list picker: the project's lists not assigned (a campaign's
    own lists are never offered) and the assigned ones, each narrowed by its search."""
    assigned_ids = set(assigned_list_ids(campaign))
    candidates = lists_of_project(campaign.project_id, own=False)
    available = [x for x in candidates if x.pk not in assigned_ids and _matches(x, available_q)]
    assigned = [x for x in candidates if x.pk in assigned_ids and _matches(x, assigned_q)]
    return available, assigned


@ui_view
def campaign_detail(request, actor, campaign_id: int):
    campaign = get_campaign_for(actor, campaign_id)
    available_q = request.GET.get("available_q", "")[:200]
    assigned_q = request.GET.get("assigned_q", "")[:200]
    available, assigned = _picker(campaign, available_q, assigned_q)
    box = request.GET.get("box")
    if wants_partial(request) and box in ("available", "assigned"):
        # The search of one box, typed with JavaScript on: only that box's options change.
        options = available if box == "available" else assigned
        return render(request, "config/partials/_list_box.html",
                      {"box": box, "options": options})
    form = CampaignForm(_post(request), initial={
        "name": campaign.name, "channel": campaign.channel,
        "description": campaign.description, "active": campaign.active})
    if form.is_bound and form.is_valid() and _save(request, form, lambda: (
            services.update_campaign(campaign, actor=actor, **form.cleaned_data)),
            "Campaign saved."):
        return redirect("config:campaign_detail", campaign.pk)
    rows, next_cursor = _leads_page(request, campaign_leads(campaign, leads_visible_to(actor)))
    context = {"project": campaign.project, "tab": "campaigns", "campaign": campaign,
               "form": form, "available": available, "assigned": assigned,
               "available_q": available_q, "assigned_q": assigned_q, "leads": rows,
               "next_cursor": next_cursor}
    return render(request, "config/campaign_detail.html", context)


@require_POST
@ui_view
def campaign_lists(request, actor, campaign_id: int):
    """The picker's form: move the lists ticked in one box (or all the box shows) to the
    other; or, from its Search buttons, show the boxes narrowed."""
    campaign = get_campaign_for(actor, campaign_id)
    available_q = request.POST.get("available_q", "")[:200]
    assigned_q = request.POST.get("assigned_q", "")[:200]
    available, assigned = _picker(campaign, available_q, assigned_q)
    form = CampaignListsForm(request.POST, available=available, assigned=assigned)
    query = urlencode({k: v for k, v in (("available_q", available_q),
                                         ("assigned_q", assigned_q)) if v})
    back = reverse("config:campaign_detail", args=[campaign.pk]) + (f"?{query}" if query
                                                                    else "")
    if not form.is_valid():
        messages.error(request, "Those lists are not offered any more; try again.")
        return redirect(back)
    data = form.cleaned_data
    if data["action"] == "assign":
        ids = [x.pk for x in available] if data["available_all"] else data["available"]
        chosen = [x for x in available if x.pk in set(ids)]
        _move(request, chosen, lambda: services.assign_lists(campaign, chosen, actor=actor),
              "assigned")
    elif data["action"] == "unassign":
        ids = [x.pk for x in assigned] if data["assigned_all"] else data["assigned"]
        chosen = [x for x in assigned if x.pk in set(ids)]
        _move(request, chosen, lambda: services.unassign_lists(campaign, chosen, actor=actor),
              "unassigned")
    return redirect(back)


def _move(request, chosen, action, verb: str) -> None:
    if not chosen:
        messages.error(request, f"Choose the lists to be {verb}.")
        return
    try:
        count = action()
    except ValidationFailed as exc:
        messages.error(request, exc.detail)
        return
    messages.success(request, f"{count} list{'s' * (count != 1)} {verb}.")


@require_POST
@ui_view
def campaign_delete(request, actor, campaign_id: int):
    campaign = get_campaign_for(actor, campaign_id)
    services.delete_campaign(campaign, actor=actor)
    messages.success(request, f"Campaign {campaign.name} deleted.")
    return redirect("config:campaigns", campaign.project_id)
