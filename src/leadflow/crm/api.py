"""REST routes of leads: list, create, read, edit, delete, stage, timeline."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict

from leadflow.accounts.models import User
from leadflow.core.api import DbId, actor_of, responses
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.core.pagination import check_limit, paginate
from leadflow.crm import services
from leadflow.crm.access import get_lead_for, leads_visible_to
from leadflow.crm.contact import LeadInput
from leadflow.crm.filters import (
    ORDERINGS,
    LeadFilters,
    apply_lead_filters,
    check_filters,
    is_phone_search,
)
from leadflow.crm.models import sees_part_of_projects
from leadflow.crm.schemas import EventPage, LeadIn, LeadOut, LeadPage, LeadPatch, StageIn
from leadflow.crm.selectors import event_out, lead_out, timeline_for
from leadflow.projects.access import (
    get_source_for,
    get_stage_for,
    project_for_new_lead,
    projects_visible_to,
)

router = Router(tags=["leads"])


class LeadQuery(Schema):
    q: str | None = None
    project: DbId | None = None
    status: str | None = None
    stage: DbId | None = None
    source: DbId | None = None
    owner: DbId | None = None
    pool: DbId | None = None
    tag: str | None = None
    unassigned: bool | None = None
    retired: bool | None = None
    list: DbId | None = None
    bucket: DbId | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    next_call_before: datetime | None = None
    ordering: str = "-created_at"
    limit: int | None = None
    cursor: str | None = None


def _region(actor, project_id):
    """The region national numbers in `q` are read with: the project's, or the one region
    all the caller's projects share (admins and members of several projects included)."""
    if project_id is not None:
        return getattr(project_for_new_lead(actor, project_id), "default_region", None)
    regions = projects_visible_to(actor).order_by().values_list("default_region", flat=True)
    found = set(regions.distinct()[:2])
    return found.pop() if len(found) == 1 else None


@router.get("/leads", response=responses(200, LeadPage, 400, 401))
def list_leads(request, query: Query[LeadQuery]):
    actor = actor_of(request)
    values = query.dict()
    limit, cursor = check_limit(values.pop("limit")), values.pop("cursor")
    filters = LeadFilters(**values)
    check_filters(filters)
    # Only a phone search reads the region; a named project is still checked (404) as before.
    region = None
    if filters.q and (filters.project is not None or is_phone_search(filters.q)):
        region = _region(actor, filters.project)
    qs = apply_lead_filters(
        leads_visible_to(actor), filters, region=region,
        partial_view=sees_part_of_projects(actor.user),
    )
    rows, next_cursor = paginate(qs, ORDERINGS[filters.ordering], limit=limit, cursor=cursor)
    now = timezone.now()
    return {"items": [lead_out(lead, now) for lead in rows], "next_cursor": next_cursor}


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ValidationFailed.one(field, "invalid", f"No user {user_id}.")
    return user


@router.post("/leads", response=responses(201, LeadOut, 400, 401, 403, 404, 409) | {200: LeadOut})
def create_lead(request, payload: LeadIn):
    actor = actor_of(request)
    project = project_for_new_lead(actor, payload.project)
    phones = list(payload.phones or [])
    if payload.phone:
        phones.insert(0, payload.phone)
    data = LeadInput(
        name=payload.name, email=payload.email, phones=phones, company=payload.company,
        timezone=payload.timezone, country=payload.country, language=payload.language,
        custom=payload.custom,
    )
    source = get_source_for(actor, payload.source) if payload.source is not None else None
    result = services.create_lead(
        project, data, actor=actor, owner=_user(payload.owner, "owner"), source=source,
        on_duplicate=payload.on_duplicate or "reject",
    )
    return Status((201 if result.created else 200), lead_out(result.lead))


@router.get("/leads/{lead_id}", response=responses(200, LeadOut, 401, 404))
def get_lead(request, lead_id: int):
    return lead_out(get_lead_for(actor_of(request), lead_id, "view"))


@router.patch("/leads/{lead_id}", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def update_lead(request, lead_id: int, payload: LeadPatch):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "change")
    changes = payload.dict(exclude_unset=True)
    if "phone" in changes:
        phone = changes.pop("phone")
        changes.setdefault("phones", [phone] if phone else [])
    return lead_out(services.update_lead(lead, changes, actor=actor))


@router.delete("/leads/{lead_id}", response=responses(204, None, 401, 403, 404))
def delete_lead(request, lead_id: int):
    actor = actor_of(request)
    services.delete_lead(get_lead_for(actor, lead_id, "delete"), actor=actor)
    return Status(204, None)


@router.post("/leads/{lead_id}/stage", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def set_stage(request, lead_id: int, payload: StageIn):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "stage")
    try:
        stage = get_stage_for(actor, payload.stage)
    except NotFound:
        raise ValidationFailed.one("stage", "invalid", f"No stage {payload.stage}.")
    lead = services.set_stage(
        lead, stage, actor=actor, lost_reason=payload.lost_reason, reason=payload.reason
    )
    return lead_out(lead)


@router.get("/leads/{lead_id}/timeline", response=responses(200, EventPage, 400, 401, 404))
def lead_timeline(request, lead_id: int, limit: int | None = None, cursor: str | None = None):
    lead = get_lead_for(actor_of(request), lead_id, "view")
    events, next_cursor = timeline_for(lead, limit=check_limit(limit), cursor=cursor)
    return {"items": [event_out(e) for e in events], "next_cursor": next_cursor}


class MergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    into: DbId


@router.post("/leads/{lead_id}/merge", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def merge_lead(request, lead_id: DbId, payload: MergeIn):
    actor = actor_of(request)
    into = get_lead_for(actor, payload.into, "manage")
    lead = get_lead_for(actor, lead_id, "manage", merged_into=into)
    return lead_out(services.merge_leads(lead, into, actor=actor))
