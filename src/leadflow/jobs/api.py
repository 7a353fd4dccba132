"""REST route of jobs: progress and counts of long-running work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from leadflow.core.api import DbId, actor_of, responses
from leadflow.jobs.access import get_job_for
from leadflow.jobs.services import job_out

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: int
    kind: str
    state: str
    progress: dict[str, int | None]
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@router.get("/jobs/{job_id}", response=responses(200, JobOut, 401, 404))
def get_job(request, job_id: DbId):
    return job_out(get_job_for(actor_of(request), job_id))
