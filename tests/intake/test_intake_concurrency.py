"""Races settled by the database: one person submitted to a bucket by many callers at once, in
different spellings, is one lead; every submission is accounted for."""

import importlib

import pytest
from django.db import IntegrityError
from django.test import Client

from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey, Submission, SubmissionAttempt
from leadflow.intake.services.submissions import submit, submit_batch
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import make_bucket, make_project, post_intake
from tests.test_concurrency import run_at_once

THREADS = 16
EMAILS = ["ann.lee@example.com", " ANN.LEE@example.com", "Ann.Lee@Example.COM ",
          "\tann.LEE@EXAMPLE.com"]
PHONES = ["2125550100", "+1 212 555 0100", "001 212 555 0100", "(212) 555-0100",
          "212.555.0100", "+1-212-555-0100", "00 1 (212) 555 0100"]


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_submissions_of_one_person_make_one_lead():
    project = make_project(default_region="US")
    bucket, key = make_bucket(project, name="Spring")

    def send(index: int):
        body = {"name": f"Ann Lee {index}", "email": EMAILS[index % len(EMAILS)],
                "phone": PHONES[index % len(PHONES)]}
        response = post_intake(Client(), bucket, key, body)
        return response.status_code, response.json()

    results = run_at_once(send, THREADS)

    assert [r for r in results if not isinstance(r, tuple)] == []
    assert [status for status, _body in results] == [201] * THREADS
    lead = Lead.objects.get()
    bodies = [body for _status, body in results]
    assert sorted(b["status"] for b in bodies) == ["duplicate"] * (THREADS - 1) + ["processed"]
    assert [b["lead"] for b in bodies if b["status"] == "processed"] == [lead.pk]
    assert {b["duplicate_of"] for b in bodies if b["status"] == "duplicate"} == {lead.pk}
    assert sorted(Submission.objects.values_list("status", flat=True)) == sorted(
        b["status"] for b in bodies)
    assert sorted(Submission.objects.values_list("id", flat=True)) == sorted(
        b["id"] for b in bodies)
    assert SubmissionAttempt.objects.count() == THREADS
    assert (lead.email_key, lead.phones) == ("ann.lee@example.com", ["+12125550100"])
    assert sorted(DuplicateKey.objects.values_list("kind", "value", "lead_id", "canonical")) == [
        ("email", "ann.lee@example.com", lead.pk, True), ("phone", "+12125550100", lead.pk, True)]
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_CREATED).count() == 1
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_REGISTERED_AGAIN,
                                        lead_id=lead.pk).count() == THREADS - 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_idempotency_key_store_one_submission():
    project = make_project(default_region="US")
    bucket, key = make_bucket(project)
    retries = 8

    def send(index: int):
        response = post_intake(Client(), bucket, key,
                               {"name": "Ann Lee", "email": f"ann{index}@example.com"},
                               HTTP_IDEMPOTENCY_KEY="order-17")
        return response.status_code, response.json()

    results = run_at_once(send, retries)

    assert [r for r in results if not isinstance(r, tuple)] == []
    assert [status for status, _body in results] == [201] * retries
    submission = Submission.objects.get()
    assert {body["id"] for _status, body in results} == {submission.pk}
    assert submission.status == "processed"
    assert Lead.objects.count() == 1
    assert SubmissionAttempt.objects.count() == 1


def race_once(monkeypatch, module: str, name: str) -> None:
    """The next call of `module.name` loses a race for a key (a concurrent writer claimed it
    first, as a unique index reports it); later calls run as usual."""
    target = importlib.import_module(module)  # the module, not a function of the same name
    real = getattr(target, name)

    def raced(*args, **kwargs):
        monkeypatch.setattr(target, name, real)
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(target, name, raced)


def test_a_batch_whose_key_is_claimed_meanwhile_is_processed_one_by_one(monkeypatch):
    bucket, _key = make_bucket(make_project())
    race_once(monkeypatch, "leadflow.intake.services.bulk", "ingest_batch")
    items = [{"name": "Ann", "email": "ann@example.com"}, {"name": "Bo", "email": "bo@x.io"},
             {"name": "Ann again", "email": "ANN@example.com"}, {"name": "No contact"}]

    rows = submit_batch(bucket, items)

    assert [r.status for r in rows] == ["processed", "processed", "duplicate", "rejected"]
    assert rows[2].duplicate_of_id == rows[0].lead_id
    assert sorted(Submission.objects.values_list("status", flat=True)) == [
        "duplicate", "processed", "processed", "rejected"]
    assert Lead.objects.count() == 2
    assert SubmissionAttempt.objects.count() == 4


def test_a_single_submission_whose_key_is_claimed_meanwhile_runs_again_and_is_stored_once(
        monkeypatch):
    bucket, _key = make_bucket(make_project())
    race_once(monkeypatch, "leadflow.intake.services.ingest", "_create")

    row = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    assert row.status == "processed"
    assert Lead.objects.get().pk == row.lead_id
    assert list(Submission.objects.values_list("status", "attempts")) == [("processed", 1)]
    assert SubmissionAttempt.objects.count() == 1
