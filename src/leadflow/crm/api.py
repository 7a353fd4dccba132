"""REST routes of leads: list, create, read, edit, delete, stage, timeline, merge; ownership
(assign, unassign, release, claim, take ownership, route, next from a pool, bulk) and offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError

from leadflow.accounts.models import User
from leadflow.core.api import DbId, Instant, actor_of, responses
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.core.pagination import check_limit, paginate
from leadflow.crm import services
from leadflow.crm.access import (
    get_lead_for,
    get_lead_in_my_pools,
    get_offer_for,
    leads_visible_to,
    offers_for_recipient,
)
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
from leadflow.crm.selectors import OFFER_ORDER, event_out, lead_out, offer_out, timeline_for
from leadflow.crm.services import ownership
from leadflow.projects.access import (
    get_pool_for,
    get_source_for,
    get_stage_for,
    project_for_new_lead,
    projects_visible_to,
)
from leadflow.routing.models import Offer
from leadflow.tags.selectors import with_tags

router = Router(tags=["leads"])


class LeadFilterFields(Schema):
    """The lead filters of `/leads` (DESIGN §4), for every route that takes them."""

    q: str | None = None
    project: DbId | None = None
    status: str | None = None
    stage: DbId | None = None
    source: DbId | None = None
    owner: DbId | None = None
    pool: DbId | None = None
    tag: str | None = None
    unassigned: bool | None = None
    fresh: bool | None = None
    retired: bool | None = None
    list: DbId | None = None
    bucket: DbId | None = None
    created_after: Instant | None = None
    created_before: Instant | None = None
    next_call_before: Instant | None = None


class LeadQuery(LeadFilterFields):
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
    rows, next_cursor = paginate(with_tags(qs), ORDERINGS[filters.ordering], limit=limit,
                                 cursor=cursor)
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
        on_duplicate=payload.on_duplicate or "reject", client=_client(actor, payload.client),
    )
    return Status((201 if result.created else 200), lead_out(result.lead))


def _client(actor, client_id: int | None):
    """The client an upsell lead is for: one the caller sees, else a field error."""
    if client_id is None:
        return None
    from leadflow.clients.access import get_client_for

    try:
        return get_client_for(actor, client_id, "view")
    except NotFound:
        raise ValidationFailed.one("client", "invalid", f"No client {client_id}.")


# Declared before /leads/{lead_id}, whose pattern would otherwise take "bulk".
class BulkIn(Schema):
    model_config = ConfigDict(extra="forbid")

    action: str
    ids: list[DbId] | None = None
    filter: dict[str, Any] | None = None
    params: dict[str, Any] = {}


class BulkOut(Schema):
    done: int
    skipped: int
    errors: list[dict[str, Any]]


class JobRef(Schema):
    job: int


@router.post("/leads/bulk", response=responses(200, BulkOut, 400, 401, 403, 404) | {202: JobRef})
def bulk_leads(request, payload: BulkIn):
    actor = actor_of(request)
    if (payload.ids is None) == (payload.filter is None):
        raise ValidationFailed.one("ids", "required", "Give either `ids` or `filter`.")
    if payload.action not in ownership.BULK_ACTIONS:
        raise ValidationFailed.one("action", "invalid", "Action must be one of: "
                                   f"{', '.join(ownership.BULK_ACTIONS)}.")
    if payload.ids is not None:
        ids = list(dict.fromkeys(payload.ids))
        if len(ids) > ownership.BULK_LIMIT:
            raise ValidationFailed.one("ids", "too_many",
                                       f"At most {ownership.BULK_LIMIT} ids; use a filter.")
        found = {lead.pk: lead for lead in leads_visible_to(actor).select_related(
            "project", "pool", "source", "bucket", "stage").filter(pk__in=ids)}
        leads = [found[i] for i in ids if i in found]
        result = services.bulk_leads(payload.action, leads, payload.params, actor=actor)
        result["errors"] = [{"lead": i, "code": "not_found", "detail": "Lead not found."}
                            for i in ids if i not in found] + result["errors"]
        return result
    filters = _bulk_filters(payload.filter)
    job = services.start_bulk_job(payload.action, filters, payload.params, actor=actor)
    if job is None:
        qs = apply_lead_filters(leads_visible_to(actor), filters)
        leads = list(qs.select_related("project", "pool", "source", "bucket", "stage")
                     .order_by("pk")[: ownership.BULK_LIMIT])
        return services.bulk_leads(payload.action, leads, payload.params, actor=actor)
    return Status(202, {"job": job.pk})


def lead_filters_from(values: dict) -> LeadFilters:
    """Lead filters given as a JSON object (bulk actions, exports); unknown names and bad
    values are 400."""
    return _bulk_filters(values)


def _bulk_filters(values: dict) -> LeadFilters:
    names = set(LeadFilters.names())
    unknown = set(values) - names
    if unknown:
        raise ValidationFailed.one("filter", "unknown_field",
                                   f"Unknown filters: {', '.join(sorted(unknown))}.")
    try:
        filters = LeadFilters(**{k: v for k, v in LeadQuery(**values).dict().items()
                                 if k in names})
    except PydanticValidationError as exc:
        raise ValidationFailed.one("filter", "invalid", str(exc.errors()[0]["msg"]))
    check_filters(filters)
    return filters


@router.get("/leads/{lead_id}", response=responses(200, LeadOut, 401, 404))
def get_lead(request, lead_id: DbId):
    return lead_out(get_lead_for(actor_of(request), lead_id, "view"))


@router.patch("/leads/{lead_id}", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def update_lead(request, lead_id: DbId, payload: LeadPatch):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "change")
    changes = payload.dict(exclude_unset=True)
    if "phone" in changes:
        phone = changes.pop("phone")
        changes.setdefault("phones", [phone] if phone else [])
    return lead_out(services.update_lead(lead, changes, actor=actor))


@router.delete("/leads/{lead_id}", response=responses(204, None, 401, 403, 404))
def delete_lead(request, lead_id: DbId):
    actor = actor_of(request)
    services.delete_lead(get_lead_for(actor, lead_id, "delete"), actor=actor)
    return Status(204, None)


@router.post("/leads/{lead_id}/stage", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def set_stage(request, lead_id: DbId, payload: StageIn):
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
def lead_timeline(request, lead_id: DbId, limit: int | None = None, cursor: str | None = None):
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


# --- ownership ------------------------------------------------------------------------------


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    pool: DbId | None = None
    owner: DbId | None = None
    note: str = ""


class ReasonIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


@router.post("/leads/{lead_id}/assign", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def assign_lead(request, lead_id: DbId, payload: AssignIn):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "manage")
    given = payload.model_fields_set
    pool = None
    if payload.pool is not None:
        try:
            pool = get_pool_for(actor, payload.pool)
        except NotFound:
            raise ValidationFailed.one("pool", "invalid", f"No pool {payload.pool}.")
    owner = _user(payload.owner, "owner") if "owner" in given else ownership.UNSET
    return lead_out(services.assign(lead, actor=actor, pool=pool, owner=owner,
                                    note=payload.note))


@router.post("/leads/{lead_id}/unassign",
             response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def unassign_lead(request, lead_id: DbId, payload: ReasonIn | None = None):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "manage")
    return lead_out(services.unassign(lead, actor=actor, reason=payload.reason if payload else ""))


@router.post("/leads/{lead_id}/release", response=responses(200, LeadOut, 400, 401, 403, 404, 409))
def release_lead(request, lead_id: DbId, payload: ReasonIn | None = None):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "view")
    return lead_out(services.release(lead, actor=actor, reason=payload.reason if payload else ""))


@router.post("/leads/{lead_id}/claim", response=responses(200, LeadOut, 401, 403, 404, 409))
def claim_lead(request, lead_id: DbId):
    actor = actor_of(request)
    return lead_out(services.claim(get_lead_in_my_pools(actor, lead_id), actor=actor))


@router.post("/leads/{lead_id}/take-ownership",
             response=responses(200, LeadOut, 401, 403, 404, 409))
def take_ownership(request, lead_id: DbId):
    actor = actor_of(request)
    return lead_out(services.take_ownership(get_lead_in_my_pools(actor, lead_id), actor=actor))


@router.post("/leads/{lead_id}/route", response=responses(200, LeadOut, 401, 403, 404, 409))
def route_lead(request, lead_id: DbId):
    actor = actor_of(request)
    return lead_out(services.route_lead(get_lead_for(actor, lead_id, "manage"), actor=actor))


@router.post("/pools/{pool_id}/next", response=responses(200, LeadOut, 401, 403, 404))
def next_from_pool(request, pool_id: DbId):
    actor = actor_of(request)
    return lead_out(services.next_from_pool(get_pool_for(actor, pool_id), actor=actor))


# --- offers ---------------------------------------------------------------------------------


class OfferIn(Schema):
    model_config = ConfigDict(extra="forbid")

    recipients: list[DbId] = []
    offices: list[DbId] = []
    groups: list[DbId] = []
    mode: str = "all"
    acceptance_minutes: int | None = None
    keep_original_owner: bool = False
    note: str = ""


class RecipientOut(Schema):
    user: int
    state: str
    window_starts_at: datetime
    window_ends_at: datetime


class OfferOut(Schema):
    id: int
    lead: int
    status: str
    mode: str
    recipients: list[RecipientOut]
    acceptance_minutes: int
    keep_original_owner: bool
    note: str
    created_by: int | None
    created_at: datetime
    ends_at: datetime
    accepted_by: int | None


class OfferPage(Schema):
    items: list[OfferOut]
    next_cursor: str | None


@router.post("/leads/{lead_id}/offers", response=responses(201, OfferOut, 400, 401, 403, 404, 409))
def make_offer(request, lead_id: DbId, payload: OfferIn):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "manage")
    offer = services.make_offer(lead, actor=actor, **payload.dict())
    return Status(201, offer_out(offer))


@router.get("/leads/{lead_id}/offers", response=responses(200, OfferPage, 400, 401, 403, 404))
def lead_offers(request, lead_id: DbId, limit: int | None = None, cursor: str | None = None):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "manage")
    rows, next_cursor = paginate(Offer.objects.filter(lead=lead), OFFER_ORDER,
                                 limit=check_limit(limit), cursor=cursor)
    return {"items": [offer_out(o) for o in rows], "next_cursor": next_cursor}


@router.get("/offers", response=responses(200, OfferPage, 400, 401))
def my_offers(request, live: bool | None = None, limit: int | None = None,
              cursor: str | None = None):
    """Offers the caller is a recipient of, newest first; `live=true`: only those they can
    answer now."""
    actor = actor_of(request)
    rows, next_cursor = paginate(offers_for_recipient(actor, live=bool(live)), OFFER_ORDER,
                                 limit=check_limit(limit), cursor=cursor)
    return {"items": [offer_out(o) for o in rows], "next_cursor": next_cursor}


@router.get("/offers/{offer_id}", response=responses(200, OfferOut, 401, 404))
def get_offer(request, offer_id: DbId):
    return offer_out(get_offer_for(actor_of(request), offer_id))


@router.post("/offers/{offer_id}/accept", response=responses(200, LeadOut, 401, 404, 409))
def accept_offer(request, offer_id: DbId):
    actor = actor_of(request)
    return lead_out(services.accept_offer(get_offer_for(actor, offer_id), actor=actor))


@router.post("/offers/{offer_id}/decline", response=responses(200, OfferOut, 400, 401, 404, 409))
def decline_offer(request, offer_id: DbId, payload: ReasonIn | None = None):
    actor = actor_of(request)
    offer = services.decline_offer(get_offer_for(actor, offer_id), actor=actor,
                                   reason=payload.reason if payload else "")
    return offer_out(offer)


@router.post("/offers/{offer_id}/cancel", response=responses(200, OfferOut, 401, 403, 404, 409))
def cancel_offer(request, offer_id: DbId):
    actor = actor_of(request)
    return offer_out(services.cancel_offer(get_offer_for(actor, offer_id), actor=actor))
