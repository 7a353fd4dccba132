"""Settings screens: projects, members, sources, pools, stages, custom fields (managers of the
project and admins), users and system settings (admins). Reads check access here, because no
service runs on a GET; writes are checked again by the services."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from leadflow.accounts import services as account_services
from leadflow.accounts.access import is_manager, require_admin
from leadflow.accounts.models import User
from leadflow.core.errors import Conflict, NotFound, ValidationFailed
from leadflow.intake.models import Bucket
from leadflow.projects import services
from leadflow.projects.access import (
    get_field_definition_for,
    get_pool_for,
    get_project_for,
    get_source_for,
    get_stage_for,
    projects_visible_to,
)
from leadflow.projects.models import OPEN_STATUSES, SystemSettings
from leadflow.web import forms
from leadflow.web.views.base import copy_errors, managed_project, require_configurer, ui_view


def _post(request):
    return request.POST if request.method == "POST" else None


def _members(project):
    return User.objects.filter(memberships__project=project).order_by("email")


def _save(request, form, action, success: str) -> bool:
    """Run a service with the form's values; copy field errors onto the form and show a
    conflict as a message. True when the change was saved."""
    try:
        action()
    except ValidationFailed as exc:
        copy_errors(form, exc)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, success)
        return True
    return False


@ui_view
def index(request, actor):
    require_configurer(actor, "Only managers and admins reach the settings.")
    projects = [p for p in projects_visible_to(actor) if is_manager(actor, p.pk)]
    return render(request, "config/index.html", {"projects": projects})


# --- projects (admins) -----------------------------------------------------------------------


@ui_view
def project_list(request, actor):
    require_admin(actor)
    form = forms.ProjectForm(_post(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        created = []
        saved = _save(request, form, lambda: created.append(services.create_project(
            data["name"], actor=actor, slug=data["slug"],
            default_region=data["default_region"] or "US",
        )), f"Project {data['name']} created.")
        if saved:
            return redirect("config:members", created[0].pk)
    projects = projects_visible_to(actor).order_by("name")
    return render(request, "config/project_list.html", {"projects": projects, "form": form})


@ui_view
def project_edit(request, actor, project_id: int):
    require_admin(actor)
    project = get_project_for(actor, project_id)
    form = forms.ProjectForm(
        _post(request), initial={"name": project.name, "default_region": project.default_region}
    )
    del form.fields["slug"]
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.update_project(
            project, actor=actor, name=data["name"], default_region=data["default_region"],
        ), "Project saved."):
            return redirect("config:project_edit", project.pk)
        project.refresh_from_db()
    context = {"project": project, "form": form, "tab": "project"}
    return render(request, "config/project_edit.html", context)


# --- members ---------------------------------------------------------------------------------


@ui_view
def members(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = forms.MemberAddForm(_post(request))
    if form.is_bound and form.is_valid():
        user, role = form.user, form.cleaned_data["role"]
        if _save(request, form, lambda: account_services.set_membership(
            user, project, role, actor=actor
        ), f"{user.label} is now {role} of {project.name}."):
            return redirect("config:members", project.pk)
    memberships = project.memberships.select_related("user").order_by("user__email")
    context = {"project": project, "form": form, "memberships": memberships, "tab": "members",
               "roles": forms.RoleForm.base_fields["role"].choices}
    return render(request, "config/members.html", context)


def _member(project, user_id: int) -> User:
    user = User.objects.filter(pk=user_id, memberships__project=project).first()
    if user is None:
        raise NotFound("Member not found.")
    return user


@require_POST
@ui_view
def member_role(request, actor, project_id: int, user_id: int):
    project = managed_project(actor, project_id)
    user = _member(project, user_id)
    form = forms.RoleForm(request.POST)
    if form.is_valid():
        role = form.cleaned_data["role"]
        account_services.set_membership(user, project, role, actor=actor)
        messages.success(request, f"{user.label} is now {role}.")
    else:
        messages.error(request, "Choose manager or agent.")
    return redirect("config:members", project.pk)


@require_POST
@ui_view
def member_remove(request, actor, project_id: int, user_id: int):
    project = managed_project(actor, project_id)
    user = _member(project, user_id)
    account_services.remove_membership(user, project, actor=actor)
    messages.success(request, f"{user.label} removed from {project.name}.")
    return redirect("config:members", project.pk)


# --- sources ---------------------------------------------------------------------------------


SOURCE_OPTIONS = ("target_user", "acceptance_minutes", "form_enabled", "form_bucket")


def _source_values(data) -> dict:
    return {key: data[key] for key in SOURCE_OPTIONS}


def _buckets(project):
    return Bucket.objects.filter(project=project).order_by("name")


@ui_view
def sources(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = forms.SourceForm(_post(request), members=_members(project), buckets=_buckets(project))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.create_source(
            project, data["name"], actor=actor, **_source_values(data)
        ), f"Source {data['name']} added."):
            return redirect("config:sources", project.pk)
    rows = project.sources.select_related("target_user", "form_bucket").order_by("name")
    context = {"project": project, "form": form, "sources": rows, "tab": "sources"}
    return render(request, "config/sources.html", context)


@ui_view
def source_edit(request, actor, source_id: int):
    source = get_source_for(actor, source_id)
    project = managed_project(actor, source.project_id)
    initial = {"name": source.name, "target_user": source.target_user_id,
               "acceptance_minutes": source.acceptance_minutes,
               "form_enabled": source.form_enabled, "form_bucket": source.form_bucket_id}
    form = forms.SourceForm(_post(request), initial=initial, members=_members(project),
                            buckets=_buckets(project))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.update_source(
            source, actor=actor, name=data["name"], **_source_values(data)
        ), "Source saved."):
            return redirect("config:sources", project.pk)
        source.refresh_from_db()
    form_url = request.build_absolute_uri(
        reverse("webforms:form", args=[project.slug, source.pk])
    )
    context = {"project": project, "form": form, "source": source, "tab": "sources",
               "form_url": form_url, "form_live": _form_is_live(source)}
    return render(request, "config/source_edit.html", context)


def _form_is_live(source) -> bool:
    bucket = source.form_bucket
    return source.form_enabled and bucket is not None and bucket.active


# --- pools -----------------------------------------------------------------------------------


@ui_view
def pools(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = forms.PoolForm(_post(request), members=_members(project))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.create_pool(
            project, data["name"], actor=actor, members=data["members"]
        ), f"Pool {data['name']} added."):
            return redirect("config:pools", project.pk)
    rows = project.pools.prefetch_related("members").order_by("-is_default", "name")
    context = {"project": project, "form": form, "pools": rows, "tab": "pools"}
    return render(request, "config/pools.html", context)


@ui_view
def pool_edit(request, actor, pool_id: int):
    pool = get_pool_for(actor, pool_id)
    project = managed_project(actor, pool.project_id)
    initial = {"name": pool.name, "members": [u.pk for u in pool.members.all()]}
    form = forms.PoolForm(_post(request), initial=initial, members=_members(project))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.update_pool(
            pool, actor=actor, name=data["name"], members=data["members"]
        ), "Pool saved."):
            return redirect("config:pools", project.pk)
        pool.refresh_from_db()
    context = {"project": project, "form": form, "pool": pool, "tab": "pools"}
    return render(request, "config/pool_edit.html", context)


@require_POST
@ui_view
def pool_delete(request, actor, pool_id: int):
    pool = get_pool_for(actor, pool_id)
    project = managed_project(actor, pool.project_id)
    try:
        services.delete_pool(pool, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Pool {pool.name} deleted.")
    return redirect("config:pools", project.pk)


# --- stages ----------------------------------------------------------------------------------


def _stages_page(request, project, *, add_form=None, edit_stage=None, edit_form=None):
    stages = list(project.stages.order_by("position", "id"))
    rows = []
    for stage in stages:
        form = edit_form if edit_stage is not None and stage.pk == edit_stage.pk else None
        initial = {"name": stage.name, "status": stage.status}
        rows.append((stage, form or forms.StageEditForm(initial=initial, prefix=f"s{stage.pk}")))
    open_ids = [s.pk for s in stages if s.status in OPEN_STATUSES]
    context = {"project": project, "rows": rows, "tab": "stages",
               "first_open": open_ids[:1], "last_open": open_ids[-1:],
               "form": add_form or forms.StageAddForm()}
    return render(request, "config/stages.html", context)


@ui_view
def stages(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = forms.StageAddForm(_post(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: services.create_stage(
            project, data["name"], data["status"], actor=actor
        ), f"Stage {data['name']} added."):
            return redirect("config:stages", project.pk)
    return _stages_page(request, project, add_form=form if form.is_bound else None)


@require_POST
@ui_view
def stage_edit(request, actor, stage_id: int):
    stage = get_stage_for(actor, stage_id)
    project = managed_project(actor, stage.project_id)
    form = forms.StageEditForm(request.POST, prefix=f"s{stage.pk}")
    if form.is_valid():
        status = None if stage.is_terminal else form.cleaned_data["status"] or None
        if _save(request, form, lambda: services.update_stage(
            stage, actor=actor, name=form.cleaned_data["name"], status=status
        ), "Stage saved."):
            return redirect("config:stages", project.pk)
        stage.refresh_from_db()
    return _stages_page(request, project, edit_stage=stage, edit_form=form)


@require_POST
@ui_view
def stage_move(request, actor, stage_id: int):
    stage = get_stage_for(actor, stage_id)
    project = managed_project(actor, stage.project_id)
    form = forms.StageMoveForm(request.POST)
    if form.is_valid():
        try:
            services.move_stage(stage, actor=actor, up=form.cleaned_data["direction"] == "up")
        except Conflict as exc:
            messages.error(request, exc.detail)
    return redirect("config:stages", project.pk)


@require_POST
@ui_view
def stage_delete(request, actor, stage_id: int):
    stage = get_stage_for(actor, stage_id)
    project = managed_project(actor, stage.project_id)
    try:
        services.delete_stage(stage, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Stage {stage.name} deleted.")
    return redirect("config:stages", project.pk)


# --- custom fields ---------------------------------------------------------------------------


@ui_view
def field_definitions(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = forms.FieldDefinitionForm(_post(request), creating=True)
    if form.is_bound and form.is_valid():
        name = form.cleaned_data["name"]
        if _save(request, form, lambda: services.create_field_definition(
            project, name, actor=actor, **form.options()
        ), f"Custom field {name} added."):
            return redirect("config:field_definitions", project.pk)
    rows = services.list_field_definitions(actor=actor, project=project)
    context = {"project": project, "form": form, "definitions": rows, "tab": "fields"}
    return render(request, "config/field_definitions.html", context)


@ui_view
def field_definition_edit(request, actor, definition_id: int):
    definition = get_field_definition_for(actor, definition_id)
    project = managed_project(actor, definition.project_id)
    form = forms.FieldDefinitionForm(
        _post(request), creating=False, initial=forms.FieldDefinitionForm.initial_from(definition)
    )
    if form.is_bound and form.is_valid():
        if _save(request, form, lambda: services.update_field_definition(
            definition, actor=actor, **form.options()
        ), "Custom field saved."):
            return redirect("config:field_definitions", project.pk)
        definition.refresh_from_db()
    holders = services.leads_holding_field(definition)
    context = {"project": project, "form": form, "definition": definition, "tab": "fields",
               "holders": holders}
    return render(request, "config/field_definition_edit.html", context)


@require_POST
@ui_view
def field_definition_delete(request, actor, definition_id: int):
    definition = get_field_definition_for(actor, definition_id)
    project = managed_project(actor, definition.project_id)
    try:
        cleared = services.delete_field_definition(definition, actor=actor)
    except Conflict as exc:
        messages.error(request, exc.detail)
        return redirect("config:field_definition_edit", definition.pk)
    messages.success(request, f"Custom field {definition.label} deleted; {cleared} leads lost "
                     "their value.")
    return redirect("config:field_definitions", project.pk)


# --- system settings and users (admins) ------------------------------------------------------


@ui_view
def system_settings(request, actor):
    require_admin(actor)
    current = SystemSettings.load()
    initial = {name: getattr(current, name) for name in forms.SettingsForm.base_fields}
    form = forms.SettingsForm(_post(request), initial=initial)
    if form.is_bound and form.is_valid() and _save(
        request, form, lambda: services.update_settings(actor=actor, **form.cleaned_data),
        "Settings saved.",
    ):
        return redirect("config:system")
    return render(request, "config/system.html", {"form": form})


@ui_view
def user_list(request, actor):
    require_admin(actor)
    form = forms.UserCreateForm(_post(request))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: account_services.create_user(
            data["email"], actor=actor, name=data["name"], password=data["password"] or None,
            is_admin=data["is_admin"],
        ), f"User {data['email']} created."):
            return redirect("config:users")
    users = list(User.objects.prefetch_related("memberships__project").order_by("email"))
    locked = account_services.sign_in_locked_emails()
    for person in users:
        person.sign_in_locked_until = locked.get(person.email)
    return render(request, "config/users.html", {"users": users, "form": form})


@ui_view
def user_edit(request, actor, user_id: int):
    require_admin(actor)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    initial = {"name": user.name, "is_admin": user.is_admin, "is_active": user.is_active}
    form = forms.UserEditForm(_post(request), initial=initial)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if _save(request, form, lambda: account_services.update_user(
            user, actor=actor, name=data["name"], is_admin=data["is_admin"],
            is_active=data["is_active"], password=data["password"] or None,
        ), "User saved."):
            return redirect("config:users")
    locked_until, failures = account_services.sign_in_locked_until(user)
    return render(request, "config/user_edit.html", {
        "edited": user, "form": form, "locked_until": locked_until, "failures": failures,
    })


@require_POST
@ui_view
def user_unlock(request, actor, user_id: int):
    """An admin lifts a user's sign-in lockout (their failed sign-ins are forgotten)."""
    require_admin(actor)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    account_services.unlock_user(user, actor=actor)
    messages.success(request, f"{user.label} can sign in again.")
    return redirect("config:user_edit", user.pk)
