"""Submissions: stored verbatim, processed through ingest into a lead, a duplicate result or a
rejection; every attempt recorded; reprocessing (DESIGN §1, §2)."""

import pytest

from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey, Submission
from leadflow.intake.services import submissions
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    as_actor,
    default_pool,
    event_count,
    events_of,
    lead_snapshot,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    source_named,
    stage_named,
    store_submission,
    submit,
)


def attempts_of(submission) -> list[tuple]:
    return [(a.status, a.lead_id_value, a.duplicate_of_id_value, a.actor_label)
            for a in submission.attempt_rows.all()]


# --- processed ---------------------------------------------------------------------------------


def test_a_submission_becomes_a_lead_with_the_buckets_attribution():
    project = make_project(default_region="GB")
    agent = make_user(project, "agent")
    bucket, _key = make_bucket(project, name="Spring", label="Spring fair", source="Event",
                               affiliate_id="aff-1", default_manager=agent.pk)
    payload = {
        "first_name": " Ann ", "last_name": "Lee", "email": " Ann@Example.COM ",
        "phone": "020 7946 0018", "company": "Acme", "country": "gb", "language": "en",
        "timezone": "Europe/London", "utm_source": "google", "utm_campaign": "spring",
        "utm": {"medium": "cpc"}, "favourite_colour": "teal", "consent": {"gdpr": True},
    }

    submission = submit(bucket, payload)

    lead = Lead.objects.get()
    assert (submission.status, submission.lead_id, submission.duplicate_of_id,
            submission.errors, submission.matched) == ("processed", lead.pk, None, [], [])
    assert Submission.objects.get(pk=submission.pk).raw == payload
    assert (submission.channel, submission.attempts) == ("api", 1)
    assert submission.processed_at is not None
    assert {k: getattr(lead, k) for k in (
        "name", "email", "email_key", "phones", "company", "country", "language", "timezone",
        "bucket_id", "bucket_label", "affiliate_id", "utm", "source_id", "owner_id",
        "original_owner_id", "pool_id", "stage_id", "status", "project_id")} == {
        "name": "Ann Lee", "email": "Ann@example.com", "email_key": "ann@example.com",
        "phones": ["+442079460018"], "company": "Acme", "country": "GB", "language": "en",
        "timezone": "Europe/London", "bucket_id": bucket.pk, "bucket_label": "Spring fair",
        "affiliate_id": "aff-1", "utm": {"medium": "cpc", "source": "google",
                                         "campaign": "spring"},
        "source_id": source_named(project, "Event").pk, "owner_id": agent.pk,
        "original_owner_id": agent.pk, "pool_id": default_pool(project).pk,
        "stage_id": stage_named(project, "New").pk, "status": "NOT_CONTACTED",
        "project_id": project.pk,
    }
    assert sorted(DuplicateKey.objects.filter(lead=lead).values_list("kind", "value",
                                                                      "canonical")) == [
        ("email", "ann@example.com", True), ("phone", "+442079460018", True)]
    assert events_of(lead.pk) == [(
        TimelineKind.LEAD_CREATED, None, "intake", None,
        {"name": "Ann Lee", "email": "Ann@example.com", "phones": ["+442079460018"],
         "company": "Acme", "source": "Event", "pool": "Default", "stage": "New",
         "owner": agent.email, "bucket": "Spring"},
    ), (TimelineKind.LEAD_ROUTED, None, "intake", None, {"via": "bucket", "to": agent.pk})]
    created = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_CREATED)
    assert created.reason == "Submitted to bucket Spring"
    assert attempts_of(submission) == [("processed", lead.pk, None, "intake")]


def test_the_normalized_form_is_kept_beside_the_raw_payload():
    project = make_project(default_region="US")
    bucket, _key = make_bucket(project)

    submission = submit(bucket, {"name": "Bo Chen", "email": "BO@Example.com",
                                 "mobile": "(212) 555-0100", "utm_medium": "email"})

    assert Submission.objects.get(pk=submission.pk).normalized == {
        "name": "Bo Chen", "email": "BO@example.com", "phones": ["+12125550100"],
        "company": None, "country": None, "language": None, "timezone": None,
        "affiliate_id": "", "utm": {"medium": "email"},
    }
    assert (submission.name, submission.email_key) == ("Bo Chen", "bo@example.com")


def test_the_payloads_affiliate_id_wins_over_the_buckets():
    project = make_project()
    bucket, _key = make_bucket(project, affiliate_id="aff-bucket")

    submission = submit(bucket, {"name": "Ann", "email": "ann@example.com",
                                 "affiliate_id": "aff-payload"})

    assert Lead.objects.get(pk=submission.lead_id).affiliate_id == "aff-payload"


def test_a_default_manager_outside_the_default_pool_is_refused():
    project = make_project()
    manager = make_user(project, "manager")  # managers are in no pool

    with pytest.raises(ValidationFailed) as refused:
        make_bucket(project, default_manager=manager.pk)

    assert [(e.field, e.code) for e in refused.value.errors] == [
        ("default_manager", "not_in_pool")]


def test_a_default_manager_who_left_the_default_pool_leaves_the_lead_unowned():
    project = make_project()
    agent = make_user(project, "agent")
    bucket, _key = make_bucket(project, default_manager=agent.pk)
    default_pool(project).members.remove(agent)

    submission = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    lead = Lead.objects.get(pk=submission.lead_id)
    assert (lead.owner_id, lead.original_owner_id, lead.assigned_at) == (None, None, None)
    assert events_of(lead.pk)[0][4]["owner"] is None


def test_a_bucket_without_a_default_manager_leaves_the_lead_unowned():
    project = make_project()
    make_user(project, "agent")
    bucket, _key = make_bucket(project)

    submission = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    assert Lead.objects.get(pk=submission.lead_id).owner_id is None


# --- duplicate ---------------------------------------------------------------------------------


def test_a_duplicate_points_to_the_existing_lead_and_records_one_registered_again_event():
    project = make_project(default_region="US")
    existing = make_lead(project, name="Ann Lee", email="ann@example.com",
                         phones=["+1 212 555 0100"])
    before = lead_snapshot(existing.pk)
    bucket, _key = make_bucket(project, name="Spring")

    submission = submit(bucket, {"name": "Annie", "email": "ANN@example.com",
                                 "phone": "(212) 555-0100", "company": "Acme"})

    assert (submission.status, submission.lead_id, submission.duplicate_of_id,
            submission.errors) == ("duplicate", None, existing.pk, [])
    assert submission.matched == [
        {"kind": "email", "value": "ann@example.com", "lead": existing.pk},
        {"kind": "phone", "value": "+12125550100", "lead": existing.pk},
    ]
    assert Lead.objects.count() == 1
    assert lead_snapshot(existing.pk) == before
    assert events_of(existing.pk)[1:] == [(
        TimelineKind.LEAD_REGISTERED_AGAIN, None, "intake", None,
        {"bucket": "Spring", "submission": submission.pk,
         "matched": [{"rule": "email", "value": "ann@example.com"},
                     {"rule": "phone", "value": "+12125550100"}]},
    )]
    event = TimelineEvent.objects.get(kind=TimelineKind.LEAD_REGISTERED_AGAIN)
    assert event.reason == "Registered again through bucket Spring"
    assert attempts_of(submission) == [("duplicate", None, existing.pk, "intake")]


def test_a_duplicate_found_by_a_later_phone_names_only_that_rule():
    project = make_project(default_region="US")
    existing = make_lead(project, email="ann@example.com", phones=["+12125550100"])
    bucket, _key = make_bucket(project)

    submission = submit(bucket, {"name": "Ann", "email": "other@example.com",
                                 "phones": ["+1 646 555 0199", "212 555 0100"]})

    assert submission.duplicate_of_id == existing.pk
    assert submission.matched == [
        {"kind": "phone", "value": "+12125550100", "lead": existing.pk}]


def test_a_lead_of_another_project_is_not_a_duplicate():
    project, other = make_project(), make_project()
    make_lead(other, email="ann@example.com")
    bucket, _key = make_bucket(project)

    submission = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    assert submission.status == "processed"
    assert Lead.objects.get(pk=submission.lead_id).project_id == project.pk


# --- rejected ----------------------------------------------------------------------------------


def test_a_rejected_submission_keeps_every_field_error_and_creates_nothing():
    project = make_project(default_region="US")
    bucket, _key = make_bucket(project)
    events_before = event_count()

    submission = submit(bucket, {"first_name": "", "email": "not-an-email",
                                 "phones": ["12", "+1 212 555 0100"], "timezone": "Mars/Base"})

    assert submission.status == "rejected"
    assert [(e["field"], e["code"]) for e in submission.errors] == [
        ("email", "invalid_email"), ("phones[0]", "invalid_phone"), ("timezone", "invalid"),
        ("name", "required")]
    assert all(e["message"] for e in submission.errors)
    assert (submission.lead_id, submission.duplicate_of_id) == (None, None)
    assert not Lead.objects.exists()
    assert not DuplicateKey.objects.exists()
    assert event_count() == events_before
    assert attempts_of(submission) == [("rejected", None, None, "intake")]


def test_fields_of_the_wrong_type_are_rejected_by_name():
    project = make_project()
    bucket, _key = make_bucket(project)

    submission = submit(bucket, {"name": "Ann", "email": ["ann@example.com"],
                                 "phones": "+12125550100", "company": {"n": 1}})

    assert submission.status == "rejected"
    assert [(e["field"], e["code"]) for e in submission.errors] == [
        ("phones", "invalid"), ("email", "invalid"), ("company", "invalid")]
    assert Submission.objects.get(pk=submission.pk).raw["email"] == ["ann@example.com"]


def test_a_national_phone_is_read_with_the_projects_region():
    us_bucket, _key = make_bucket(make_project(default_region="US"))
    gb_bucket, _key = make_bucket(make_project(default_region="GB"))
    payload = {"name": "Ann", "phone": "020 7946 0018"}

    in_us, in_gb = submit(us_bucket, payload), submit(gb_bucket, payload)

    assert (in_us.status, [e["code"] for e in in_us.errors]) == ("rejected", ["invalid_phone"])
    assert (in_gb.status, Lead.objects.get(pk=in_gb.lead_id).phones) == (
        "processed", ["+442079460018"])


# --- inactive bucket ---------------------------------------------------------------------------


def test_an_inactive_bucket_refuses_and_stores_nothing():
    project = make_project()
    bucket, _key = make_bucket(project, active=False)

    with pytest.raises(PermissionDenied) as exc:
        submit(bucket, {"name": "Ann", "email": "ann@example.com"})
    with pytest.raises(PermissionDenied):
        submissions.submit_batch(bucket, [{"name": "Ann", "email": "ann@example.com"}])

    assert exc.value.code == "inactive"
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()


# --- reprocess ---------------------------------------------------------------------------------


def test_every_attempt_is_recorded():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    existing = make_lead(project, email="ann@example.com")
    submission = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    again = submissions.reprocess_submission(submission, actor=as_actor(manager))

    assert (again.status, again.duplicate_of_id, again.attempts) == ("duplicate", existing.pk, 2)
    assert attempts_of(again) == [("duplicate", None, existing.pk, "intake"),
                                  ("duplicate", None, existing.pk, manager.email)]
    # Registered again once, not once per attempt.
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_REGISTERED_AGAIN).count() == 1


def test_reprocessing_a_processed_submission_is_a_conflict():
    project = make_project()
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    submission = submit(bucket, {"name": "Ann", "email": "ann@example.com"})
    events_before = event_count()

    with pytest.raises(Conflict) as exc:
        submissions.reprocess_submission(submission, actor=as_actor(manager))

    assert exc.value.code == "processed"
    assert Submission.objects.get(pk=submission.pk).attempts == 1
    assert submission.attempt_rows.count() == 1
    assert event_count() == events_before


@pytest.mark.parametrize("_case, role, error", [
    ("agent", "agent", PermissionDenied),
    ("manager_of_another_project", "foreign", NotFound),
])
def test_only_managers_of_the_project_reprocess(_case, role, error):
    project = make_project()
    user = make_user(make_project(), "manager") if role == "foreign" else make_user(project, role)
    bucket, _key = make_bucket(project)
    submission = submit(bucket, {"name": "Ann", "email": "bad"})
    before = Submission.objects.filter(pk=submission.pk).values().get()

    with pytest.raises(error):
        submissions.reprocess_submission(submission, actor=as_actor(user))

    assert Submission.objects.filter(pk=submission.pk).values().get() == before
    assert submission.attempt_rows.count() == 1


def test_reprocessing_a_stored_submission_processes_it():
    project = make_project()
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    stored = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"})

    result = submissions.reprocess_submission(stored, actor=as_actor(manager))

    lead = Lead.objects.get()
    assert (result.status, result.lead_id, result.attempts) == ("processed", lead.pk, 1)
    assert events_of(lead.pk)[0][:3] == (TimelineKind.LEAD_CREATED, manager.pk, "api")
