"""Jobs are visible to whoever started them, and to admins."""

from __future__ import annotations

from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound
from leadflow.jobs.models import Job


def get_job_for(actor: Actor, job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or not (actor.is_admin or (actor.user and job.created_by_id == actor.user.pk)):
        raise NotFound("Job not found.")
    return job
