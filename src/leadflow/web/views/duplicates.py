"""The possible-duplicates queue (managers of their projects and admins): open pairs side by
side, merged (keeping the older or the newer lead) or dismissed as not one person."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.core.pagination import Ordering, paginate
from leadflow.intake.models import PairState
from leadflow.intake.services import duplicates as duplicate_services
from leadflow.web.forms import PairDecisionForm
from leadflow.web.views.base import require_configurer, ui_view, wants_partial

PAGE_SIZE = 25
NEWEST_FIRST = Ordering("created_at", True, kind="datetime")


@require_GET
@ui_view
def duplicate_list(request, actor):
    require_configurer(actor)
    pairs = duplicate_services.pairs_visible_to(actor).filter(state=PairState.OPEN)
    rows, next_cursor = paginate(
        pairs.select_related("project"), NEWEST_FIRST, limit=PAGE_SIZE,
        cursor=request.GET.get("cursor") or None,
    )
    projects = {pair.project_id for pair in rows}
    context = {"pairs": rows, "next_cursor": next_cursor, "paged": bool(request.GET.get("cursor")),
               "show_project": len(projects) > 1}
    return render(request, "intake/duplicate_list.html", context)


def _decided(request, pair, text: str, *, failed: bool = False):
    """The queue again, or for htmx the pair's card replaced by what became of it."""
    if wants_partial(request):
        context = {"pair": pair, "notice": text, "failed": failed}
        return render(request, "intake/partials/_pair_decided.html", context)
    (messages.error if failed else messages.success)(request, text)
    return redirect("intake:duplicate_list")


@require_POST
@ui_view
def duplicate_merge(request, actor, pair_id: int):
    require_configurer(actor)
    pair = duplicate_services.get_pair_for(actor, pair_id)
    form = PairDecisionForm(request.POST)
    if not form.is_valid():
        return _decided(request, pair, "Choose which lead to keep.", failed=True)
    into = pair.lead_a_id if form.cleaned_data["keep"] == "older" else pair.lead_b_id
    try:
        survivor = duplicate_services.merge_pair(pair, actor=actor, into=into)
    except (ValidationFailed, Conflict, PermissionDenied) as exc:
        return _decided(request, pair, exc.detail, failed=True)
    merged = pair.lead_b_id if survivor.pk == pair.lead_a_id else pair.lead_a_id
    return _decided(request, pair, f"Lead #{merged} merged into lead #{survivor.pk}.")


@require_POST
@ui_view
def duplicate_dismiss(request, actor, pair_id: int):
    require_configurer(actor)
    pair = duplicate_services.get_pair_for(actor, pair_id)
    try:
        duplicate_services.dismiss_pair(pair, actor=actor)
    except Conflict as exc:
        return _decided(request, pair, exc.detail, failed=True)
    return _decided(
        request, pair, f"Leads #{pair.lead_a_id} and #{pair.lead_b_id} marked not a duplicate."
    )
