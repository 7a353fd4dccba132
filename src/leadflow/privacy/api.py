"""REST routes of personal data (admins): `POST /privacy/erase` erases what is held about a
person in a project, `GET /privacy/export` returns it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema
from pydantic import ConfigDict

from leadflow.core.api import ADMINS, DbId, actor_of, responses
from leadflow.privacy import services
from leadflow.projects.access import get_project_for

router = Router(tags=["privacy"])


class PersonIn(Schema):
    """A project and one identifier of the person: `email` or `phone`."""

    model_config = ConfigDict(extra="forbid")

    project: DbId
    email: str | None = None
    phone: str | None = None


class ErasureOut(Schema):
    erased: bool
    id: int | None
    project: int
    counts: dict[str, int]
    erased_at: datetime | None


@router.post("/privacy/erase", response=responses(200, ErasureOut, 400, 401, 403, 404),
             auth=ADMINS)
def erase_person(request, payload: PersonIn):
    """Erases everything held about the person in the project (see `leadflow erase-person`).
    Nothing held → 200 with `erased: false` and zero counts."""
    actor = actor_of(request)
    project = get_project_for(actor, payload.project)
    result = services.erase_person(project, actor=actor, email=payload.email,
                                   phone=payload.phone)
    erasure = result.erasure
    return {"erased": erasure is not None, "id": erasure.pk if erasure else None,
            "project": project.pk, "counts": result.counts,
            "erased_at": erasure.erased_at if erasure else None}


class PersonQuery(Schema):
    model_config = ConfigDict(extra="forbid")

    project: DbId
    email: str | None = None
    phone: str | None = None


@router.get("/privacy/export", response=responses(200, dict[str, Any], 400, 401, 403, 404),
            auth=ADMINS)
def export_person(request, query: Query[PersonQuery]):
    """Everything held about the person in the project, as `leadflow export-person` prints
    it; 404 when nothing is held."""
    actor = actor_of(request)
    project = get_project_for(actor, query.project)
    return services.export_person(project, actor=actor, email=query.email, phone=query.phone)
