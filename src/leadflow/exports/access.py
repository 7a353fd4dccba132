"""Exports are the user's own: each sees the exports they started; admins any by id."""

from __future__ import annotations

from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound
from leadflow.exports.services import KIND
from leadflow.jobs.models import Job


def exports_of(actor: Actor):
    """The exports the actor started (the system's for the system)."""
    user_id = actor.user.pk if actor.user is not None else None
    return Job.objects.filter(kind=KIND, created_by_id=user_id)


def get_export_for(actor: Actor, export_id: int) -> Job:
    """An export the actor started, or any for an admin; otherwise NotFound."""
    job = (Job.objects.filter(pk=export_id, kind=KIND).first()
           if isinstance(export_id, int) else None)
    if job is None or not (actor.is_admin or (actor.user is not None
                                              and job.created_by_id == actor.user.pk)):
        raise NotFound("Export not found.")
    return job
