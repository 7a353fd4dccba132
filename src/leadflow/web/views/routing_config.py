"""Routing settings screens: offices, groups and distribution rules of a project (managers of
the project and admins). Reads check access here, because no service runs on a GET; writes are
checked again by the services."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leadflow.accounts.models import User
from leadflow.accounts.services import set_away
from leadflow.intake.models import Bucket
from leadflow.routing.access import get_group_for, get_office_for, get_rule_for
from leadflow.routing.models import DistributionRule, Group, Method, Office
from leadflow.routing.services import config as services
from leadflow.routing.services.router import Router
from leadflow.web import forms_routing as forms
from leadflow.web.views.base import managed_project, ui_view, wants_partial
from leadflow.web.views.config import _member, _members, _post, _save

TEAMS = {
    "office": {"model": Office, "get": get_office_for, "plural": "Offices",
               "create": services.create_office, "update": services.update_office,
               "delete": services.delete_office, "tab": "offices",
               "help": "Offices are the teams offers can go to, one per site or desk."},
    "group": {"model": Group, "get": get_group_for, "plural": "Groups",
              "create": services.create_group, "update": services.update_group,
              "delete": services.delete_group, "tab": "groups",
              "help": "Groups are named sets of members offers can go to."},
}


# --- away flag ---------------------------------------------------------------------------------


@require_POST
@ui_view
def member_away(request, actor, project_id: int, user_id: int):
    """A manager marks a member away (skipped by routing) or back, from the members screen."""
    project = managed_project(actor, project_id)
    user = _member(project, user_id)
    away = request.POST.get("away") == "true"
    set_away(project.pk, user, away, actor=actor)
    messages.success(request, f"{user.label} is {'away' if away else 'back'}.")
    return redirect("config:members", project.pk)


# --- offices and groups ------------------------------------------------------------------------


def _team_list(request, actor, project_id: int, kind: str):
    spec = TEAMS[kind]
    project = managed_project(actor, project_id)
    form = forms.TeamForm(_post(request), members=_members(project))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: spec["create"](
            project, data["name"], actor=actor, members=data["members"]
        ), f"{kind.capitalize()} {data['name']} added."):
            return redirect(f"config:{spec['tab']}", project.pk)
    teams = spec["model"].objects.filter(project=project).prefetch_related("members")
    context = {"project": project, "form": form, "teams": teams.order_by("name"),
               "tab": spec["tab"], "kind": kind, "plural": spec["plural"],
               "help": spec["help"]}
    return render(request, "config/teams.html", context)


def _team_edit(request, actor, team_id: int, kind: str):
    spec = TEAMS[kind]
    team = spec["get"](actor, team_id)
    project = managed_project(actor, team.project_id)
    initial = {"name": team.name, "members": [u.pk for u in team.members.all()]}
    form = forms.TeamForm(_post(request), initial=initial, members=_members(project))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: spec["update"](
            team, actor=actor, name=data["name"], members=data["members"]
        ), f"{kind.capitalize()} saved."):
            return redirect(f"config:{spec['tab']}", project.pk)
        team.refresh_from_db()
    context = {"project": project, "form": form, "team": team, "tab": spec["tab"],
               "kind": kind, "plural": spec["plural"]}
    return render(request, "config/team_edit.html", context)


def _team_delete(request, actor, team_id: int, kind: str):
    spec = TEAMS[kind]
    team = spec["get"](actor, team_id)
    project = managed_project(actor, team.project_id)
    spec["delete"](team, actor=actor)
    messages.success(request, f"{kind.capitalize()} {team.name} deleted.")
    return redirect(f"config:{spec['tab']}", project.pk)


@ui_view
def offices(request, actor, project_id: int):
    return _team_list(request, actor, project_id, "office")


@ui_view
def office_edit(request, actor, office_id: int):
    return _team_edit(request, actor, office_id, "office")


@require_POST
@ui_view
def office_delete(request, actor, office_id: int):
    return _team_delete(request, actor, office_id, "office")


@ui_view
def groups(request, actor, project_id: int):
    return _team_list(request, actor, project_id, "group")


@ui_view
def group_edit(request, actor, group_id: int):
    return _team_edit(request, actor, group_id, "group")


@require_POST
@ui_view
def group_delete(request, actor, group_id: int):
    return _team_delete(request, actor, group_id, "group")


# --- distribution rules ------------------------------------------------------------------------


def _choices(project) -> dict:
    return {
        "pools": project.pools.order_by("-is_default", "name"),
        "sources": project.sources.order_by("name"),
        "buckets": Bucket.objects.filter(project=project).order_by("name"),
    }


def _summary(rule: DistributionRule, sources: dict[int, str], buckets: dict[int, str]
             ) -> list[str]:
    """The rule's conditions in words; no condition matches any lead."""
    parts = []
    if rule.sources:
        parts.append("Source: " + ", ".join(sources.get(i, f"#{i}") for i in rule.sources))
    if rule.buckets:
        parts.append("Bucket: " + ", ".join(buckets.get(i, f"#{i}") for i in rule.buckets))
    if rule.countries:
        parts.append("Country: " + ", ".join(rule.countries))
    if rule.languages:
        parts.append("Language: " + ", ".join(rule.languages))
    for line in forms.custom_to_text(rule.custom).splitlines():
        parts.append(line.replace(" | ", " or "))
    return parts


def _rule_rows(project) -> list[dict]:
    """Each rule in order with its conditions summarized and who is up next (read-only)."""
    rules = list(DistributionRule.objects.filter(project=project).select_related("pool")
                 .order_by("position", "id"))
    labels = {u.pk: u.label for u in _members(project)}
    sources = dict(project.sources.values_list("pk", "name"))
    buckets = dict(Bucket.objects.filter(project=project).values_list("pk", "name"))
    router = Router(project.pk)
    rows = []
    for index, rule in enumerate(rules):
        up_next = router.up_next(rule)
        rows.append({
            "rule": rule, "conditions": _summary(rule, sources, buckets),
            "method": Method(rule.method).label,
            "up_next": labels.get(up_next, f"#{up_next}") if up_next else None,
            "first": index == 0, "last": index == len(rules) - 1,
        })
    return rows


def _rules_page(request, project, form, *, status: int = 200):
    context = {"project": project, "form": form, "rows": _rule_rows(project), "tab": "rules"}
    return render(request, "config/rules.html", context, status=status)


@ui_view
def rules(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = forms.RuleForm(_post(request), **_choices(project))
    if form.is_bound and form.is_valid():
        created = []
        if _save(request, form, lambda: created.append(services.create_rule(
            project, form.cleaned_data["name"], actor=actor, **form.values(per_agent=False)
        )), f"Rule {form.cleaned_data['name']} added."):
            return redirect("config:rule_edit", created[0].pk)
    return _rules_page(request, project, form)


def _pool_agents(pool_id: int):
    return User.objects.filter(pools=pool_id).order_by("email")


def _agents_pool(project, raw, fallback_id: int):
    """The pool whose members the per-agent rows on the page belong to: the one the page says
    (a pool of this project), else the rule's own."""
    pools = {p.pk: p for p in project.pools.all()}
    try:
        chosen = int(raw) if raw else None
    except ValueError:
        chosen = None
    return pools.get(chosen) or pools[fallback_id]


def _rule_form(request, project, rule, agents_pool):
    return forms.RuleForm(
        _post(request), initial=forms.RuleForm.initial_from(rule),
        agents=_pool_agents(agents_pool.pk),
        agents_url=reverse("config:rule_agents", args=[rule.pk]), **_choices(project),
    )


@ui_view
def rule_edit(request, actor, rule_id: int):
    rule = get_rule_for(actor, rule_id)
    project = managed_project(actor, rule.project_id)
    # With htmx the per-agent rows follow the pool select, so they may be the new pool's.
    agents_pool = _agents_pool(project, request.POST.get("agents_pool"), rule.pool_id)
    form = _rule_form(request, project, rule, agents_pool)
    if form.is_bound and form.is_valid():
        # Rows of the old pool say nothing of the new pool's members: keep the manager on the
        # rule to set them (the page without JavaScript).
        rows_of_old_pool = form.cleaned_data["pool"] != agents_pool.pk
        message = ("Rule saved. Set the weights and caps of the new pool's members."
                   if rows_of_old_pool else "Rule saved.")
        if _save(request, form, lambda: services.update_rule(
            rule, actor=actor, name=form.cleaned_data["name"],
            **form.values(per_agent=not rows_of_old_pool)
        ), message):
            if rows_of_old_pool:
                return redirect("config:rule_edit", rule.pk)
            return redirect("config:rules", project.pk)
        rule.refresh_from_db()
    up_next = Router(project.pk).up_next(rule)
    context = {"project": project, "form": form, "rule": rule, "tab": "rules",
               "agents_pool": agents_pool,
               "up_next": User.objects.filter(pk=up_next).first() if up_next else None}
    return render(request, "config/rule_edit.html", context)


@require_GET
@ui_view
def rule_agents(request, actor, rule_id: int):
    """The per-agent rows for the pool chosen in the rule's pool select (htmx), unsaved: the
    rule's weights and caps of members in both pools are kept."""
    rule = get_rule_for(actor, rule_id)
    project = managed_project(actor, rule.project_id)
    if not wants_partial(request):
        return redirect("config:rule_edit", rule.pk)
    agents_pool = _agents_pool(project, request.GET.get("pool"), rule.pool_id)
    form = forms.RuleForm(initial=forms.RuleForm.initial_from(rule),
                          agents=_pool_agents(agents_pool.pk), **_choices(project))
    return render(request, "config/partials/_rule_agents.html",
                  {"form": form, "rule": rule, "agents_pool": agents_pool})


@require_POST
@ui_view
def rule_move(request, actor, rule_id: int):
    rule = get_rule_for(actor, rule_id)
    project = managed_project(actor, rule.project_id)
    form = forms.MoveForm(request.POST)
    if form.is_valid():
        services.move_rule(rule, actor=actor, up=form.cleaned_data["direction"] == "up")
    if wants_partial(request):
        return render(request, "config/partials/_rule_table.html",
                      {"project": project, "rows": _rule_rows(project)})
    return redirect("config:rules", project.pk)


@require_POST
@ui_view
def rule_delete(request, actor, rule_id: int):
    rule = get_rule_for(actor, rule_id)
    project = managed_project(actor, rule.project_id)
    services.delete_rule(rule, actor=actor)
    messages.success(request, f"Rule {rule.name} deleted.")
    return redirect("config:rules", project.pk)
