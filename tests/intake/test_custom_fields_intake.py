"""Custom fields through intake (single, batch, web form): values read from the payload,
checked and normalized against the project's field definitions; bad ones reject the submission
with the reason; unique and primary-key fields are duplicate keys, rebuilt by rebuild-keys and
settled by the database when many callers submit one value at once."""

import pytest
from django.test import Client

from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey, Submission
from leadflow.intake.services.keys import rebuild_keys
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    custom_keys_of,
    make_bucket,
    make_field,
    make_lead,
    make_project,
    post_intake,
    source_named,
    submit,
)
from tests.test_concurrency import run_at_once


def test_custom_values_are_read_at_the_top_level_or_in_a_custom_object(client):
    project = make_project(default_region="FR")
    make_field(project, "budget", type="number")
    make_field(project, "mobile_pro", type="phone")
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, {
        "name": "Ann", "email": "ann@example.com", "budget": "1200",
        "custom": {"mobile_pro": "06 12 34 56 78"}, "colour": "kept in raw"})

    assert (response.status_code, response.json()["status"]) == (201, "processed")
    lead = Lead.objects.get()
    assert lead.custom == {"budget": 1200, "mobile_pro": "+33612345678"}
    submission = Submission.objects.get()
    assert submission.raw["colour"] == "kept in raw"
    assert submission.normalized["custom"] == {"budget": 1200, "mobile_pro": "+33612345678"}


def test_the_custom_object_wins_over_a_top_level_value():
    project = make_project()
    make_field(project, "budget", type="number")
    bucket, _ = make_bucket(project)

    submit(bucket, {"name": "Ann", "email": "a@example.com", "budget": "1",
                    "custom": {"budget": "2"}})

    assert Lead.objects.get().custom == {"budget": 2}


def test_unknown_names_in_the_custom_object_stay_in_the_raw_payload():
    project = make_project()
    bucket, _ = make_bucket(project)

    row = submit(bucket, {"name": "Ann", "email": "a@example.com", "custom": {"colour": "red"}})

    assert row.status == "processed"
    assert Lead.objects.get().custom == {}
    assert Submission.objects.get().raw["custom"] == {"colour": "red"}


def test_a_bad_or_missing_required_value_rejects_the_submission_with_the_reason(client):
    project = make_project()
    make_field(project, "budget", label="Budget", type="number")
    make_field(project, "segment", type="choice", choices=["SMB", "Enterprise"],
               nullable=False)
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, {"name": "Ann", "email": "a@example.com",
                                                 "budget": "a lot"})

    body = response.json()
    assert (response.status_code, body["status"], body["lead"]) == (201, "rejected", None)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("custom.budget", "invalid_number"), ("custom.segment", "required")]
    assert body["errors"][0]["message"] == "Budget: 'a lot' is not a whole number."
    assert not Lead.objects.exists()


def test_a_unique_value_seen_before_is_a_duplicate_naming_the_field(client):
    project = make_project()
    make_field(project, "policy_no", unique=True)
    existing = make_lead(project, email="ann@example.com", custom={"policy_no": "P-7"})
    bucket, key = make_bucket(project, name="Spring")

    response = post_intake(client, bucket, key, {"name": "Bob", "email": "bob@example.com",
                                                 "policy_no": " p-7 "})

    body = response.json()
    assert (body["status"], body["duplicate_of"]) == ("duplicate", existing.pk)
    assert Submission.objects.get().matched == [
        {"kind": "custom", "value": "policy_no=p-7", "lead": existing.pk}]
    again = TimelineEvent.objects.get(lead_id=existing.pk,
                                      kind=TimelineKind.LEAD_REGISTERED_AGAIN)
    assert again.after["matched"] == [{"rule": "custom", "value": "policy_no=p-7"}]


def test_blank_unique_values_through_intake_never_collide():
    project = make_project()
    make_field(project, "policy_no", unique=True)
    bucket, _ = make_bucket(project)

    first = submit(bucket, {"name": "Ann", "email": "a@example.com", "policy_no": ""})
    second = submit(bucket, {"name": "Bob", "email": "b@example.com"})

    assert (first.status, second.status) == ("processed", "processed")
    assert custom_keys_of(project) == []


def test_a_batch_checks_custom_values_and_catches_a_later_copy_of_a_unique_value(client):
    project = make_project()
    make_field(project, "account", primary_key=True)
    make_field(project, "branch", type="number", primary_key=True)
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, [
        {"name": "Ann", "email": "a@example.com", "account": "A1", "branch": "1"},
        {"name": "Bob", "email": "b@example.com", "account": "A1", "branch": "2"},
        {"name": "Cid", "email": "c@example.com", "custom": {"account": "a1", "branch": 1}},
        {"name": "Dee", "email": "d@example.com", "account": "A1", "branch": "one"},
    ], path="/batch")

    items = response.json()["items"]
    assert [i["status"] for i in items] == ["processed", "processed", "duplicate", "rejected"]
    assert items[2]["duplicate_of"] == items[0]["lead"]
    assert [(e["field"], e["code"]) for e in items[3]["errors"]] == [
        ("custom.branch", "invalid_number")]
    ann = Lead.objects.get(pk=items[0]["lead"])
    assert ann.custom == {"account": "A1", "branch": 1}
    assert custom_keys_of(ann) == [("composite", '{"account":"a1","branch":"1"}', ann.pk, True)]
    created = TimelineEvent.objects.get(lead_id=ann.pk, kind=TimelineKind.LEAD_CREATED)
    assert created.after["custom"] == {"account": "A1", "branch": 1}


def test_a_web_form_post_carries_the_projects_custom_fields():
    from leadflow.intake.services.webforms import submit_form
    from leadflow.projects import services as project_services

    project = make_project()
    make_field(project, "budget", type="number", nullable=False)
    bucket, _ = make_bucket(project)
    source = project_services.update_source(source_named(project, "Website"), actor=SYSTEM,
                                            form_enabled=True, form_bucket=bucket.pk)

    row = submit_form(source, {"name": "Ann", "email": "a@example.com", "budget": "7"},
                      address="203.0.113.7")
    refused = submit_form(source, {"name": "Bob", "email": "b@example.com"},
                          address="203.0.113.7")

    assert row.status == "processed"
    assert row.lead.custom == {"budget": 7}
    assert (refused.status, refused.errors[0]["field"]) == ("rejected", "custom.budget")


def test_rebuild_keys_includes_custom_and_composite_keys():
    project = make_project()
    make_field(project, "policy_no", unique=True)
    make_field(project, "account", primary_key=True)
    lead = make_lead(project, email="ann@example.com",
                     custom={"policy_no": "P-1", "account": "A"})
    before = custom_keys_of(lead)
    DuplicateKey.objects.all().delete()

    report = rebuild_keys(actor=SYSTEM)

    assert (report.leads, report.keys, report.collisions) == (1, 3, [])
    assert custom_keys_of(lead) == before == [
        ("composite", '{"account":"a"}', lead.pk, True),
        ("custom", "policy_no=p-1", lead.pk, True)]


THREADS = 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_one_unique_value_make_one_lead():
    project = make_project()
    make_field(project, "policy_no", unique=True)
    bucket, key = make_bucket(project)
    spellings = ["P-100", "p-100", " P-100 ", "p-100\t"]

    def send(index: int):
        body = {"name": f"Person {index}", "email": f"person{index}@example.com",
                "policy_no": spellings[index % len(spellings)]}
        response = post_intake(Client(), bucket, key, body)
        return response.status_code, response.json()

    results = run_at_once(send, THREADS)

    assert [r for r in results if not isinstance(r, tuple)] == []
    lead = Lead.objects.get()
    statuses = sorted(body["status"] for _status, body in results)
    assert statuses == ["duplicate"] * (THREADS - 1) + ["processed"]
    assert {body["duplicate_of"] for _s, body in results if body["status"] == "duplicate"} == {
        lead.pk}
    assert list(DuplicateKey.objects.filter(kind="custom").values_list(
        "value", "lead_id", "canonical")) == [("policy_no=p-100", lead.pk, True)]
