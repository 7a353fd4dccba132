"""REST routes of configuration: projects, members, sources, pools, stages, lost reasons, call
outcomes, custom field definitions, settings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.db.models import Q
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.accounts import services as account_services
from leadflow.accounts.models import User
from leadflow.core.api import ADMINS, CONFIGURERS, DbId, actor_of, responses
from leadflow.core.errors import FieldError, NotFound, ValidationFailed
from leadflow.core.pagination import check_limit, decode_cursor, encode_cursor
from leadflow.projects import services
from leadflow.projects.access import (
    get_call_outcome_for,
    get_field_definition_for,
    get_lost_reason_for,
    get_pool_for,
    get_project_for,
    get_source_for,
    get_stage_for,
    projects_visible_to,
)
from leadflow.projects.models import (
    CallOutcome,
    FieldDefinition,
    LostReason,
    ManagedChoice,
    Pool,
    Source,
    Stage,
    SystemSettings,
)

router = Router(tags=["configuration"])


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ProjectOut(Schema):
    id: int
    name: str
    slug: str
    default_region: str


class ProjectIn(Strict):
    name: str
    slug: str = ""
    default_region: str = "US"


class ProjectPatch(Strict):
    name: str | None = None
    default_region: str | None = None


class MemberIn(Strict):
    user: int
    role: Literal["manager", "agent"]
    create_lead: bool | None = None
    manage_leads: bool | None = None
    view_all_leads: bool | None = None


class MemberOut(Schema):
    user: int
    project: int
    role: str
    create_lead: bool
    manage_leads: bool
    view_all_leads: bool


class SourceOut(Schema):
    id: int
    project: int
    name: str
    target_user: int | None
    acceptance_minutes: int | None
    form_enabled: bool
    form_bucket: int | None


class SourceIn(Strict):
    project: int
    name: str
    target_user: int | None = None
    acceptance_minutes: int | None = None
    form_enabled: bool = False
    form_bucket: DbId | None = None


class SourcePatch(Strict):
    name: str | None = None
    target_user: int | None = None
    acceptance_minutes: int | None = None
    form_enabled: bool | None = None
    form_bucket: DbId | None = None


class PoolOut(Schema):
    id: int
    project: int
    name: str
    members: list[int]
    is_default: bool


class PoolIn(Strict):
    project: int
    name: str
    members: list[int] = []


class PoolPatch(Strict):
    name: str | None = None
    members: list[int] | None = None


class StageOut(Schema):
    id: int
    project: int
    name: str
    status: str
    position: int
    retired: bool


class StageCreate(Strict):
    project: int
    name: str
    status: Literal["NOT_CONTACTED", "CONTACTED", "QUALIFIED"]
    position: int | None = None


class StagePatch(Strict):
    name: str | None = None
    status: str | None = None
    position: int | None = None
    retired: bool | None = None


class ChoiceOut(Schema):
    id: int
    project: int
    name: str
    position: int
    active: bool


class ChoiceIn(Strict):
    project: int
    name: str


class ChoicePatch(Strict):
    name: str | None = None
    position: int | None = None
    active: bool | None = None


FieldTypeName = Literal["text", "number", "decimal", "date", "boolean", "email", "phone",
                        "choice"]


class FieldDefinitionOut(Schema):
    id: int
    project: int
    name: str
    label: str
    type: FieldTypeName
    choices: list[str]
    nullable: bool
    unique: bool
    primary_key: bool
    position: int
    created_at: datetime
    updated_at: datetime


class FieldDefinitionPage(Schema):
    items: list[FieldDefinitionOut]
    next_cursor: str | None


class FieldDefinitionIn(Strict):
    project: DbId
    name: str
    label: str = ""
    type: FieldTypeName = "text"
    choices: list[str] = []
    nullable: bool = True
    unique: bool = False
    primary_key: bool = False
    position: int | None = None


class FieldDefinitionPatch(Strict):
    name: str | None = None
    label: str | None = None
    type: FieldTypeName | None = None
    choices: list[str] | None = None
    nullable: bool | None = None
    unique: bool | None = None
    primary_key: bool | None = None
    position: int | None = None


class SettingsOut(Schema):
    retirement_days: int
    claim_hours: int
    offer_minutes: int
    duplicate_scope: str
    email_ignore_plus: bool
    email_ignore_gmail_dots: bool


class SettingsPatch(Strict):
    retirement_days: int | None = None
    claim_hours: int | None = None
    offer_minutes: int | None = None
    duplicate_scope: Literal["project", "global"] | None = None
    email_ignore_plus: bool | None = None
    email_ignore_gmail_dots: bool | None = None


def project_out(p) -> dict:
    return {"id": p.pk, "name": p.name, "slug": p.slug, "default_region": p.default_region}


def source_out(s: Source) -> dict:
    return {
        "id": s.pk, "project": s.project_id, "name": s.name, "target_user": s.target_user_id,
        "acceptance_minutes": s.acceptance_minutes, "form_enabled": s.form_enabled,
        "form_bucket": s.form_bucket_id,
    }


def pool_out(p: Pool) -> dict:
    return {
        "id": p.pk, "project": p.project_id, "name": p.name, "is_default": p.is_default,
        "members": sorted(m.pk for m in p.members.all()),
    }


def stage_out(s: Stage) -> dict:
    return {"id": s.pk, "project": s.project_id, "name": s.name, "status": s.status,
            "position": s.position, "retired": s.retired}


def choice_out(c: ManagedChoice) -> dict:
    return {"id": c.pk, "project": c.project_id, "name": c.name, "position": c.position,
            "active": c.active}


def field_definition_out(d: FieldDefinition) -> dict:
    return {"id": d.pk, "project": d.project_id, "name": d.name, "label": d.label,
            "type": d.type, "choices": list(d.choices), "nullable": d.nullable,
            "unique": d.unique, "primary_key": d.primary_key, "position": d.position,
            "created_at": d.created_at, "updated_at": d.updated_at}


def member_out(m) -> dict:
    return {"user": m.user_id, "project": m.project_id, "role": m.role,
            "create_lead": m.create_lead, "manage_leads": m.manage_leads,
            "view_all_leads": m.view_all_leads}


def settings_out(s: SystemSettings) -> dict:
    return {k: getattr(s, k) for k in SettingsOut.model_fields}


# --- projects --------------------------------------------------------------------------------


@router.get("/projects", response=responses(200, list[ProjectOut], 401))
def list_projects(request):
    return [project_out(p) for p in projects_visible_to(actor_of(request))]


@router.post("/projects", response=responses(201, ProjectOut, 400, 401, 403, 409), auth=ADMINS)
def create_project(request, payload: ProjectIn):
    project = services.create_project(
        payload.name, actor=actor_of(request), slug=payload.slug,
        default_region=payload.default_region,
    )
    return Status(201, project_out(project))


@router.get("/projects/{project_id}", response=responses(200, ProjectOut, 401, 404))
def get_project(request, project_id: DbId):
    return project_out(get_project_for(actor_of(request), project_id))


@router.patch("/projects/{project_id}", response=responses(200, ProjectOut, 400, 401, 403, 404),
              auth=ADMINS)
def update_project(request, project_id: DbId, payload: ProjectPatch):
    actor = actor_of(request)
    project = get_project_for(actor, project_id)
    return project_out(services.update_project(project, actor=actor, **payload.dict(
        exclude_unset=True)))


@router.get("/projects/{project_id}/members", response=responses(200, list[MemberOut], 401, 404))
def list_members(request, project_id: DbId):
    project = get_project_for(actor_of(request), project_id)
    return [member_out(m) for m in project.memberships.order_by("user__email")]


@router.post("/projects/{project_id}/members",
             response=responses(200, MemberOut, 400, 401, 403, 404), auth=CONFIGURERS)
def set_member(request, project_id: DbId, payload: MemberIn):
    actor = actor_of(request)
    project = get_project_for(actor, project_id)
    user = User.objects.filter(pk=payload.user).first()
    if user is None:
        raise NotFound("User not found.")
    grants = {k: v for k, v in payload.dict().items()
              if k in ("create_lead", "manage_leads", "view_all_leads") and v is not None}
    membership = account_services.set_membership(user, project, payload.role, actor=actor,
                                                 grants=grants)
    return member_out(membership)


@router.delete("/projects/{project_id}/members/{user_id}",
               response=responses(204, None, 401, 403, 404), auth=CONFIGURERS)
def remove_member(request, project_id: DbId, user_id: DbId):
    actor = actor_of(request)
    project = get_project_for(actor, project_id)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    account_services.remove_membership(user, project, actor=actor)
    return Status(204, None)


# --- sources ---------------------------------------------------------------------------------


@router.get("/sources", response=responses(200, list[SourceOut], 401))
def list_sources(request, project: DbId | None = None):
    qs = Source.objects.filter(project__in=projects_visible_to(actor_of(request)))
    if project is not None:
        qs = qs.filter(project_id=project)
    return [source_out(s) for s in qs.order_by("project_id", "name")]


@router.post("/sources", response=responses(201, SourceOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def create_source(request, payload: SourceIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    values = payload.dict(exclude={"project", "name"})
    source = services.create_source(project, payload.name, actor=actor, **values)
    return Status(201, source_out(source))


@router.get("/sources/{source_id}", response=responses(200, SourceOut, 401, 404))
def get_source(request, source_id: DbId):
    return source_out(get_source_for(actor_of(request), source_id))


@router.patch("/sources/{source_id}", response=responses(200, SourceOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_source(request, source_id: DbId, payload: SourcePatch):
    actor = actor_of(request)
    source = get_source_for(actor, source_id)
    return source_out(services.update_source(source, actor=actor, **payload.dict(
        exclude_unset=True)))


# --- pools -----------------------------------------------------------------------------------


@router.get("/pools", response=responses(200, list[PoolOut], 401))
def list_pools(request, project: DbId | None = None):
    qs = Pool.objects.filter(project__in=projects_visible_to(actor_of(request)))
    if project is not None:
        qs = qs.filter(project_id=project)
    return [pool_out(p) for p in qs.prefetch_related("members").order_by("project_id", "name")]


@router.post("/pools", response=responses(201, PoolOut, 400, 401, 403, 404, 409), auth=CONFIGURERS)
def create_pool(request, payload: PoolIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    pool = services.create_pool(project, payload.name, actor=actor, members=payload.members)
    return Status(201, pool_out(pool))


@router.get("/pools/{pool_id}", response=responses(200, PoolOut, 401, 404))
def get_pool(request, pool_id: DbId):
    return pool_out(get_pool_for(actor_of(request), pool_id))


@router.patch("/pools/{pool_id}", response=responses(200, PoolOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_pool(request, pool_id: DbId, payload: PoolPatch):
    actor = actor_of(request)
    pool = get_pool_for(actor, pool_id)
    return pool_out(services.update_pool(pool, actor=actor, **payload.dict(exclude_unset=True)))


@router.delete("/pools/{pool_id}", response=responses(204, None, 401, 403, 404, 409),
               auth=CONFIGURERS)
def delete_pool(request, pool_id: DbId):
    actor = actor_of(request)
    services.delete_pool(get_pool_for(actor, pool_id), actor=actor)
    return Status(204, None)


# --- stages ----------------------------------------------------------------------------------


@router.get("/stages", response=responses(200, list[StageOut], 401))
def list_stages(request, project: DbId | None = None):
    qs = Stage.objects.filter(project__in=projects_visible_to(actor_of(request)))
    if project is not None:
        qs = qs.filter(project_id=project)
    return [stage_out(s) for s in qs.order_by("project_id", "position", "id")]


@router.post("/stages", response=responses(201, StageOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def create_stage(request, payload: StageCreate):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    stage = services.create_stage(project, payload.name, payload.status, actor=actor,
                                  position=payload.position)
    return Status(201, stage_out(stage))


@router.get("/stages/{stage_id}", response=responses(200, StageOut, 401, 404))
def get_stage(request, stage_id: DbId):
    return stage_out(get_stage_for(actor_of(request), stage_id))


@router.patch("/stages/{stage_id}", response=responses(200, StageOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_stage(request, stage_id: DbId, payload: StagePatch):
    actor = actor_of(request)
    stage = get_stage_for(actor, stage_id)
    changes = payload.dict(exclude_unset=True)
    retired = changes.pop("retired", None)
    if changes or retired is None:
        stage = services.update_stage(stage, actor=actor, **changes)
    if retired is True:
        stage = services.retire_stage(stage, actor=actor)
    elif retired is False:
        stage = services.restore_stage(stage, actor=actor)
    return stage_out(stage)


@router.delete("/stages/{stage_id}", response=responses(204, None, 401, 403, 404, 409),
               auth=CONFIGURERS)
def delete_stage(request, stage_id: DbId):
    actor = actor_of(request)
    services.delete_stage(get_stage_for(actor, stage_id), actor=actor)
    return Status(204, None)


# --- lost reasons and call outcomes ----------------------------------------------------------


def _choice_routes(path: str, model: type[ManagedChoice], getter, create, update, delete):
    """List, create, read, change and delete one kind of a project's managed list."""
    op = path.strip("/").replace("-", "_")

    @router.get(path, response=responses(200, list[ChoiceOut], 401),
                operation_id=f"list_{op}")
    def list_choices(request, project: DbId | None = None, active: bool | None = None):
        qs = model.objects.filter(project__in=projects_visible_to(actor_of(request)))
        if project is not None:
            qs = qs.filter(project_id=project)
        if active is not None:
            qs = qs.filter(active=active)
        return [choice_out(c) for c in qs.order_by("project_id", "position", "id")]

    @router.post(path, response=responses(201, ChoiceOut, 400, 401, 403, 404, 409),
                 auth=CONFIGURERS, operation_id=f"create_{op}")
    def create_choice(request, payload: ChoiceIn):
        actor = actor_of(request)
        project = get_project_for(actor, payload.project)
        return Status(201, choice_out(create(project, payload.name, actor=actor)))

    @router.get(f"{path}/{{entry_id}}", response=responses(200, ChoiceOut, 401, 404),
                operation_id=f"get_{op}")
    def get_choice(request, entry_id: DbId):
        return choice_out(getter(actor_of(request), entry_id))

    @router.patch(f"{path}/{{entry_id}}",
                  response=responses(200, ChoiceOut, 400, 401, 403, 404, 409),
                  auth=CONFIGURERS, operation_id=f"update_{op}")
    def update_choice(request, entry_id: DbId, payload: ChoicePatch):
        actor = actor_of(request)
        entry = getter(actor, entry_id)
        return choice_out(update(entry, actor=actor, **payload.dict(exclude_unset=True)))

    @router.delete(f"{path}/{{entry_id}}", response=responses(204, None, 401, 403, 404, 409),
                   auth=CONFIGURERS, operation_id=f"delete_{op}")
    def delete_choice(request, entry_id: DbId):
        actor = actor_of(request)
        delete(getter(actor, entry_id), actor=actor)
        return Status(204, None)


_choice_routes("/lost-reasons", LostReason, get_lost_reason_for, services.create_lost_reason,
               services.update_lost_reason, services.delete_lost_reason)
_choice_routes("/call-outcomes", CallOutcome, get_call_outcome_for, services.create_call_outcome,
               services.update_call_outcome, services.delete_call_outcome)


# --- custom field definitions ----------------------------------------------------------------


def _after_cursor(cursor: str) -> Q:
    """Definitions after the cursor's (position, id), in the list's order."""
    _, position, pk = decode_cursor(cursor)
    if type(position) is not int or type(pk) is not int:
        raise ValidationFailed.one("cursor", "invalid", "Cursor is not valid.")
    return Q(position__gt=position) | Q(position=position, pk__gt=pk)


@router.get("/field-definitions", response=responses(200, FieldDefinitionPage, 400, 401, 404))
def list_field_definitions(request, project: DbId | None = None, limit: int | None = None,
                           cursor: str | None = None):
    """The custom fields of the projects the caller is a member of (`project`: of one), by
    position."""
    actor = actor_of(request)
    limit = check_limit(limit)
    chosen = get_project_for(actor, project) if project is not None else None
    qs = services.list_field_definitions(actor=actor, project=chosen)
    if cursor:
        qs = qs.filter(_after_cursor(cursor))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([False, rows[-1].position, rows[-1].pk])
    return {"items": [field_definition_out(d) for d in rows], "next_cursor": next_cursor}


@router.post("/field-definitions",
             response=responses(201, FieldDefinitionOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def create_field_definition(request, payload: FieldDefinitionIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    options = payload.dict(exclude={"project", "name"}, exclude_unset=True)
    if options.get("position") is None:
        options.pop("position", None)
    definition = services.create_field_definition(project, payload.name, actor=actor,
                                                  **options)
    return Status(201, field_definition_out(definition))


@router.get("/field-definitions/{definition_id}",
            response=responses(200, FieldDefinitionOut, 401, 404))
def get_field_definition(request, definition_id: DbId):
    return field_definition_out(get_field_definition_for(actor_of(request), definition_id))


@router.patch("/field-definitions/{definition_id}",
              response=responses(200, FieldDefinitionOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_field_definition(request, definition_id: DbId, payload: FieldDefinitionPatch):
    actor = actor_of(request)
    definition = get_field_definition_for(actor, definition_id)
    changes = payload.dict(exclude_unset=True)
    nulls = [FieldError(k, "invalid", f"{k} cannot be null.") for k, v in changes.items()
             if v is None]
    if nulls:
        raise ValidationFailed(nulls)
    return field_definition_out(services.update_field_definition(definition, actor=actor,
                                                                 **changes))


@router.delete("/field-definitions/{definition_id}",
               response=responses(204, None, 401, 403, 404, 409), auth=CONFIGURERS)
def delete_field_definition(request, definition_id: DbId):
    actor = actor_of(request)
    services.delete_field_definition(get_field_definition_for(actor, definition_id),
                                     actor=actor)
    return Status(204, None)


# --- settings --------------------------------------------------------------------------------


@router.get("/settings", response=responses(200, SettingsOut, 401, 403), auth=ADMINS)
def get_settings(request):
    from leadflow.accounts.access import require_admin

    require_admin(actor_of(request))
    return settings_out(SystemSettings.load())


@router.patch("/settings", response=responses(200, SettingsOut, 400, 401, 403), auth=ADMINS)
def update_settings(request, payload: SettingsPatch):
    changes = payload.dict(exclude_unset=True)
    return settings_out(services.update_settings(actor=actor_of(request), **changes))
