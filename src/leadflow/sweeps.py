"""The sweep: materializes what time and crashes leave behind. Idempotent and safe to run from
several workers at once; run every minute by the job consumer and by `leadflow sweep`."""

from __future__ import annotations

# Seconds of possible-duplicate checks the sweep runs itself (lost jobs' leads); more is left
# to the coalesced background check, so the sweep stays short.
CHECK_BUDGET = 2.0


def run_sweeps() -> dict[str, int]:
    from leadflow.accounts.throttle import forget_old_hits
    from leadflow.core.db import optimize_database
    from leadflow.crm.services.retirement import retire_due
    from leadflow.exports.services import forget_old_exports
    from leadflow.intake.services.submissions import sweep_new_submissions
    from leadflow.intake.services.webforms import forget_old_counters
    from leadflow.intake.tasks import check_now, queue_duplicate_checks
    from leadflow.jobs.services import resume_stalled_jobs
    from leadflow.routing.services.sweeps import lapse_claims, lapse_offers

    optimize_database()
    counts = {
        "submissions_processed": sweep_new_submissions(),
        "leads_checked_for_duplicates": check_now(budget=CHECK_BUDGET),
        "rate_counters_forgotten": forget_old_counters(),
        "throttle_hits_forgotten": forget_old_hits(),
        "claims_lapsed": lapse_claims(),
        "offers_lapsed": lapse_offers(),
        "leads_retired": retire_due(),
        "jobs_resumed": resume_stalled_jobs(),
        "export_files_removed": forget_old_exports(),
    }
    queue_duplicate_checks([])  # what the budget left, in the background
    return counts


def run_hourly_sweeps() -> dict[str, int]:
    """Heavier checks: recount the open-lead counters routing reads."""
    from leadflow.routing.services.loads import recount

    return {"load_counters_fixed": recount()}
