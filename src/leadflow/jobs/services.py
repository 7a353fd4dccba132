"""Starting, running and resuming jobs. A job kind registers a step function that does one
chunk of work from `job.cursor` and returns the new cursor (None when finished) with the counts
it added; each chunk commits with the job's progress and heartbeat, so a resumed job goes on
where the last committed chunk ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.jobs.models import Job, JobState

STALE_AFTER = timedelta(minutes=2)
MAX_ERRORS = 1000

# kind → step(job, actor) -> (new cursor | None, {count: n}, done in this chunk, [errors])
Step = Callable[[Job, Actor], tuple[int | None, dict, int, list]]
STEPS: dict[str, Step] = {}
# Kinds whose steps run outside the chunk's transaction: they write files, not rows, and a
# long step must not hold SQLite's write lock (the job row is still saved in a transaction).
OUTSIDE_TRANSACTION: set[str] = set()


def register(kind: str, *, atomic: bool = True) -> Callable[[Step], Step]:
    def wrap(step: Step) -> Step:
        STEPS[kind] = step
        if not atomic:
            OUTSIDE_TRANSACTION.add(kind)
        return step

    return wrap


def start_job(kind: str, params: dict, *, actor: Actor, project_id: int | None = None,
              total: int | None = None, enqueue: bool = True) -> Job:
    """Store a queued job and wake a worker once the row is committed. A caller that runs the
    job itself (the CLI) passes `enqueue=False`; the sweep still resumes it if it stalls."""
    from leadflow.jobs.tasks import run_job_task

    job = Job.objects.create(kind=kind, params=params, created_by=actor.user,
                             project_id=project_id, total=total)
    if enqueue:
        transaction.on_commit(lambda: run_job_task(job.pk))
    return job


def _take(job_id: int, now) -> bool:
    """Start a queued job, or take over one whose heartbeat stopped; one runner wins."""
    stale = now - STALE_AFTER
    taken = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=now, heartbeat_at=now
    )
    if not taken:
        taken = Job.objects.filter(pk=job_id, state=JobState.RUNNING,
                                   heartbeat_at__lt=stale).update(heartbeat_at=now)
    return bool(taken)


def run_job(job_id: int, *, on_progress: Callable[[Job], None] | None = None) -> Job | None:
    """Run a job to its end, chunk by chunk, calling `on_progress` after each committed chunk.
    Returns None when another runner holds it."""
    if not _take(job_id, timezone.now()):
        return None
    job = Job.objects.select_related("created_by").get(pk=job_id)
    actor = Actor(job.created_by, "job")
    step = STEPS[job.kind]
    outside = job.kind in OUTSIDE_TRANSACTION
    while True:
        try:
            if outside:
                cursor, counts, done, errors = step(job, actor)
            with transaction.atomic():
                if not outside:
                    cursor, counts, done, errors = step(job, actor)
                job.cursor = cursor
                job.progress += done
                for name, n in counts.items():
                    job.counts[name] = job.counts.get(name, 0) + n
                job.errors = (job.errors + errors)[:MAX_ERRORS]
                job.heartbeat_at = timezone.now()
                if cursor is None:
                    job.state, job.finished_at = JobState.DONE, job.heartbeat_at
                job.save(update_fields=["cursor", "progress", "counts", "errors",
                                        "heartbeat_at", "state", "finished_at", "total"])
        except Exception as exc:  # a failed chunk ends the job with its message
            Job.objects.filter(pk=job.pk).update(
                state=JobState.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
            )
            raise
        if on_progress is not None:
            on_progress(job)
        if cursor is None:
            return job


def resume_stalled_jobs() -> int:
    """Wake queued jobs nobody took and running ones whose heartbeat stopped (the sweep)."""
    from leadflow.jobs.tasks import run_job_task

    stale = timezone.now() - STALE_AFTER
    ids = list(
        Job.objects.filter(state=JobState.QUEUED, created_at__lt=stale)
        .values_list("pk", flat=True)
    ) + list(
        Job.objects.filter(state=JobState.RUNNING, heartbeat_at__lt=stale)
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        run_job_task(job_id)
    return len(ids)


def job_out(job: Job) -> dict:
    return {
        "id": job.pk, "kind": job.kind, "state": job.state,
        "progress": {"done": job.progress, "total": job.total},
        "counts": job.counts, "errors": job.errors[:100], "error": job.error or None,
        "created_at": job.created_at, "finished_at": job.finished_at,
    }
