"""REST routes of tags: `/tags`, `/tag-rules` (configuration), `/leads/{id}/tags` and the
approvals of `/change-requests`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.core.api import CONFIGURERS, DbId, actor_of, responses
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.core.pagination import check_limit, paginate
from leadflow.crm.access import get_lead_for
from leadflow.crm.schemas import LeadOut
from leadflow.crm.selectors import lead_out
from leadflow.projects.access import get_project_for
from leadflow.tags import services
from leadflow.tags.access import (
    change_requests_visible_to,
    get_change_request_for,
    get_rule_for,
    get_tag_for,
    rules_visible_to,
    tags_visible_to,
)
from leadflow.tags.models import ChangeState
from leadflow.tags.selectors import (
    CHANGE_REQUEST_ORDER,
    change_request_out,
    decidable_by,
    rule_out,
    tag_out,
)

router = Router(tags=["tags"])


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class TagOut(Schema):
    id: int
    project: int
    name: str
    is_modifiable: bool


class TagIn(Strict):
    project: DbId
    name: str
    is_modifiable: bool = True


class TagPatch(Strict):
    name: str | None = None
    is_modifiable: bool | None = None


class TagRuleOut(Schema):
    id: int
    project: int
    tag: int
    action: str
    notify_owner: bool
    notify_managers: bool
    notify_users: list[int]
    message: str
    active: bool


class TagRuleIn(Strict):
    tag: DbId
    action: Literal["unassign", "retire", "notify"]
    notify_owner: bool = False
    notify_managers: bool = False
    notify_users: list[DbId] = []
    message: str = ""
    active: bool = True


class TagRulePatch(Strict):
    tag: DbId | None = None
    action: Literal["unassign", "retire", "notify"] | None = None
    notify_owner: bool | None = None
    notify_managers: bool | None = None
    notify_users: list[DbId] | None = None
    message: str | None = None
    active: bool | None = None


class LeadTagsIn(Strict):
    add: list[str] = []
    remove: list[str] = []


class ChangeRequestRef(Schema):
    change_request: int
    change_requests: list[int]


class ChangeRequestOut(Schema):
    id: int
    lead: int
    tag: int
    tag_name: str
    action: str
    state: str
    requested_by: int | None
    decided_by: int | None
    reason: str
    created_at: datetime
    decided_at: datetime | None


class ChangeRequestPage(Schema):
    items: list[ChangeRequestOut]
    next_cursor: str | None


class DecisionIn(Strict):
    reason: str = ""


# --- tags ------------------------------------------------------------------------------------


@router.get("/tags", response=responses(200, list[TagOut], 401))
def list_tags(request, project: DbId | None = None):
    qs = tags_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    return [tag_out(t) for t in qs.order_by("project_id", "key", "id")]


@router.post("/tags", response=responses(201, TagOut, 400, 401, 403, 404, 409), auth=CONFIGURERS)
def create_tag(request, payload: TagIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    tag = services.create_tag(project, payload.name, actor=actor,
                              is_modifiable=payload.is_modifiable)
    return Status(201, tag_out(tag))


@router.get("/tags/{tag_id}", response=responses(200, TagOut, 401, 404))
def get_tag(request, tag_id: DbId):
    return tag_out(get_tag_for(actor_of(request), tag_id))


@router.patch("/tags/{tag_id}", response=responses(200, TagOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_tag(request, tag_id: DbId, payload: TagPatch):
    actor = actor_of(request)
    tag = get_tag_for(actor, tag_id)
    return tag_out(services.update_tag(tag, actor=actor, **payload.dict(exclude_unset=True)))


@router.delete("/tags/{tag_id}", response=responses(204, None, 401, 403, 404, 409),
               auth=CONFIGURERS)
def delete_tag(request, tag_id: DbId):
    actor = actor_of(request)
    services.delete_tag(get_tag_for(actor, tag_id), actor=actor)
    return Status(204, None)


# --- tag rules -------------------------------------------------------------------------------


def _rule_tag(actor, tag_id: int):
    try:
        return get_tag_for(actor, tag_id)
    except NotFound:
        raise ValidationFailed.one("tag", "invalid", f"No tag {tag_id}.")


@router.get("/tag-rules", response=responses(200, list[TagRuleOut], 401, 403), auth=CONFIGURERS)
def list_rules(request, project: DbId | None = None):
    qs = rules_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    return [rule_out(r) for r in qs.prefetch_related("notify_users").order_by("project_id", "id")]


@router.post("/tag-rules", response=responses(201, TagRuleOut, 400, 401, 403, 404),
             auth=CONFIGURERS)
def create_rule(request, payload: TagRuleIn):
    actor = actor_of(request)
    tag = _rule_tag(actor, payload.tag)
    values = payload.dict(exclude={"tag", "action"})
    rule = services.create_tag_rule(tag.project, actor=actor, tag=tag, action=payload.action,
                                    **values)
    return Status(201, rule_out(rule))


@router.get("/tag-rules/{rule_id}", response=responses(200, TagRuleOut, 401, 403, 404),
            auth=CONFIGURERS)
def get_rule(request, rule_id: DbId):
    return rule_out(get_rule_for(actor_of(request), rule_id))


@router.patch("/tag-rules/{rule_id}", response=responses(200, TagRuleOut, 400, 401, 403, 404),
              auth=CONFIGURERS)
def update_rule(request, rule_id: DbId, payload: TagRulePatch):
    actor = actor_of(request)
    rule = get_rule_for(actor, rule_id)
    changes = payload.dict(exclude_unset=True)
    if changes.get("tag") is not None:
        changes["tag"] = _rule_tag(actor, changes["tag"])
    for name in ("tag", "action", "notify_owner", "notify_managers", "active"):
        if name in changes and changes[name] is None:
            raise ValidationFailed.one(name, "invalid", "This field cannot be null.")
    return rule_out(services.update_tag_rule(rule, actor=actor, **changes))


@router.delete("/tag-rules/{rule_id}", response=responses(204, None, 401, 403, 404),
               auth=CONFIGURERS)
def delete_rule(request, rule_id: DbId):
    actor = actor_of(request)
    services.delete_tag_rule(get_rule_for(actor, rule_id), actor=actor)
    return Status(204, None)


# --- a lead's tags ---------------------------------------------------------------------------


@router.post("/leads/{lead_id}/tags",
             response=responses(200, LeadOut, 400, 401, 403, 404) | {202: ChangeRequestRef})
def change_lead_tags(request, lead_id: DbId, payload: LeadTagsIn):
    """200 with the lead when everything asked for is applied; 202 with the change request(s)
    when a non-modifiable tag waits for a manager (modifiable ones of the call are applied)."""
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "view")
    change = services.change_lead_tags(lead, actor=actor, add=payload.add, remove=payload.remove)
    if change.change_requests:
        ids = [r.pk for r in change.change_requests]
        return Status(202, {"change_request": ids[0], "change_requests": ids})
    return lead_out(change.lead)


# --- change requests -------------------------------------------------------------------------


@router.get("/change-requests", response=responses(200, ChangeRequestPage, 400, 401))
def list_change_requests(request, state: Literal["pending", "approved", "rejected"] | None = None,
                         project: DbId | None = None, lead: DbId | None = None,
                         mine: bool | None = None, limit: int | None = None,
                         cursor: str | None = None):
    """Managers: the requests of the projects they manage, pending ones unless `state` says
    otherwise (`mine=true`: the ones they asked for). Agents: the requests they made, in every
    state unless `state` says otherwise."""
    actor = actor_of(request)
    decides = decidable_by(actor)
    if mine or (actor.user is not None and not actor.user.is_admin and not decides.exists()):
        qs = change_requests_visible_to(actor).filter(requested_by_id=actor.user.pk)
    else:
        qs = decides
        state = state or ChangeState.PENDING
    if state is not None:
        qs = qs.filter(state=state)
    if project is not None:
        qs = qs.filter(project_id=project)
    if lead is not None:
        qs = qs.filter(lead_id=lead)
    rows, next_cursor = paginate(qs.select_related("tag"), CHANGE_REQUEST_ORDER,
                                 limit=check_limit(limit), cursor=cursor)
    return {"items": [change_request_out(r) for r in rows], "next_cursor": next_cursor}


@router.get("/change-requests/{request_id}",
            response=responses(200, ChangeRequestOut, 401, 404))
def get_change_request(request, request_id: DbId):
    return change_request_out(get_change_request_for(actor_of(request), request_id))


@router.post("/change-requests/{request_id}/approve",
             response=responses(200, ChangeRequestOut, 400, 401, 403, 404, 409))
def approve_change_request(request, request_id: DbId, payload: DecisionIn | None = None):
    actor = actor_of(request)
    found = get_change_request_for(actor, request_id)
    decided = services.approve_change_request(found, actor=actor,
                                              reason=payload.reason if payload else "")
    return change_request_out(decided)


@router.post("/change-requests/{request_id}/reject",
             response=responses(200, ChangeRequestOut, 400, 401, 403, 404, 409))
def reject_change_request(request, request_id: DbId, payload: DecisionIn | None = None):
    actor = actor_of(request)
    found = get_change_request_for(actor, request_id)
    decided = services.reject_change_request(found, actor=actor,
                                             reason=payload.reason if payload else "")
    return change_request_out(decided)
