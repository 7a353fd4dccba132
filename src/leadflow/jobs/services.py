"""Starting, running and resuming jobs. A job kind registers a step function that does one
chunk of work from `job.cursor` and returns the new cursor (None when finished) with the counts
it added; each chunk commits with the job's progress and heartbeat, so a resumed job goes on
where the last committed chunk ended."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager, suppress
from datetime import timedelta

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.jobs.models import Job, JobState

# A running job whose heartbeat (each committed chunk) is older than this is taken over by the
# sweep, which runs every minute: a killed job resumes within two minutes. Chunks commit within
# seconds (imports adapt their batches to a fraction of a second).
STALE_AFTER = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=15)
MAX_ERRORS = 1000

# kind → step(job, actor) -> (new cursor | None, {count: n}, done in this chunk, [errors])
Step = Callable[[Job, Actor], tuple[int | None, dict, int, list]]
STEPS: dict[str, Step] = {}
# Whether a kind's step runs inside the chunk's transaction (with the job row's progress), by
# job. Steps that write files, not rows, or only read (a dry run), run outside: on SQLite a
# transaction holds the single write lock, and a long step must not keep other writers
# waiting (the job row is still saved in a transaction of its own).
ATOMIC: dict[str, Callable[[Job], bool]] = {}
# kind → prepare(job, actor): work a chunk needs that writes nothing (reading a file,
# normalizing rows), run before the chunk's transaction so the lock is held for the writes.
PREPARE: dict[str, Callable[[Job, Actor], None]] = {}


def register(kind: str, *, atomic: bool | Callable[[Job], bool] = True,
             prepare: Callable[[Job, Actor], None] | None = None) -> Callable[[Step], Step]:
    def wrap(step: Step) -> Step:
        STEPS[kind] = step
        ATOMIC[kind] = atomic if callable(atomic) else (lambda _job, value=atomic: value)
        if prepare is not None:
            PREPARE[kind] = prepare
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
    step, prepare = STEPS[job.kind], PREPARE.get(job.kind)
    outside = not ATOMIC[job.kind](job)
    with _heartbeat(job.pk):
        return _run_chunks(job, actor, step, prepare, outside, on_progress)


def _run_chunks(job, actor, step, prepare, outside, on_progress) -> Job:
    while True:
        try:
            if prepare is not None:
                prepare(job, actor)
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


@contextmanager
def _heartbeat(job_id: int):
    """Beat the job's heartbeat every HEARTBEAT seconds from a thread of its own while this
    process runs the job, so a long chunk (a big file written at the end of an export) is
    never taken for a stalled job, and a killed process stops beating at once."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT.total_seconds()):
                # A failed beat is tried again at the next; the chunks' own beats go on.
                with suppress(DatabaseError):
                    Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(
                        heartbeat_at=timezone.now())
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


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
