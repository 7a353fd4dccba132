"""The sweep finishes what a crash left behind: submissions stored but never processed, leads
whose duplicate check never ran, old rate counters. Idempotent; one processor wins."""

from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.core.errors import Conflict
from leadflow.crm.models import Lead
from leadflow.intake.models import Submission, SubmissionAttempt
from leadflow.intake.services import submissions
from leadflow.intake.services.submissions import INTAKE, process_submission
from leadflow.sweeps import run_sweeps
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    event_count,
    events_of,
    make_bucket,
    make_lead,
    make_project,
    store_submission,
    submit,
)

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
NOTHING = {"submissions_processed": 0, "leads_checked_for_duplicates": 0,
           "rate_counters_forgotten": 0, "throttle_hits_forgotten": 0,
           "claims_lapsed": 0, "offers_lapsed": 0,
           "leads_retired": 0, "jobs_resumed": 0, "export_files_removed": 0}


def test_a_submission_left_new_for_over_two_minutes_is_processed_by_the_sweep():
    project = make_project()
    bucket, _key = make_bucket(project, name="Spring")
    stale = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"},
                             created_at=T0)

    with time_machine.travel(T0 + timedelta(minutes=2, seconds=1), tick=False):
        counts = run_sweeps()

    lead = Lead.objects.get()
    stale.refresh_from_db()
    assert counts == NOTHING | {"submissions_processed": 1, "leads_checked_for_duplicates": 1,
                      "rate_counters_forgotten": 0}
    assert (stale.status, stale.lead_id, stale.attempts) == ("processed", lead.pk, 1)
    assert [(a.status, a.actor_label) for a in stale.attempt_rows.all()] == [("processed", "job")]
    assert events_of(lead.pk)[0][:3] == (TimelineKind.LEAD_CREATED, None, "job")
    assert lead.bucket_id == bucket.pk


def test_a_fresh_submission_is_left_to_its_own_processor():
    project = make_project()
    bucket, _key = make_bucket(project)
    fresh = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"},
                             created_at=T0)

    with time_machine.travel(T0 + timedelta(minutes=1, seconds=59), tick=False):
        counts = run_sweeps()

    assert counts == NOTHING
    assert Submission.objects.get(pk=fresh.pk).status == "new"
    assert not Lead.objects.exists()


def test_running_the_sweep_twice_processes_nothing_more():
    project = make_project()
    bucket, _key = make_bucket(project)
    make_lead(project, email="known@example.com")
    store_submission(bucket, {"name": "Ann", "email": "ann@example.com"}, created_at=T0)
    store_submission(bucket, {"name": "Known", "email": "known@example.com"}, created_at=T0)
    store_submission(bucket, {"name": "Nobody"}, created_at=T0)

    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        first = run_sweeps()
        events_after_first = event_count()
        second = run_sweeps()

    assert first["submissions_processed"] == 3
    assert second == NOTHING
    assert sorted(Submission.objects.values_list("status", flat=True)) == [
        "duplicate", "processed", "rejected"]
    assert SubmissionAttempt.objects.count() == 3
    assert event_count() == events_after_first


def test_a_crash_between_storing_and_processing_loses_nothing(monkeypatch):
    project = make_project()
    bucket, _key = make_bucket(project)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    with time_machine.travel(T0, tick=False):
        monkeypatch.setattr(submissions, "_outcome", crash)
        with pytest.raises(RuntimeError):
            submit(bucket, {"name": "Ann", "email": "ann@example.com"})
        monkeypatch.undo()

    stored = Submission.objects.get()
    assert (stored.status, stored.raw) == ("new", {"name": "Ann", "email": "ann@example.com"})

    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        counts = run_sweeps()

    stored.refresh_from_db()
    assert counts["submissions_processed"] == 1
    assert (stored.status, stored.lead_id) == ("processed", Lead.objects.get().pk)


def test_of_two_processors_of_one_submission_exactly_one_wins():
    project = make_project()
    bucket, _key = make_bucket(project)
    row = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"})
    first_copy = Submission.objects.get(pk=row.pk)
    second_copy = Submission.objects.get(pk=row.pk)  # read before the first one finished

    process_submission(first_copy, actor=INTAKE)
    events_before = event_count()
    with pytest.raises(Conflict) as exc:
        process_submission(second_copy, actor=INTAKE)

    assert exc.value.code == "busy"
    lead = Lead.objects.get()
    stored = Submission.objects.get()
    assert (stored.status, stored.lead_id, stored.attempts) == ("processed", lead.pk, 1)
    assert SubmissionAttempt.objects.count() == 1
    assert event_count() == events_before
    assert not TimelineEvent.objects.filter(kind=TimelineKind.LEAD_REGISTERED_AGAIN).exists()


def test_a_processed_submission_is_never_processed_again():
    project = make_project()
    bucket, _key = make_bucket(project)
    done = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    with pytest.raises(Conflict) as exc:
        process_submission(Submission.objects.get(pk=done.pk), actor=INTAKE)

    assert exc.value.code == "processed"
    assert SubmissionAttempt.objects.count() == 1


def test_the_sweep_checks_leads_whose_duplicate_check_was_lost():
    project = make_project()
    make_lead(project, name="Anne Smith")
    make_lead(project, name="Ann Smith")

    counts = run_sweeps()

    assert counts == NOTHING | {"submissions_processed": 0, "leads_checked_for_duplicates": 2,
                      "rate_counters_forgotten": 0}
    assert run_sweeps() == NOTHING
