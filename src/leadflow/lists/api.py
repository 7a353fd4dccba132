"""REST routes of lead lists and campaigns (configuration: managers and admins, DESIGN §2):
`/lists`, `/lists/{id}/leads`, `/campaigns`, `/campaigns/{id}/lists`, `/campaigns/{id}/leads`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.core.api import CONFIGURERS, DbId, actor_of, responses
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.core.pagination import check_limit, paginate
from leadflow.crm.access import get_lead_for, leads_visible_to
from leadflow.crm.filters import ORDERINGS
from leadflow.crm.schemas import LeadOut, LeadPage
from leadflow.crm.selectors import lead_out
from leadflow.lists import services
from leadflow.lists.access import (
    campaigns_visible_to,
    get_campaign_for,
    get_list_for,
    lists_visible_to,
)
from leadflow.lists.models import CampaignList
from leadflow.lists.selectors import (
    NAME_ORDER,
    campaign_leads,
    campaign_out,
    list_out,
    own_campaigns,
)
from leadflow.projects.access import get_project_for
from leadflow.tags.selectors import with_tags

router = Router(tags=["lists"])


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ListOut(Schema):
    id: int
    project: int
    name: str
    timezone: str
    owner: int | None
    description: str
    enabled: bool
    campaign: int | None
    created_at: datetime
    updated_at: datetime


class ListPage(Schema):
    items: list[ListOut]
    next_cursor: str | None


class ListIn(Strict):
    project: DbId
    name: str
    timezone: str = ""
    owner: DbId | None = None
    description: str = ""
    enabled: bool = True


class ListPatch(Strict):
    project: Any = None
    name: str | None = None
    timezone: str | None = None
    owner: DbId | None = None
    description: str | None = None
    enabled: bool | None = None


class LeadRef(Strict):
    lead: DbId


class CampaignOut(Schema):
    id: int
    project: int
    name: str
    channel: str
    description: str
    active: bool
    own_list: int
    lists: list[int]
    created_at: datetime
    updated_at: datetime


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None


class CampaignIn(Strict):
    project: DbId
    name: str
    channel: Literal["call", "mail"] = "call"
    description: str = ""
    active: bool = True


class CampaignPatch(Strict):
    project: Any = None
    name: str | None = None
    channel: Literal["call", "mail"] | None = None
    description: str | None = None
    active: bool | None = None


class ListsRef(Strict):
    lists: list[DbId]


def _lead_page(actor, leads, limit, cursor) -> dict:
    rows, next_cursor = paginate(with_tags(leads), ORDERINGS["-created_at"],
                                 limit=check_limit(limit), cursor=cursor)
    now = timezone.now()
    return {"items": [lead_out(lead, now) for lead in rows], "next_cursor": next_cursor}


def _lead(actor, lead_id: int):
    """A lead named in a body: one the caller sees, else a field error."""
    try:
        return get_lead_for(actor, lead_id, "view")
    except NotFound:
        raise ValidationFailed.one("lead", "invalid", f"No lead {lead_id}.")


# --- lists ----------------------------------------------------------------------------------


@router.get("/lists", response=responses(200, ListPage, 400, 401, 403), auth=CONFIGURERS)
def list_lists(request, project: DbId | None = None, enabled: bool | None = None,
               limit: int | None = None, cursor: str | None = None):
    """The lists of the projects the caller manages, by name; a campaign's own list names
    its campaign."""
    qs = lists_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    rows, next_cursor = paginate(qs, NAME_ORDER, limit=check_limit(limit), cursor=cursor)
    owners = own_campaigns(rows)
    return {"items": [list_out(r, owners.get(r.pk)) for r in rows], "next_cursor": next_cursor}


@router.post("/lists", response=responses(201, ListOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def create_list(request, payload: ListIn):
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    lead_list = services.create_list(
        project, actor=actor, name=payload.name, timezone_name=payload.timezone,
        owner=payload.owner, description=payload.description, enabled=payload.enabled)
    return Status(201, list_out(lead_list))


@router.get("/lists/{list_id}", response=responses(200, ListOut, 401, 403, 404),
            auth=CONFIGURERS)
def get_list(request, list_id: DbId):
    lead_list = get_list_for(actor_of(request), list_id)
    return list_out(lead_list, own_campaigns([lead_list]).get(lead_list.pk))


@router.patch("/lists/{list_id}", response=responses(200, ListOut, 400, 401, 403, 404, 409),
              auth=CONFIGURERS)
def update_list(request, list_id: DbId, payload: ListPatch):
    actor = actor_of(request)
    lead_list = get_list_for(actor, list_id)
    changes = payload.dict(exclude_unset=True)
    if "timezone" in changes:
        changes["timezone"] = changes["timezone"] or ""
    lead_list = services.update_list(lead_list, actor=actor, **changes)
    return list_out(lead_list, own_campaigns([lead_list]).get(lead_list.pk))


@router.delete("/lists/{list_id}", response=responses(204, None, 401, 403, 404, 409),
               auth=CONFIGURERS)
def delete_list(request, list_id: DbId):
    """Deletes the list; its leads stay, on no list."""
    actor = actor_of(request)
    services.delete_list(get_list_for(actor, list_id), actor=actor)
    return Status(204, None)


@router.get("/lists/{list_id}/leads", response=responses(200, LeadPage, 400, 401, 403, 404),
            auth=CONFIGURERS)
def list_leads(request, list_id: DbId, limit: int | None = None, cursor: str | None = None):
    actor = actor_of(request)
    lead_list = get_list_for(actor, list_id)
    leads = leads_visible_to(actor).filter(list_id=lead_list.pk)
    return _lead_page(actor, leads, limit, cursor)


@router.post("/lists/{list_id}/leads", response=responses(200, LeadOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def add_lead_to_list(request, list_id: DbId, payload: LeadRef):
    """Makes this list the lead's home list (it leaves the list it was on)."""
    actor = actor_of(request)
    lead_list = get_list_for(actor, list_id)
    lead = services.add_lead_to_list(lead_list, _lead(actor, payload.lead), actor=actor)
    return lead_out(lead)


@router.delete("/lists/{list_id}/leads/{lead_id}",
               response=responses(204, None, 401, 403, 404, 409), auth=CONFIGURERS)
def remove_lead_from_list(request, list_id: DbId, lead_id: DbId):
    actor = actor_of(request)
    lead_list = get_list_for(actor, list_id)
    lead = get_lead_for(actor, lead_id, "view")
    services.remove_lead_from_list(lead, actor=actor, lead_list=lead_list)
    return Status(204, None)


# --- campaigns ------------------------------------------------------------------------------


def _assigned(campaigns) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {c.pk: [] for c in campaigns}
    rows = CampaignList.objects.filter(campaign__in=list(out)).values_list("campaign_id",
                                                                           "list_id")
    for campaign_id, list_id in rows:
        out[campaign_id].append(list_id)
    return out


@router.get("/campaigns", response=responses(200, CampaignPage, 400, 401, 403),
            auth=CONFIGURERS)
def list_campaigns(request, project: DbId | None = None, active: bool | None = None,
                   limit: int | None = None, cursor: str | None = None):
    qs = campaigns_visible_to(actor_of(request))
    if project is not None:
        qs = qs.filter(project_id=project)
    if active is not None:
        qs = qs.filter(active=active)
    rows, next_cursor = paginate(qs, NAME_ORDER, limit=check_limit(limit), cursor=cursor)
    assigned = _assigned(rows)
    return {"items": [campaign_out(c, assigned[c.pk]) for c in rows],
            "next_cursor": next_cursor}


@router.post("/campaigns", response=responses(201, CampaignOut, 400, 401, 403, 404, 409),
             auth=CONFIGURERS)
def create_campaign(request, payload: CampaignIn):
    """Creates the campaign and its own list."""
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    campaign = services.create_campaign(
        project, actor=actor, name=payload.name, channel=payload.channel,
        description=payload.description, active=payload.active)
    return Status(201, campaign_out(campaign, []))


@router.get("/campaigns/{campaign_id}", response=responses(200, CampaignOut, 401, 403, 404),
            auth=CONFIGURERS)
def get_campaign(request, campaign_id: DbId):
    return campaign_out(get_campaign_for(actor_of(request), campaign_id))


@router.patch("/campaigns/{campaign_id}",
              response=responses(200, CampaignOut, 400, 401, 403, 404, 409), auth=CONFIGURERS)
def update_campaign(request, campaign_id: DbId, payload: CampaignPatch):
    actor = actor_of(request)
    campaign = get_campaign_for(actor, campaign_id)
    changes = payload.dict(exclude_unset=True)
    for name in ("channel",):
        if name in changes and changes[name] is None:
            raise ValidationFailed.one(name, "invalid", "This field cannot be null.")
    return campaign_out(services.update_campaign(campaign, actor=actor, **changes))


@router.delete("/campaigns/{campaign_id}", response=responses(204, None, 401, 403, 404),
               auth=CONFIGURERS)
def delete_campaign(request, campaign_id: DbId):
    """Deletes the campaign and its own list (whose leads stay, on no list)."""
    actor = actor_of(request)
    services.delete_campaign(get_campaign_for(actor, campaign_id), actor=actor)
    return Status(204, None)


def _lists(actor, ids: list[int]):
    found = {lead_list.pk: lead_list
             for lead_list in lists_visible_to(actor).filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed.one("lists", "invalid",
                                   f"No list {', '.join(str(i) for i in missing)}.")
    return [found[i] for i in dict.fromkeys(ids)]


@router.post("/campaigns/{campaign_id}/lists",
             response=responses(200, CampaignOut, 400, 401, 403, 404), auth=CONFIGURERS)
def assign_lists(request, campaign_id: DbId, payload: ListsRef):
    """Assigns lists of the campaign's project to it (already assigned ones stay)."""
    actor = actor_of(request)
    campaign = get_campaign_for(actor, campaign_id)
    services.assign_lists(campaign, _lists(actor, payload.lists), actor=actor)
    return campaign_out(campaign)


@router.delete("/campaigns/{campaign_id}/lists/{list_id}",
               response=responses(200, CampaignOut, 401, 403, 404), auth=CONFIGURERS)
def unassign_list(request, campaign_id: DbId, list_id: DbId):
    """Takes the list off the campaign; 404 when it is not assigned to it."""
    actor = actor_of(request)
    campaign = get_campaign_for(actor, campaign_id)
    lead_list = get_list_for(actor, list_id)
    if not services.unassign_lists(campaign, [lead_list], actor=actor):
        raise NotFound("The list is not assigned to this campaign.")
    return campaign_out(campaign)


@router.get("/campaigns/{campaign_id}/leads",
            response=responses(200, LeadPage, 400, 401, 403, 404), auth=CONFIGURERS)
def list_campaign_leads(request, campaign_id: DbId, limit: int | None = None,
                        cursor: str | None = None):
    """The campaign's leads: those of its own list and of its assigned lists, enabled ones
    only."""
    actor = actor_of(request)
    campaign = get_campaign_for(actor, campaign_id)
    return _lead_page(actor, campaign_leads(campaign, leads_visible_to(actor)), limit, cursor)


@router.post("/campaigns/{campaign_id}/leads",
             response=responses(200, LeadOut, 400, 401, 403, 404, 409), auth=CONFIGURERS)
def add_lead_to_campaign(request, campaign_id: DbId, payload: LeadRef):
    """Puts the lead in the campaign's own list."""
    actor = actor_of(request)
    campaign = get_campaign_for(actor, campaign_id)
    lead = services.add_lead_to_campaign(campaign, _lead(actor, payload.lead), actor=actor)
    return lead_out(lead)
