"""REST routes of imports: start one from an uploaded file, follow it, fetch its rejected rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from leadflow.core.api import DbId, actor_of, responses
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.imports import services
from leadflow.projects.access import projects_visible_to

router = Router(tags=["imports"])


class ImportStarted(Schema):
    job: int


class ImportOut(Schema):
    id: int
    job: int
    project: int
    filename: str
    format: str
    encoding: str
    delimiter: str
    policy: str
    list: int | None
    list_name: str
    dry_run: bool
    state: str
    progress: dict[str, int | None]
    counts: dict[str, int]
    columns: list[str]
    mapping: dict[str, str]
    suggested_mapping: dict[str, str]
    warnings: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def _project(actor, value: str):
    """A project the caller belongs to, by id or slug; otherwise NotFound."""
    value = (value or "").strip()
    if not value:
        raise ValidationFailed.one("project", "required", "Say which project to import into.")
    visible = projects_visible_to(actor)
    # ASCII digits only: "¹" passes isdigit() but not int().
    by_id = value.isascii() and value.isdigit() and len(value) < 19
    found = (visible.filter(pk=int(value)) if by_id else visible.filter(slug=value)).first()
    if found is None:
        raise NotFound("Project not found.")
    return found


def _mapping(text: str) -> dict | None:
    if not text.strip():
        return None
    try:
        mapping = json.loads(text)
    except ValueError:
        raise ValidationFailed.one("mapping", "invalid_json", "The mapping is not valid JSON.")
    if not isinstance(mapping, dict):
        raise ValidationFailed.one("mapping", "invalid",
                                   "The mapping is a JSON object of column → field.")
    return mapping


@router.post("/imports", response=responses(202, ImportStarted, 400, 401, 403, 404, 409))
def create_import(request, file: UploadedFile = File(...), project: str = Form(...),  # noqa: B008
                  mapping: str = Form(""), policy: str = Form("skip"), list: str = Form(""),
                  dry_run: bool = Form(False)):
    """Upload a CSV or XLSX file and start importing it: `mapping` is a JSON object of file
    column → field (name, first_name, last_name, email, phone1–phone5, company, timezone,
    country, language, source, stage, custom.<name>; "" leaves a column out) overriding the
    suggested mapping; `policy` skip, update, move or keep-both; `list` a list name."""
    actor = actor_of(request)
    target = _project(actor, project)
    services.check_import_allowed(actor, target, policy=policy, list_name=list)
    parsed = _mapping(mapping)
    upload = services.store_upload(file, file.name or "upload")
    imp = services.start_import(target, upload, actor=actor, mapping=parsed, policy=policy,
                                list_name=list, dry_run=dry_run)
    return Status(202, {"job": imp.pk})


@router.get("/imports/{import_id}", response=responses(200, ImportOut, 401, 404))
def get_import(request, import_id: DbId):
    """Progress, counts per outcome, the mapping used and suggested, warnings, first problems."""
    return services.import_out(services.get_import_for(actor_of(request), import_id))


@router.get("/imports/{import_id}/errors", response=responses(200, None, 401, 404),
            openapi_extra={"responses": {200: {"description": "The rejected rows", "content": {
                "text/csv": {"schema": {"type": "string"}}}}}})
def get_import_errors(request, import_id: DbId):
    """The rejected rows as CSV: the file's columns plus `reason`."""
    imp = services.get_import_for(actor_of(request), import_id)
    response = StreamingHttpResponse(services.rejected_rows_csv(imp),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{imp.pk}-rejected.csv"'
    return response
