"""Background jobs of intake: thin adapters that fetch rows again and call services, and the
coalesced possible-duplicate check."""

import threading
import time

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from leadflow.core.queues import HOUSEKEEPING, SWEEP, drop_flag, take_flag

CHECK_DELAY = 1.0  # seconds a queued check waits, gathering the leads committed meanwhile
CHECK_SLICE = 5.0  # seconds one check task runs before it gives its consumer thread back
PENDING = "leadflow:duplicate-check:pending"
RUNNING = "leadflow:duplicate-check:running"
# A flag this old was left by a killed process (a slice ends within CHECK_SLICE seconds).
STALE_AFTER = 60.0
_attempt_lock = threading.Lock()
_last_attempt = float("-inf")  # when this process last asked for a check (monotonic)


@db_task(priority=HOUSEKEEPING)
def check_possible_duplicates_of(lead_ids: list[int]) -> None:
    from leadflow.intake.services.duplicates import check_leads

    check_leads(lead_ids)


@db_task(priority=HOUSEKEEPING)
def check_unchecked_leads() -> None:
    """One slice of the check; queues the next while unchecked leads remain. While another
    slice runs, this one waits its turn (scheduled again, still the one pending)."""
    from leadflow.crm.models import Lead

    if not take_flag(RUNNING, stale_after=STALE_AFTER):
        check_unchecked_leads.schedule(delay=CHECK_DELAY)
        return
    drop_flag(PENDING)
    try:
        _check(CHECK_SLICE)
    finally:
        drop_flag(RUNNING)
    if Lead.objects.filter(duplicates_checked_at__isnull=True,
                           merged_into__isnull=True).exists():
        queue_duplicate_checks([])


def _check(budget: float) -> int:
    from leadflow.intake.services.duplicates import sweep_unchecked_leads

    return sweep_unchecked_leads(limit=10**9, budget=budget)


def check_now(*, budget: float) -> int:
    """Check unchecked leads here for up to `budget` seconds, unless a check runs elsewhere
    (it covers them). Returns leads checked."""
    if not take_flag(RUNNING, stale_after=STALE_AFTER):
        return 0
    try:
        return _check(budget)
    finally:
        drop_flag(RUNNING)


def queue_duplicate_checks(lead_ids: list[int]) -> None:
    """Have the leads committed just now checked for possible duplicates. One pending check
    covers every unchecked lead, so whatever the rate of commits, at most one is queued (and
    one runs); it starts CHECK_DELAY later and takes them as one set. Whatever a lost job
    leaves, the sweep checks. An immediate queue (as in tests) checks `lead_ids` at once."""
    global _last_attempt
    if HUEY.immediate:
        if lead_ids:
            check_possible_duplicates_of(lead_ids)
        return
    # A process asks the queue's store at most once per CHECK_DELAY: the check it queued (or
    # found queued) runs after the commits of that second. Asking on every commit wrote to the
    # store hundreds of times a second and halved intake beside a running consumer.
    now = time.monotonic()
    with _attempt_lock:
        if now - _last_attempt < CHECK_DELAY:
            return
        _last_attempt = now
    if take_flag(PENDING, stale_after=STALE_AFTER):
        check_unchecked_leads.schedule(delay=CHECK_DELAY)


@db_periodic_task(crontab(minute="*"), priority=SWEEP)
def sweep() -> None:
    from leadflow.sweeps import run_sweeps

    run_sweeps()


@db_periodic_task(crontab(minute="17"), priority=SWEEP)
def hourly_sweep() -> None:
    from leadflow.sweeps import run_hourly_sweeps

    run_hourly_sweeps()
