"""REST routes of clients and conversion: convert a lead (and its merge-into candidates), list,
read and edit clients, a client's timeline."""

from __future__ import annotations

import json
from datetime import datetime

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError

from leadflow.accounts.models import User
from leadflow.clients import services
from leadflow.clients.access import clients_visible_to, get_client_for
from leadflow.clients.selectors import (
    CLIENT_ORDERINGS,
    client_out,
    client_timeline,
    clients_out,
    list_clients,
)
from leadflow.core.api import DbId, actor_of, responses
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.core.pagination import check_limit
from leadflow.core.text import check_storable
from leadflow.crm.access import get_lead_for
from leadflow.crm.schemas import EventPage, LeadOut
from leadflow.crm.selectors import event_out, lead_out

router = Router(tags=["clients"])


class ClientOut(Schema):
    id: int
    project: int
    name: str
    email: str
    phones: list[str]
    company: str
    owner: int | None
    source: int
    bucket_label: str
    affiliate_id: str
    leads: list[int]
    created_at: datetime
    updated_at: datetime


class ClientPage(Schema):
    items: list[ClientOut]
    next_cursor: str | None


class ConvertIn(Schema):
    model_config = ConfigDict(extra="forbid")

    client: DbId | None = None
    reason: str = ""


class ConversionOut(Schema):
    client: ClientOut
    lead: LeadOut


class CandidatesOut(Schema):
    candidates: list[ClientOut]


class ClientPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None
    phones: list[str] | None = None
    phone: str | None = None
    company: str | None = None
    owner: DbId | None = None
    source: DbId | None = None
    project: DbId | None = None


class ClientQuery(Schema):
    q: str | None = None
    project: DbId | None = None
    owner: DbId | None = None
    ordering: str = "-created_at"
    limit: int | None = None
    cursor: str | None = None


def _convert_body(raw: bytes) -> ConvertIn:
    if not raw.strip():
        return ConvertIn()
    try:
        values = json.loads(raw)
    except ValueError:
        raise ValidationFailed.one("body", "invalid_json", "The body is not JSON.")
    if not isinstance(values, dict):
        raise ValidationFailed.one("body", "invalid", "The body must be a JSON object.")
    check_storable(values)
    try:
        return ConvertIn(**values)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error.get("loc", ())) or "body"
        code = "unknown_field" if error.get("type") == "extra_forbidden" else "invalid"
        raise ValidationFailed.one(field, code, error.get("msg", "Invalid value."))


@router.post("/leads/{lead_id}/convert",
             response=responses(201, ConversionOut, 400, 401, 403, 404, 409)
             | {200: ConversionOut},
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": ConvertIn.model_json_schema()}}}})
def convert_lead(request, lead_id: DbId):
    """Body `{"client"?: id, "reason"?}`; an empty body converts into a new client."""
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "stage")
    payload = _convert_body(request.body)
    into = None
    if payload.client is not None:
        try:
            into = get_client_for(actor, payload.client, "view")
        except NotFound:
            raise ValidationFailed.one("client", "invalid", f"No client {payload.client}.")
    result = services.convert_lead(lead, actor=actor, into=into, reason=payload.reason)
    body = {"client": client_out(result.client), "lead": lead_out(result.lead)}
    return Status(201 if result.converted else 200, body)


@router.get("/leads/{lead_id}/convert", response=responses(200, CandidatesOut, 401, 404))
def conversion_candidates(request, lead_id: DbId):
    """The existing clients this lead's duplicate keys match: offered as "merge into"."""
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "view")
    return {"candidates": clients_out(services.client_candidates(lead, actor=actor))}


@router.get("/clients", response=responses(200, ClientPage, 400, 401))
def get_clients(request, query: Query[ClientQuery]):
    actor = actor_of(request)
    if query.ordering not in CLIENT_ORDERINGS:
        raise ValidationFailed.one("ordering", "invalid",
                                   f"ordering is one of {', '.join(CLIENT_ORDERINGS)}.")
    rows, next_cursor = list_clients(
        clients_visible_to(actor), q=query.q, project=query.project, owner=query.owner,
        ordering=query.ordering, limit=check_limit(query.limit), cursor=query.cursor,
    )
    return {"items": clients_out(rows), "next_cursor": next_cursor}


@router.get("/clients/{client_id}", response=responses(200, ClientOut, 401, 404))
def get_client(request, client_id: DbId):
    return client_out(get_client_for(actor_of(request), client_id, "view"))


@router.patch("/clients/{client_id}", response=responses(200, ClientOut, 400, 401, 403, 404))
def update_client(request, client_id: DbId, payload: ClientPatch):
    actor = actor_of(request)
    changes = payload.dict(exclude_unset=True)
    client = get_client_for(actor, client_id, "manage" if "owner" in changes else "change")
    if "phone" in changes:
        phone = changes.pop("phone")
        changes.setdefault("phones", [phone] if phone else [])
    if "owner" in changes and changes["owner"] is not None:
        owner = User.objects.filter(pk=changes["owner"], is_active=True).first()
        if owner is None:
            raise ValidationFailed.one("owner", "invalid", f"No user {changes['owner']}.")
        changes["owner"] = owner
    client = services.update_client(client, changes, actor=actor)
    return client_out(client)


@router.get("/clients/{client_id}/timeline", response=responses(200, EventPage, 400, 401, 404))
def get_client_timeline(request, client_id: DbId, limit: int | None = None,
                        cursor: str | None = None):
    client = get_client_for(actor_of(request), client_id, "view")
    events, next_cursor = client_timeline(client, limit=check_limit(limit), cursor=cursor)
    return {"items": [event_out(e) for e in events], "next_cursor": next_cursor}
