"""API schemas of leads and timeline events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict


class LeadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    project: int | None = None
    name: str | None = None
    email: str | None = None
    phones: list[str] | None = None
    phone: str | None = None
    company: str | None = None
    timezone: str | None = None
    country: str | None = None
    language: str | None = None
    source: int | None = None
    owner: int | None = None
    client: int | None = None
    custom: dict[str, Any] = {}
    on_duplicate: Literal["merge", "keep_both"] | None = None


class LeadPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None
    phones: list[str] | None = None
    phone: str | None = None
    company: str | None = None
    timezone: str | None = None
    country: str | None = None
    language: str | None = None
    custom: dict[str, Any] | None = None
    source: Any = None
    project: Any = None


class StageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    stage: int
    lost_reason: str = ""
    reason: str = ""


class LeadOut(Schema):
    id: int
    project: int
    name: str
    email: str
    phones: list[str]
    company: str
    timezone: str
    country: str
    language: str
    source: int
    bucket: int | None
    bucket_label: str
    affiliate_id: str
    utm: dict[str, Any]
    stage: int
    status: str
    lost_reason: str
    owner: int | None
    pool: int
    claimed_by: int | None
    claimed_until: datetime | None
    original_owner: int | None
    assigned_at: datetime | None
    offered_until: datetime | None
    tags: list[str]
    next_call_at: datetime | None
    last_activity_at: datetime | None
    retired: bool
    list: int | None
    client: int | None
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None


class ActorOut(Schema):
    id: int | None
    email: str


class EventOut(Schema):
    id: int
    occurred_at: datetime
    kind: str
    actor: ActorOut | None
    channel: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str
    batch_id: str | None


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None


class DuplicateOut(Schema):
    detail: str
    code: str
    duplicate_of: int
