"""REST routes of exports: `POST /exports` starts one (202), `GET /exports` lists the
caller's, `GET /exports/{id}` tells its state, `GET /exports/{id}/download` streams the file and
`DELETE /exports/{id}` deletes it."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Literal

from django.http import FileResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.core.api import DbId, actor_of, responses
from leadflow.core.errors import ValidationFailed
from leadflow.core.pagination import Ordering, check_limit, paginate
from leadflow.crm.api import LeadFilterFields, lead_filters_from
from leadflow.crm.filters import LeadFilters
from leadflow.exports import services
from leadflow.exports.access import exports_of, get_export_for

router = Router(tags=["exports"])
EXPORT_ORDER = Ordering("created_at", True, kind="datetime")


class ExportIn(LeadFilterFields):
    """`format`, `columns` and the lead filters of `/leads`, either at the top level or
    inside `filter` (not both)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "xlsx"] = "csv"
    # `builtins.list`: the filters' own `list` field hides the type here.
    columns: builtins.list[str] | None = None
    filter: dict[str, Any] | None = None


class ExportOut(Schema):
    id: int
    job: int
    state: str
    format: str
    columns: list[str]
    filter: dict[str, Any]
    rows: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None


class ExportPage(Schema):
    items: list[ExportOut]
    next_cursor: str | None


@router.post("/exports", response=responses(202, ExportOut, 400, 401, 404))
def start_export(request, payload: ExportIn):
    """Starts an export job of the leads the filter picks among those the caller sees.
    Columns: see `leadflow.exports.services.COLUMNS`, plus `custom.<field name>`."""
    actor = actor_of(request)
    top = payload.dict(exclude_unset=True, exclude={"format", "columns", "filter"})
    if top and payload.filter is not None:
        raise ValidationFailed.one("filter", "invalid",
                                   "Give the filters at the top level or in `filter`, not both.")
    filters = (lead_filters_from(payload.filter) if payload.filter is not None
               else LeadFilters(**top))
    job = services.start_export(filters, actor=actor, fmt=payload.format,
                                columns=payload.columns)
    return Status(202, services.export_out(job))


@router.get("/exports", response=responses(200, ExportPage, 400, 401))
def list_exports(request, limit: int | None = None, cursor: str | None = None):
    """The caller's exports, newest first."""
    rows, next_cursor = paginate(exports_of(actor_of(request)), EXPORT_ORDER,
                                 limit=check_limit(limit), cursor=cursor)
    return {"items": [services.export_out(job) for job in rows], "next_cursor": next_cursor}


@router.get("/exports/{export_id}", response=responses(200, ExportOut, 401, 404))
def get_export(request, export_id: DbId):
    return services.export_out(get_export_for(actor_of(request), export_id))


@router.get("/exports/{export_id}/download", response=responses(200, None, 401, 404, 409),
            openapi_extra={"responses": {200: {"description": "The file", "content": {
                "text/csv": {"schema": {"type": "string"}},
                services.CONTENT_TYPES["xlsx"]: {"schema": {"type": "string",
                                                            "format": "binary"}}}}}})
def download_export(request, export_id: DbId):
    """The export's file, streamed; 409 while it is not ready."""
    job = get_export_for(actor_of(request), export_id)
    handle, filename, content_type = services.open_export(job)
    return FileResponse(handle, as_attachment=True, filename=filename,
                        content_type=content_type)


@router.delete("/exports/{export_id}", response=responses(204, None, 401, 404, 409))
def delete_export(request, export_id: DbId):
    """Delete one of the caller's finished exports and its file."""
    actor = actor_of(request)
    services.delete_export(get_export_for(actor, export_id), actor=actor)
    return Status(204, None)
