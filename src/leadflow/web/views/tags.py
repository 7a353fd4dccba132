"""Tag screens: the lead page's tags panel, the approvals queue of change requests, and the
tag and tag rule settings of a project (managers)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from leadflow.accounts.models import User
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.core.pagination import paginate
from leadflow.crm.access import get_lead_for
from leadflow.tags import services
from leadflow.tags.access import get_change_request_for, get_rule_for, get_tag_for
from leadflow.tags.models import ChangeState, TagRule
from leadflow.tags.selectors import CHANGE_REQUEST_ORDER, decidable_by, tags_of_project
from leadflow.web.forms_tags import DecisionForm, LeadTagForm, TagForm, TagRuleForm
from leadflow.web.views.base import (
    copy_errors,
    managed_project,
    require_configurer,
    ui_view,
    wants_partial,
)
from leadflow.web.views.ownership import refusal_text

REFUSALS = (ValidationFailed, Conflict, PermissionDenied)
QUEUE_PAGE = 50


# --- the lead page's tags panel --------------------------------------------------------------


@require_POST
@ui_view
def lead_tags(request, actor, lead_id: int):
    """Add or remove one tag; a non-modifiable one touched by an agent becomes a request."""
    lead = get_lead_for(actor, lead_id, "view")
    form = LeadTagForm(request.POST)
    message = error = None
    owner_before = (lead.owner_id, lead.retired_at)
    if form.is_valid():
        add, remove = form.cleaned_data["add"], form.cleaned_data["remove"]
        try:
            change = services.change_lead_tags(lead, actor=actor, add=[add] if add else [],
                                               remove=[remove] if remove else [])
        except REFUSALS as exc:
            error = refusal_text(exc)
        else:
            lead = change.lead
            message = _change_text(change)
    else:
        error = "Choose a tag."
    if not wants_partial(request):
        if error:
            messages.error(request, error)
        elif message:
            messages.success(request, message)
        return redirect("crm:lead_detail", lead.pk)
    if error is None and (lead.owner_id, lead.retired_at) != owner_before:
        # A tag rule moved the lead: every panel of the page changes.
        return HttpResponseClientRefresh()
    from leadflow.crm.selectors import timeline_for
    from leadflow.web.views.leads import TIMELINE_PAGE

    events, next_events = timeline_for(lead, limit=TIMELINE_PAGE, cursor=None)
    context = {"lead": lead, "tag_message": message, "tag_error": error,
               "refresh_timeline": error is None, "events": events, "next_events": next_events}
    return render(request, "crm/partials/_tags.html", context)


def _change_text(change) -> str:
    parts = []
    if change.added:
        parts.append(f"Added {', '.join(change.added)}.")
    if change.removed:
        parts.append(f"Removed {', '.join(change.removed)}.")
    for request in change.change_requests:
        verb = "add" if request.action == "add" else "remove"
        parts.append(f"Asked a manager to {verb} {request.tag.name}.")
    return " ".join(parts) or "Nothing to change."


# --- approvals queue -------------------------------------------------------------------------


@require_GET
@ui_view
def approvals(request, actor):
    """Change requests of the projects the user decides for: pending ones, oldest decisions
    kept a click away (`state`)."""
    require_configurer(actor, "Only managers decide change requests.")
    state = request.GET.get("state") or ChangeState.PENDING
    if state not in ChangeState.values:
        state = ChangeState.PENDING
    qs = decidable_by(actor).filter(state=state).select_related(
        "tag", "lead", "requested_by", "decided_by")
    rows, next_cursor = paginate(qs, CHANGE_REQUEST_ORDER, limit=QUEUE_PAGE,
                                 cursor=request.GET.get("cursor") or None)
    context = {"rows": rows, "next_cursor": next_cursor, "state": state,
               "states": ChangeState.choices}
    return render(request, "tags/approvals.html", context)


@require_POST
@ui_view
def decide(request, actor, request_id: int):
    found = get_change_request_for(actor, request_id)
    form = DecisionForm(request.POST)
    error = None
    if not form.is_valid():
        error = "Choose approve or reject."
    else:
        reason = form.cleaned_data["reason"]
        try:
            if form.cleaned_data["decision"] == "approve":
                services.approve_change_request(found, actor=actor, reason=reason)
            else:
                services.reject_change_request(found, actor=actor, reason=reason)
        except REFUSALS as exc:
            error = refusal_text(exc)
    found = get_change_request_for(actor, request_id)
    if wants_partial(request):
        return render(request, "tags/partials/_change_request_row.html",
                      {"row": found, "row_error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Change request {found.get_state_display().lower()}.")
    return redirect("tags:approvals")


# --- settings: tags --------------------------------------------------------------------------


def _post(request):
    return request.POST if request.method == "POST" else None


def _tags_page(request, project, *, add_form=None, edit_tag=None, edit_form=None):
    tags = tags_of_project(project.pk)
    rows = []
    for tag in tags:
        if edit_tag is not None and tag.pk == edit_tag.pk:
            rows.append((tag, edit_form))
        else:
            rows.append((tag, TagForm(prefix=f"t{tag.pk}", initial={
                "name": tag.name, "is_modifiable": tag.is_modifiable})))
    context = {"project": project, "tab": "tags", "rows": rows,
               "form": add_form or TagForm()}
    return render(request, "config/tags.html", context)


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


@ui_view
def tags(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = TagForm(_post(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.create_tag(
            project, data["name"], actor=actor, is_modifiable=data["is_modifiable"]
        ), f"Tag {data['name'].strip()} added."):
            return redirect("config:tags", project.pk)
    return _tags_page(request, project, add_form=form if form.is_bound else None)


@require_POST
@ui_view
def tag_edit(request, actor, tag_id: int):
    tag = get_tag_for(actor, tag_id)
    project = managed_project(actor, tag.project_id)
    form = TagForm(request.POST, prefix=f"t{tag.pk}")
    if form.is_valid() and _save(request, form, lambda: services.update_tag(
        tag, actor=actor, name=form.cleaned_data["name"],
        is_modifiable=form.cleaned_data["is_modifiable"],
    ), "Tag saved."):
        return redirect("config:tags", project.pk)
    return _tags_page(request, project, edit_tag=tag, edit_form=form)


@require_POST
@ui_view
def tag_delete(request, actor, tag_id: int):
    tag = get_tag_for(actor, tag_id)
    project = managed_project(actor, tag.project_id)
    try:
        services.delete_tag(tag, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Tag {tag.name} deleted.")
    return redirect("config:tags", project.pk)


# --- settings: tag rules ---------------------------------------------------------------------


def _members(project):
    return User.objects.filter(memberships__project=project, is_active=True).order_by("email")


def _rule_form(project, data=None, **kwargs) -> TagRuleForm:
    return TagRuleForm(data, tags=tags_of_project(project.pk), members=_members(project),
                       **kwargs)


def _rules_page(request, project, *, form=None, editing=None):
    rules = (TagRule.objects.filter(project=project).select_related("tag")
             .prefetch_related("notify_users").order_by("id"))
    context = {"project": project, "tab": "tag_rules", "rules": rules,
               "form": form or _rule_form(project), "editing": editing}
    return render(request, "config/tag_rules.html", context)


@ui_view
def tag_rules(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    if request.method != "POST":
        edit_id = request.GET.get("edit")
        if edit_id and edit_id.isdigit():
            rule = get_rule_for(actor, int(edit_id))
            if rule.project_id == project.pk:
                initial = {"tag": rule.tag_id, "action": rule.action,
                           "notify_owner": rule.notify_owner,
                           "notify_managers": rule.notify_managers,
                           "notify_users": [u.pk for u in rule.notify_users.all()],
                           "message": rule.message, "active": rule.active}
                return _rules_page(request, project, editing=rule,
                                   form=_rule_form(project, initial=initial))
        return _rules_page(request, project)
    form = _rule_form(project, request.POST)
    if form.is_valid():
        values = form.values()
        tag, action = values.pop("tag"), values.pop("action")
        if _save(request, form, lambda: services.create_tag_rule(
            project, actor=actor, tag=tag, action=action, **values
        ), "Tag rule added."):
            return redirect("config:tag_rules", project.pk)
    return _rules_page(request, project, form=form)


@require_POST
@ui_view
def tag_rule_edit(request, actor, rule_id: int):
    rule = get_rule_for(actor, rule_id)
    project = rule.project
    form = _rule_form(project, request.POST)
    if form.is_valid() and _save(request, form, lambda: services.update_tag_rule(
        rule, actor=actor, **form.values()
    ), "Tag rule saved."):
        return redirect("config:tag_rules", project.pk)
    return _rules_page(request, project, form=form, editing=rule)


@require_POST
@ui_view
def tag_rule_delete(request, actor, rule_id: int):
    rule = get_rule_for(actor, rule_id)
    services.delete_tag_rule(rule, actor=actor)
    messages.success(request, "Tag rule deleted.")
    return redirect("config:tag_rules", rule.project_id)
