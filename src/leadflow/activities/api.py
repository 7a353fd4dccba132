"""REST routes of working a lead: `/leads/{id}/activities` and `/leads/{id}/follow-up`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.activities import services
from leadflow.activities.selectors import activities_of, activity_out
from leadflow.core.api import DbId, Instant, actor_of, responses
from leadflow.core.pagination import check_limit
from leadflow.crm.access import get_lead_for

router = Router(tags=["activities"])


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["call", "note", "email"]
    outcome: str | int | None = None
    duration_seconds: int | None = None
    body: str | None = None


class ActivityOut(Schema):
    id: int
    lead: int
    kind: str
    outcome: str | None
    duration_seconds: int | None
    body: str
    actor: int | None
    channel: str
    occurred_at: datetime


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


class FollowUpIn(Schema):
    model_config = ConfigDict(extra="forbid")

    next_call_at: Instant | None


class FollowUpOut(Schema):
    lead: int
    next_call_at: datetime | None


@router.get("/leads/{lead_id}/activities", response=responses(200, ActivityPage, 400, 401, 404))
def list_activities(request, lead_id: DbId, limit: int | None = None, cursor: str | None = None):
    lead = get_lead_for(actor_of(request), lead_id, "view")
    rows, next_cursor = activities_of(lead, limit=check_limit(limit), cursor=cursor)
    return {"items": [activity_out(a) for a in rows], "next_cursor": next_cursor}


@router.post("/leads/{lead_id}/activities",
             response=responses(201, ActivityOut, 400, 401, 403, 404))
def log_activity(request, lead_id: DbId, payload: ActivityIn):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "change")
    activity = services.log_activity(
        lead, payload.kind, actor=actor, outcome=payload.outcome,
        duration_seconds=payload.duration_seconds, body=payload.body or "",
    )
    return Status(201, activity_out(activity))


@router.get("/leads/{lead_id}/follow-up", response=responses(200, FollowUpOut, 401, 404))
def get_follow_up(request, lead_id: DbId):
    lead = get_lead_for(actor_of(request), lead_id, "view")
    return {"lead": lead.pk, "next_call_at": lead.next_call_at}


@router.post("/leads/{lead_id}/follow-up",
             response=responses(200, FollowUpOut, 400, 401, 403, 404, 409))
def schedule_next_call(request, lead_id: DbId, payload: FollowUpIn):
    actor = actor_of(request)
    lead = get_lead_for(actor, lead_id, "change")
    lead = services.schedule_next_call(lead, payload.next_call_at, actor=actor)
    return {"lead": lead.pk, "next_call_at": lead.next_call_at}
