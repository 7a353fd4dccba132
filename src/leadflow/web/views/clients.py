"""Clients screens: the list, a client's page (details, its leads as history, timeline, edit)
and converting a lead from its page."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from leadflow.clients import services
from leadflow.clients.access import can_client, clients_visible_to, get_client_for
from leadflow.clients.selectors import client_timeline, list_clients
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm.access import get_lead_for
from leadflow.web.forms_clients import ClientForm, ClientSearchForm, ConvertForm
from leadflow.web.views.base import copy_errors, ui_view, wants_partial

PAGE_SIZE = 50
TIMELINE_PAGE = 20


@require_GET
@ui_view
def client_list(request, actor):
    form = ClientSearchForm(request.GET)
    form.is_valid()
    rows, next_cursor = [], None
    try:
        rows, next_cursor = list_clients(
            clients_visible_to(actor).select_related("owner", "project"),
            q=form.cleaned_data.get("q"), limit=PAGE_SIZE,
            cursor=request.GET.get("cursor") or None,
        )
    except ValidationFailed as exc:
        copy_errors(form, exc)
    context = {"form": form, "clients": rows, "next_cursor": next_cursor,
               "paged": bool(request.GET.get("cursor"))}
    if wants_partial(request):
        return render(request, "clients/partials/_client_table.html", context)
    return render(request, "clients/client_list.html", context)


@require_GET
@ui_view
def client_detail(request, actor, client_id: int):
    client = get_client_for(actor, client_id, "view")
    cursor = request.GET.get("events") or None
    events, next_events = client_timeline(client, limit=TIMELINE_PAGE, cursor=cursor)
    context = {
        "client": client, "leads": services.client_leads(client), "events": events,
        "next_events": next_events, "events_paged": bool(cursor),
        "can_change": can_client(actor, client, "change"),
    }
    return render(request, "clients/client_detail.html", context)


@ui_view
def client_edit(request, actor, client_id: int):
    client = get_client_for(actor, client_id, "change")
    manages = can_client(actor, client, "manage")
    data = request.POST if request.method == "POST" else None
    form = ClientForm(data, client=client, manages=manages)
    if data is not None and form.is_valid():
        try:
            services.update_client(client, form.changes(), actor=actor)
        except ValidationFailed as exc:
            copy_errors(form, exc)
        else:
            messages.success(request, "Client saved.")
            return redirect("clients:client_detail", client.pk)
        client.refresh_from_db()
    return render(request, "clients/client_form.html", {"form": form, "client": client})


@ui_view
def lead_convert(request, actor, lead_id: int):
    """GET: the choice of a new client or a matching one; POST: convert and show the client."""
    lead = get_lead_for(actor, lead_id, "stage")
    if lead.converted_at is not None and lead.client_id is not None:
        return redirect("clients:client_detail", lead.client_id)
    candidates = services.client_candidates(lead, actor=actor)
    data = request.POST if request.method == "POST" else None
    form = ConvertForm(data, candidates=candidates)
    if data is not None and form.is_valid():
        try:
            result = services.convert_lead(lead, actor=actor, into=form.chosen())
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except (Conflict, PermissionDenied) as exc:
            form.add_error(None, exc.detail)
        else:
            if result.converted:
                messages.success(request, f"Lead #{lead.pk} converted into client "
                                          f"{result.client.name}.")
            return redirect("clients:client_detail", result.client.pk)
    return render(request, "clients/lead_convert.html", {"lead": lead, "form": form})
