"""The pipeline: retiring and restoring stages, the managed lists of lost reasons and call
outcomes (settings screens for managers), and the pipeline board where cards move through
the same set_stage service as the stage route."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leadflow.accounts.access import is_manager
from leadflow.accounts.models import User
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm
from leadflow.crm.access import can, get_lead_for, leads_visible_to
from leadflow.projects import services
from leadflow.projects.access import (
    active_lost_reasons,
    get_call_outcome_for,
    get_lost_reason_for,
    get_stage_for,
    projects_visible_to,
)
from leadflow.projects.models import CallOutcome, LostReason, Stage
from leadflow.web.forms import StageForm
from leadflow.web.forms_work import ChoiceAddForm, ChoiceEditForm
from leadflow.web.views.base import copy_errors, managed_project, ui_view, wants_partial

CARDS_PER_COLUMN = 20

# --- stages: retire and restore ------------------------------------------------------------


@require_POST
@ui_view
def stage_retire(request, actor, stage_id: int):
    stage = get_stage_for(actor, stage_id)
    project = managed_project(actor, stage.project_id)
    restore = request.POST.get("action") == "restore"
    try:
        if restore:
            services.restore_stage(stage, actor=actor)
        else:
            services.retire_stage(stage, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        done = "back in use" if restore else "retired: its leads stay, no lead moves to it"
        messages.success(request, f"Stage {stage.name} {done}.")
    return redirect("config:stages", project.pk)


# --- lost reasons and call outcomes ----------------------------------------------------------

LISTS = {
    "lost-reasons": {
        "model": LostReason, "getter": get_lost_reason_for, "title": "Lost reasons",
        "one": "Lost reason", "create": services.create_lost_reason,
        "update": services.update_lost_reason, "delete": services.delete_lost_reason,
        "help": "Moving a lead to Lost asks for one of the active reasons.",
    },
    "call-outcomes": {
        "model": CallOutcome, "getter": get_call_outcome_for, "title": "Call outcomes",
        "one": "Call outcome", "create": services.create_call_outcome,
        "update": services.update_call_outcome, "delete": services.delete_call_outcome,
        "help": "A logged call names one of the active outcomes.",
    },
}


def _kind(kind: str) -> dict:
    if kind not in LISTS:
        raise NotFound("Not found.")
    return LISTS[kind]


def _choices_page(request, project, kind: str, *, add_form=None, edit_entry=None,
                  edit_form=None):
    spec = _kind(kind)
    rows = []
    for entry in spec["model"].objects.filter(project=project).order_by("position", "id"):
        form = edit_form if edit_entry is not None and entry.pk == edit_entry.pk else None
        initial = {"name": entry.name, "position": entry.position, "active": entry.active}
        rows.append((entry, form or ChoiceEditForm(initial=initial, prefix=f"c{entry.pk}")))
    context = {"project": project, "rows": rows, "tab": kind, "kind": kind, "spec": spec,
               "form": add_form or ChoiceAddForm()}
    return render(request, "config/choices.html", context)


@ui_view
def choice_list(request, actor, project_id: int, kind: str):
    spec = _kind(kind)
    project = managed_project(actor, project_id)
    form = ChoiceAddForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            spec["create"](project, name, actor=actor)
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"{spec['one']} {name.strip()} added.")
            return redirect("pipeline:choices", project.pk, kind)
    return _choices_page(request, project, kind, add_form=form if form.is_bound else None)


@require_POST
@ui_view
def choice_edit(request, actor, kind: str, entry_id: int):
    spec = _kind(kind)
    entry = spec["getter"](actor, entry_id)
    project = managed_project(actor, entry.project_id)
    form = ChoiceEditForm(request.POST, prefix=f"c{entry.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            spec["update"](entry, actor=actor, name=data["name"], active=data["active"],
                           position=data["position"])
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"{spec['one']} saved.")
            return redirect("pipeline:choices", project.pk, kind)
    return _choices_page(request, project, kind, edit_entry=entry, edit_form=form)


@require_POST
@ui_view
def choice_delete(request, actor, kind: str, entry_id: int):
    spec = _kind(kind)
    entry = spec["getter"](actor, entry_id)
    project = managed_project(actor, entry.project_id)
    try:
        spec["delete"](entry, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{spec['one']} {entry.name} deleted.")
    return redirect("pipeline:choices", project.pk, kind)


# --- the pipeline board ----------------------------------------------------------------------


def _int(raw) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _board_filters(actor, params) -> tuple:
    """The project shown (chosen or the first visible) and the owner filter."""
    projects = list(projects_visible_to(actor))
    chosen = _int(params.get("project"))
    project = next((p for p in projects if p.pk == chosen), projects[0] if projects else None)
    if chosen is not None and project is not None and project.pk != chosen:
        raise NotFound("Project not found.")
    owner = params.get("owner") or ""
    if owner == "me":
        owner_id = actor.user.pk
    else:
        owner_id = _int(owner)
        owner = str(owner_id) if owner_id is not None else ""
    return projects, project, owner, owner_id


def _targets(actor, lead, stages: list[Stage], manages: bool) -> list[Stage]:
    """Where the actor may move this card: managers anywhere in use, the owner forward or to
    Converted or Lost, others nowhere."""
    if not manages and not can(actor, lead, "stage"):
        return []
    current = next((s for s in stages if s.pk == lead.stage_id), None)
    in_use = [s for s in stages if not s.retired and s.pk != lead.stage_id]
    if manages:
        return in_use
    if current is None or current.is_terminal:
        return []
    return [s for s in in_use if s.is_terminal or s.position > current.position]


def board_context(actor, params) -> dict:
    projects, project, owner, owner_id = _board_filters(actor, params)
    context = {"projects": projects, "project": project, "owner": owner, "columns": []}
    if project is None:
        return context
    manages = is_manager(actor, project.pk)
    stages = list(Stage.objects.filter(project=project).order_by("position", "id"))
    reasons = [r.name for r in active_lost_reasons(project.pk)]
    base = leads_visible_to(actor).filter(project=project, retired_at__isnull=True)
    if owner_id is not None:
        base = base.filter(owner_id=owner_id)
    for stage in stages:
        cards = list(base.filter(stage=stage).select_related("owner")
                     .order_by("-created_at", "-id")[: CARDS_PER_COLUMN + 1])
        if stage.retired and not cards:
            continue
        more = len(cards) > CARDS_PER_COLUMN
        query = {"project": project.pk, "stage": stage.pk}
        if owner_id is not None:
            query["owner"] = owner_id
        context["columns"].append({
            "stage": stage,
            "cards": [
                {"lead": lead, "form": StageForm(
                    project_id=project.pk, current_id=lead.stage_id, lost_reasons=reasons,
                    stages=[*_targets(actor, lead, stages, manages)],
                    initial={"stage": ""}, prefix=f"m{lead.pk}")}
                for lead in cards[:CARDS_PER_COLUMN]
            ],
            "more_url": f"{reverse('crm:lead_list')}?{urlencode(query)}" if more else "",
        })
    members = User.objects.filter(memberships__project=project).order_by("email")
    context.update({"members": members, "manages": manages,
                    "query": urlencode({"project": project.pk, "owner": owner})})
    return context


@require_GET
@ui_view
def board(request, actor):
    context = board_context(actor, request.GET)
    if wants_partial(request):
        return render(request, "pipeline/partials/_board.html", context)
    return render(request, "pipeline/board.html", context)


@require_POST
@ui_view
def board_move(request, actor, lead_id: int):
    """Move a card: the same set_stage service and rules as the lead page and the API."""
    lead = get_lead_for(actor, lead_id, "stage")
    form = StageForm(request.POST, project_id=lead.project_id, current_id=lead.stage_id,
                     prefix=f"m{lead.pk}")
    error = None
    if form.is_valid():
        try:
            lead = crm.set_stage(lead, form.chosen_stage(), actor=actor,
                                 lost_reason=form.cleaned_data["lost_reason"],
                                 reason=form.cleaned_data["reason"])
        except ValidationFailed as exc:
            error = " ".join(e.message for e in exc.errors)
        except (PermissionDenied, Conflict) as exc:
            error = exc.detail
    else:
        error = "Choose a stage to move the lead to."
    if error:
        messages.error(request, f"{lead.name}: {error}")
    else:
        messages.success(request, f"{lead.name} moved to {lead.stage.name}.")
    params = {"project": lead.project_id, "owner": request.POST.get("owner", "")}
    if wants_partial(request):
        context = board_context(actor, params)
        context["flash"] = True
        return render(request, "pipeline/partials/_board.html", context)
    return redirect(f"{reverse('pipeline:board')}?{urlencode(params)}")
