"""REST routes of routing configuration: offices, groups and distribution rules (managers and
admins), and the away flag of a project's members."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.accounts import services as account_services
from leadflow.accounts.models import User
from leadflow.core.api import CONFIGURERS, DbId, actor_of, responses
from leadflow.core.errors import NotFound
from leadflow.projects.access import get_project_for
from leadflow.routing.access import (
    get_group_for,
    get_office_for,
    get_rule_for,
    groups_visible_to,
    offices_visible_to,
    rules_visible_to,
)
from leadflow.routing.models import DistributionRule
from leadflow.routing.services import config as services
from leadflow.routing.services.router import Router as RotationRouter

router = Router(tags=["routing"])

CustomValue = str | int | float | bool | list[str | int | float | bool]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TeamOut(Schema):
    id: int
    project: int
    name: str
    members: list[int]


class TeamIn(Strict):
    project: DbId
    name: str
    members: list[DbId] = []


class TeamPatch(Strict):
    name: str | None = None
    members: list[DbId] | None = None


class Conditions(Schema):
    sources: list[int]
    buckets: list[int]
    countries: list[str]
    languages: list[str]
    custom: dict[str, CustomValue]


class ConditionsIn(Strict):
    sources: list[DbId] | None = None
    buckets: list[DbId] | None = None
    countries: list[str] | None = None
    languages: list[str] | None = None
    custom: dict[str, CustomValue] | None = None


class DistributionRuleOut(Schema):
    id: int
    project: int
    name: str
    position: int
    active: bool
    pool: int
    method: str
    conditions: Conditions
    weights: dict[str, int]
    caps: dict[str, int | None]
    agent_cap: int | None
    up_next: int | None


class DistributionRuleIn(Strict):
    project: DbId
    name: str
    pool: DbId
    method: Literal["round_robin", "weighted", "least_loaded"] = "round_robin"
    active: bool = True
    conditions: ConditionsIn | None = None
    weights: dict[str, int] = {}
    caps: dict[str, int | None] = {}
    agent_cap: int | None = None


class DistributionRulePatch(Strict):
    name: str | None = None
    pool: DbId | None = None
    method: Literal["round_robin", "weighted", "least_loaded"] | None = None
    active: bool | None = None
    conditions: ConditionsIn | None = None
    weights: dict[str, int] | None = None
    caps: dict[str, int | None] | None = None
    agent_cap: int | None = None


class MoveIn(Strict):
    up: bool


class AwayIn(Strict):
    away: bool
    user: DbId | None = None


class AwayOut(Schema):
    user: int
    project: int
    role: str
    away: bool


def team_out(team) -> dict:
    return {"id": team.pk, "project": team.project_id, "name": team.name,
            "members": sorted(m.pk for m in team.members.all())}


def rule_out(rule: DistributionRule, routers: dict[int, RotationRouter] | None = None) -> dict:
    """The API shape of a rule; `up_next` is whom it would pick now (read-only: the rotation
    does not move). One router per project shares member and load reads across a list."""
    routers = routers if routers is not None else {}
    rotation = routers.setdefault(rule.project_id, RotationRouter(rule.project_id))
    return {
        "id": rule.pk, "project": rule.project_id, "name": rule.name,
        "position": rule.position, "active": rule.active, "pool": rule.pool_id,
        "method": rule.method,
        "conditions": {"sources": rule.sources, "buckets": rule.buckets,
                       "countries": rule.countries, "languages": rule.languages,
                       "custom": rule.custom},
        "weights": rule.weights, "caps": rule.caps, "agent_cap": rule.agent_cap,
        "up_next": rotation.up_next(rule),
    }


def rule_changes(payload: DistributionRuleIn | DistributionRulePatch, *,
                 exclude=()) -> dict[str, Any]:
    """The service's keyword arguments: conditions flattened, only what the body named."""
    changes = payload.dict(exclude_unset=True, exclude={"conditions", *exclude})
    if payload.conditions is not None:
        changes.update(payload.conditions.dict(exclude_unset=True))
    return changes


# --- offices and groups ------------------------------------------------------------------------


def _team_routes(path: str, label: str, visible, get_for, create, update, delete) -> None:
    """The five routes of a team kind (offices or groups), the same for both."""

    @router.get(f"/{path}", response=responses(200, list[TeamOut], 401, 403),
                auth=CONFIGURERS, operation_id=f"list_{path}", summary=f"List {path}")
    def list_teams(request, project: DbId | None = None):
        qs = visible(actor_of(request))
        if project is not None:
            qs = qs.filter(project_id=project)
        return [team_out(t) for t in qs.prefetch_related("members").order_by("project_id",
                                                                              "name")]

    @router.post(f"/{path}", response=responses(201, TeamOut, 400, 401, 403, 404, 409),
                 auth=CONFIGURERS, operation_id=f"create_{path}", summary=f"Create {label}")
    def create_team(request, payload: TeamIn):
        actor = actor_of(request)
        project = get_project_for(actor, payload.project)
        team = create(project, payload.name, actor=actor, members=payload.members)
        return Status(201, team_out(team))

    @router.get(f"/{path}/{{team_id}}", response=responses(200, TeamOut, 401, 403, 404),
                auth=CONFIGURERS, operation_id=f"get_{path}", summary=f"Get {label}")
    def get_team(request, team_id: DbId):
        return team_out(get_for(actor_of(request), team_id))

    @router.patch(f"/{path}/{{team_id}}",
                  response=responses(200, TeamOut, 400, 401, 403, 404, 409), auth=CONFIGURERS,
                  operation_id=f"update_{path}", summary=f"Update {label}")
    def update_team(request, team_id: DbId, payload: TeamPatch):
        actor = actor_of(request)
        team = get_for(actor, team_id)
        return team_out(update(team, actor=actor, **payload.dict(exclude_unset=True)))

    @router.delete(f"/{path}/{{team_id}}", response=responses(204, None, 401, 403, 404),
                   auth=CONFIGURERS, operation_id=f"delete_{path}", summary=f"Delete {label}")
    def delete_team(request, team_id: DbId):
        actor = actor_of(request)
        delete(get_for(actor, team_id), actor=actor)
        return Status(204, None)


_team_routes("offices", "office", offices_visible_to, get_office_for, services.create_office,
             services.update_office, services.delete_office)
_team_routes("groups", "group", groups_visible_to, get_group_for, services.create_group,
             services.update_group, services.delete_group)


# --- distribution rules ------------------------------------------------------------------------


@router.get("/distribution-rules", response=responses(200, list[DistributionRuleOut], 401, 403),
            auth=CONFIGURERS)
def list_rules(request, project: DbId | None = None):
    """Rules in the order they are tried, each with who is up next."""
    qs = rules_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    routers: dict[int, RotationRouter] = {}
    return [rule_out(r, routers) for r in qs.order_by("project_id", "position", "id")]


@router.post("/distribution-rules",
             response=responses(201, DistributionRuleOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def create_rule(request, payload: DistributionRuleIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    rule = services.create_rule(project, actor=actor,
                                **rule_changes(payload, exclude={"project"}))
    return Status(201, rule_out(rule))


@router.get("/distribution-rules/{rule_id}",
            response=responses(200, DistributionRuleOut, 401, 403, 404), auth=CONFIGURERS)
def get_rule(request, rule_id: DbId):
    return rule_out(get_rule_for(actor_of(request), rule_id))


@router.patch("/distribution-rules/{rule_id}",
              response=responses(200, DistributionRuleOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_rule(request, rule_id: DbId, payload: DistributionRulePatch):
    actor = actor_of(request)
    rule = get_rule_for(actor, rule_id)
    return rule_out(services.update_rule(rule, actor=actor, **rule_changes(payload)))


@router.post("/distribution-rules/{rule_id}/move",
             response=responses(200, DistributionRuleOut, 400, 401, 403, 404), auth=CONFIGURERS)
def move_rule(request, rule_id: DbId, payload: MoveIn):
    actor = actor_of(request)
    rule = get_rule_for(actor, rule_id)
    return rule_out(services.move_rule(rule, actor=actor, up=payload.up))


@router.delete("/distribution-rules/{rule_id}", response=responses(204, None, 401, 403, 404),
               auth=CONFIGURERS)
def delete_rule(request, rule_id: DbId):
    actor = actor_of(request)
    services.delete_rule(get_rule_for(actor, rule_id), actor=actor)
    return Status(204, None)


# --- away flag ---------------------------------------------------------------------------------


@router.patch("/projects/{project_id}/away", response=responses(200, AwayOut, 400, 401, 403, 404))
def set_away(request, project_id: DbId, payload: AwayIn):
    """Mark a member away (skipped by automatic routing) or back: members their own flag,
    managers anyone's in the project."""
    actor = actor_of(request)
    project = get_project_for(actor, project_id)
    user = request.auth
    if payload.user is not None and payload.user != user.pk:
        user = User.objects.filter(pk=payload.user).first()
        if user is None:
            raise NotFound("User not found.")
    membership = account_services.set_away(project.pk, user, payload.away, actor=actor)
    return {"user": membership.user_id, "project": membership.project_id,
            "role": membership.role, "away": membership.away}
