"""Background jobs of intake: thin adapters that fetch rows again and call services, and the
throttled queueing of the possible-duplicate check."""

import threading
import time

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

CHECK_INTERVAL = 1.0  # seconds between two queued duplicate checks of one process
CHECK_LIMIT = 1000  # leads one check job takes

_lock = threading.Lock()
_next_check = float("-inf")  # when this process's latest queued check runs (monotonic)


@db_task()
def check_possible_duplicates_of(lead_ids: list[int]) -> None:
    from leadflow.crm.models import Lead
    from leadflow.intake.services.duplicates import find_possible_duplicates

    for lead in Lead.objects.filter(pk__in=lead_ids).order_by("pk"):
        find_possible_duplicates(lead)


@db_task()
def check_unchecked_leads() -> None:
    from leadflow.intake.services.duplicates import sweep_unchecked_leads

    sweep_unchecked_leads(limit=CHECK_LIMIT)


def queue_duplicate_checks(lead_ids: list[int]) -> None:
    """Have the leads committed just now checked for possible duplicates. One job checks every
    lead not checked yet, so a process queues at most one a second: a job queued to run later
    covers this commit already; otherwise one is queued to run now, or CHECK_INTERVAL after the
    last one. Whatever a lost job leaves, the sweep checks. An immediate queue (as in tests)
    runs jobs as they are queued: there the check of `lead_ids` runs at once."""
    global _next_check
    if HUEY.immediate:
        check_possible_duplicates_of(lead_ids)
        return
    now = time.monotonic()
    with _lock:
        if _next_check > now:
            return
        delay = max(0.0, _next_check + CHECK_INTERVAL - now)
        _next_check = now + delay
    if delay:
        check_unchecked_leads.schedule(delay=delay)
    else:
        check_unchecked_leads()


@db_periodic_task(crontab(minute="*"))
def sweep() -> None:
    from leadflow.sweeps import run_sweeps

    run_sweeps()


@db_periodic_task(crontab(minute="17"))
def hourly_sweep() -> None:
    from leadflow.sweeps import run_hourly_sweeps

    run_hourly_sweeps()
