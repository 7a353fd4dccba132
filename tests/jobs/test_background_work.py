"""Background work that runs on time: user work ahead of housekeeping, a killed job resumed
by the sweep within two minutes, a long chunk never mistaken for a stalled job."""

import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from huey import PriorityRedisHuey, SqliteHuey

from leadflow.core.actor import Actor
from leadflow.intake import tasks as intake_tasks
from leadflow.jobs import services as jobs
from leadflow.jobs import tasks as job_tasks
from leadflow.jobs.models import Job, JobState


def _queued_names(huey) -> list[str]:
    names = []
    while (data := huey.storage.dequeue()) is not None:
        names.append(huey.serializer.deserialize(data).name.rsplit(".", 1)[-1])
    return names


def _queue_backlog_then_user_work(huey) -> list[str]:
    """Three duplicate checks and a sweep wait; then a user's job is queued."""
    for wrapper in (intake_tasks.check_unchecked_leads, intake_tasks.sweep,
                    job_tasks.run_job_task):
        huey._registry.register(wrapper.task_class)
    for _ in range(3):
        huey.enqueue(intake_tasks.check_unchecked_leads.s())
    huey.enqueue(intake_tasks.sweep.s())
    huey.enqueue(job_tasks.run_job_task.s(7))
    return _queued_names(huey)


EXPECTED_ORDER = ["run_job_task", "sweep", "check_unchecked_leads", "check_unchecked_leads",
                  "check_unchecked_leads"]


def test_user_work_leaves_the_queue_before_housekeeping_on_sqlite():
    huey = SqliteHuey(f"order-{uuid.uuid4().hex}",
                      filename=str(Path(tempfile.mkdtemp()) / "huey.sqlite3"))

    assert _queue_backlog_then_user_work(huey) == EXPECTED_ORDER


def test_user_work_leaves_the_queue_before_housekeeping_on_redis():
    huey = PriorityRedisHuey(f"order-{uuid.uuid4().hex}", url="redis://127.0.0.1:6379/15")
    try:
        assert _queue_backlog_then_user_work(huey) == EXPECTED_ORDER
    finally:
        huey.flush()


@pytest.fixture
def step_kind():
    """A job kind of this test's own, removed afterwards."""
    kind = f"test-{uuid.uuid4().hex[:8]}"
    yield kind
    for registry in (jobs.STEPS, jobs.ATOMIC, jobs.PREPARE):
        registry.pop(kind, None)


def _start(kind: str) -> Job:
    return jobs.start_job(kind, {}, actor=Actor(None, "job"), enqueue=False)


def test_a_job_whose_heartbeat_stopped_a_minute_ago_is_resumed(step_kind):
    ran = []

    @jobs.register(step_kind)
    def step(job, actor):
        ran.append(job.pk)
        return None, {}, 1, []

    stalled, alive = _start(step_kind), _start(step_kind)
    now = timezone.now()
    Job.objects.filter(pk__in=[stalled.pk, alive.pk]).update(state=JobState.RUNNING)
    Job.objects.filter(pk=stalled.pk).update(heartbeat_at=now - timedelta(seconds=61))
    Job.objects.filter(pk=alive.pk).update(heartbeat_at=now - timedelta(seconds=50))

    assert jobs.resume_stalled_jobs() == 1
    assert ran == [stalled.pk]
    assert Job.objects.get(pk=stalled.pk).state == JobState.DONE
    assert Job.objects.get(pk=alive.pk).state == JobState.RUNNING


def test_prepare_runs_before_the_chunks_transaction(step_kind):
    from django.db import connection

    depth = {}

    def prepare(job, actor):
        depth["prepare"] = len(connection.atomic_blocks)

    @jobs.register(step_kind, prepare=prepare)
    def step(job, actor):
        depth["step"] = len(connection.atomic_blocks)
        return None, {}, 1, []

    jobs.run_job(_start(step_kind).pk)

    assert depth["step"] == depth["prepare"] + 1


def test_a_job_can_run_outside_a_transaction_by_its_own_rule(step_kind):
    from django.db import connection

    depth = {}

    @jobs.register(step_kind, atomic=lambda job: job.params.get("writes", True))
    def step(job, actor):
        depth[job.params["writes"]] = len(connection.atomic_blocks)
        return None, {}, 1, []

    for writes in (True, False):
        job = jobs.start_job(step_kind, {"writes": writes}, actor=Actor(None, "job"),
                             enqueue=False)
        jobs.run_job(job.pk)

    assert depth[True] == depth[False] + 1


@pytest.mark.django_db(transaction=True)
def test_a_long_chunk_keeps_beating(step_kind, monkeypatch):
    monkeypatch.setattr(jobs, "HEARTBEAT", timedelta(seconds=0.1))
    seen = []

    @jobs.register(step_kind, atomic=False)
    def step(job, actor):
        first = Job.objects.get(pk=job.pk).heartbeat_at
        time.sleep(0.6)
        seen.append((first, Job.objects.get(pk=job.pk).heartbeat_at))
        return None, {}, 1, []

    jobs.run_job(_start(step_kind).pk)

    [(first, later)] = seen
    assert later > first


def test_the_sweep_resumes_a_killed_job_within_two_minutes(step_kind):
    @jobs.register(step_kind)
    def step(job, actor):
        return None, {}, 1, []

    with time_machine.travel("2026-03-02 09:00:00", tick=False):
        job = _start(step_kind)
        Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING,
                                             heartbeat_at=timezone.now())
    # The process died right after its last beat; the sweep runs every minute.
    with time_machine.travel("2026-03-02 09:01:00", tick=False):
        assert jobs.resume_stalled_jobs() == 0
    with time_machine.travel("2026-03-02 09:02:00", tick=False):
        assert jobs.resume_stalled_jobs() == 1
    assert Job.objects.get(pk=job.pk).state == JobState.DONE
