"""Background jobs: a thin adapter that runs a job row."""

from huey.contrib.djhuey import db_task

from leadflow.core.queues import USER


@db_task(priority=USER)
def run_job_task(job_id: int) -> None:
    from leadflow.jobs.services import run_job

    run_job(job_id)

