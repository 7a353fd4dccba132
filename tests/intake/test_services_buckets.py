"""Buckets: create, edit, rotate the key, authenticate a key (DESIGN §1, §4)."""

import hashlib

import pytest

from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm.models import Lead
from leadflow.intake.models import Bucket, Submission
from leadflow.intake.services import buckets
from tests.factories import (
    as_actor,
    event_count,
    make_bucket,
    make_project,
    make_user,
    source_named,
    submit,
)


def codes(exc_info) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc_info.value.errors]


def bucket_row(bucket) -> dict:
    return Bucket.objects.filter(pk=bucket.pk).values().get()


def team():
    project = make_project()
    return project, make_user(project, "manager"), make_user(project, "agent")


# --- create ------------------------------------------------------------------------------------


def test_manager_creates_a_bucket_whose_key_is_stored_only_as_sha256():
    project, manager, agent = team()
    event = source_named(project, "Event")

    bucket, key = buckets.create_bucket(
        project, actor=as_actor(manager), name=" Spring fair ", label="Spring 2030",
        source=event.pk, default_manager=agent.pk, affiliate_id="aff-7",
    )

    row = bucket_row(bucket)
    assert {k: row[k] for k in ("project_id", "name", "label", "source_id", "default_manager_id",
                                "affiliate_id", "active", "creates")} == {
        "project_id": project.pk, "name": "Spring fair", "label": "Spring 2030",
        "source_id": event.pk, "default_manager_id": agent.pk, "affiliate_id": "aff-7",
        "active": True, "creates": "lead",
    }
    assert len(key) >= 43
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["key_prefix"] == key[:8]
    assert not any(key in str(value) for value in row.values())


def test_label_defaults_to_the_name():
    project, manager, _agent = team()

    bucket, _key = buckets.create_bucket(project, actor=as_actor(manager), name="Affiliates",
                                         source=source_named(project, "Referral").pk)

    assert Bucket.objects.get(pk=bucket.pk).label == "Affiliates"


def test_every_bucket_gets_its_own_key():
    project = make_project()

    (first, key1), (second, key2) = make_bucket(project), make_bucket(project)

    assert key1 != key2
    assert Bucket.objects.get(pk=first.pk).key_hash != Bucket.objects.get(pk=second.pk).key_hash


@pytest.mark.parametrize("_case, who, error", [
    ("agent", "agent", PermissionDenied),
    ("agent_with_view_all", "viewer", PermissionDenied),
    ("manager_of_another_project", "foreign_manager", NotFound),
    ("agent_of_another_project", "outsider", NotFound),
])
def test_only_managers_of_the_project_create_buckets(_case, who, error):
    project = make_project()
    users = {
        "agent": make_user(project, "agent"),
        "viewer": make_user(project, "agent", view_all_leads=True),
        "foreign_manager": make_user(make_project(), "manager"),
        "outsider": make_user(make_project(), "agent"),
    }
    events_before = event_count()

    with pytest.raises(error):
        buckets.create_bucket(project, actor=as_actor(users[who]), name="Spring",
                              source=source_named(project, "Website").pk)

    assert not Bucket.objects.exists()
    assert event_count() == events_before


def test_admin_creates_a_bucket_in_any_project():
    project = make_project()
    admin = make_user(admin=True)

    bucket, _key = buckets.create_bucket(project, actor=as_actor(admin), name="Spring",
                                         source=source_named(project, "Website").pk)

    assert Bucket.objects.get().pk == bucket.pk


def test_a_bucket_creates_leads_or_clients_only():
    project, manager, _agent = team()
    website = source_named(project, "Website").pk

    bucket, _key = buckets.create_bucket(project, actor=as_actor(manager), name="Upsell",
                                         creates="client", source=website)
    with pytest.raises(ValidationFailed) as exc:
        buckets.create_bucket(project, actor=as_actor(manager), name="Deals", creates="deal",
                              source=website)

    assert bucket.creates == "client"
    assert codes(exc) == [("creates", "invalid")]
    assert list(Bucket.objects.values_list("name", flat=True)) == ["Upsell"]


def test_create_checks_every_field():
    project, manager, _agent = team()
    stranger = make_user(make_project(), "agent")
    foreign_source = source_named(make_project(), "Website")

    with pytest.raises(ValidationFailed) as exc:
        buckets.create_bucket(project, actor=as_actor(manager), name="  ", label="x" * 201,
                              source=foreign_source.pk, default_manager=stranger.pk,
                              affiliate_id="a" * 101, creates="partner")

    assert sorted(codes(exc)) == [
        ("affiliate_id", "too_long"), ("creates", "invalid"), ("default_manager", "not_member"),
        ("label", "too_long"), ("name", "required"), ("source", "invalid"),
    ]
    assert not Bucket.objects.exists()


def test_source_is_required():
    project, manager, _agent = team()

    with pytest.raises(ValidationFailed) as exc:
        buckets.create_bucket(project, actor=as_actor(manager), name="Spring")

    assert codes(exc) == [("source", "required")]


def test_a_bucket_name_is_unique_within_its_project():
    project, manager, _agent = team()
    make_bucket(project, name="Spring")
    other_project = make_project()

    with pytest.raises(Conflict) as exc:
        buckets.create_bucket(project, actor=as_actor(manager), name="Spring",
                              source=source_named(project, "Website").pk)
    make_bucket(other_project, name="Spring")

    assert exc.value.code == "exists"
    assert sorted(Bucket.objects.values_list("project_id", "name")) == [
        (project.pk, "Spring"), (other_project.pk, "Spring")]


# --- edit --------------------------------------------------------------------------------------


def test_manager_edits_a_bucket():
    project, manager, agent = team()
    bucket, _key = make_bucket(project, name="Spring", label="Spring")
    referral = source_named(project, "Referral")

    updated = buckets.update_bucket(
        bucket, actor=as_actor(manager), name="Summer", label="Summer 2030", source=referral.pk,
        default_manager=agent.pk, affiliate_id="aff-9", active=False,
    )

    row = bucket_row(bucket)
    assert updated.pk == bucket.pk
    assert (row["name"], row["label"], row["source_id"], row["default_manager_id"],
            row["affiliate_id"], row["active"]) == (
        "Summer", "Summer 2030", referral.pk, agent.pk, "aff-9", False)


@pytest.mark.parametrize("_case, who, error", [
    ("agent", "agent", PermissionDenied),
    ("manager_of_another_project", "foreign_manager", NotFound),
])
def test_only_managers_of_the_project_edit_buckets(_case, who, error):
    project = make_project()
    users = {"agent": make_user(project, "agent"),
             "foreign_manager": make_user(make_project(), "manager")}
    bucket, _key = make_bucket(project, name="Spring")
    before = bucket_row(bucket)

    with pytest.raises(error):
        buckets.update_bucket(bucket, actor=as_actor(users[who]), label="Hacked", active=False)

    assert bucket_row(bucket) == before


def test_an_invalid_creates_value_is_refused_and_changes_nothing():
    project, manager, _agent = team()
    bucket, _key = make_bucket(project, name="Spring")
    before = bucket_row(bucket)

    with pytest.raises(ValidationFailed) as exc:
        buckets.update_bucket(bucket, actor=as_actor(manager), label="New", creates="deal")

    assert codes(exc) == [("creates", "invalid")]
    assert bucket_row(bucket) == before
    assert (bucket.label, bucket.creates) == ("Spring", "lead")


def test_renaming_to_a_taken_name_is_a_conflict_and_keeps_the_old_values():
    project, manager, _agent = team()
    make_bucket(project, name="Spring")
    bucket, _key = make_bucket(project, name="Summer")
    before = bucket_row(bucket)

    with pytest.raises(Conflict) as exc:
        buckets.update_bucket(bucket, actor=as_actor(manager), name="Spring", label="x")

    assert exc.value.code == "exists"
    assert bucket_row(bucket) == before
    assert (bucket.name, bucket.label) == ("Summer", "Summer")


def test_editing_a_bucket_never_changes_its_processed_submissions_or_their_leads():
    project, manager, _agent = team()
    bucket, _key = make_bucket(project, name="Spring", label="Spring fair", affiliate_id="aff-1")
    first = submit(bucket, {"name": "Ann Lee", "email": "ann@example.com"})
    lead_before = Lead.objects.filter(pk=first.lead_id).values().get()
    submission_before = Submission.objects.filter(pk=first.pk).values().get()

    buckets.update_bucket(bucket, actor=as_actor(manager), label="Summer fair",
                          affiliate_id="aff-2", source=source_named(project, "Referral").pk)
    second = submit(bucket, {"name": "Bo Chen", "email": "bo@example.com"})

    assert Lead.objects.filter(pk=first.lead_id).values().get() == lead_before
    assert lead_before["bucket_label"] == "Spring fair"
    assert lead_before["affiliate_id"] == "aff-1"
    assert Submission.objects.filter(pk=first.pk).values().get() == submission_before
    new_lead = Lead.objects.get(pk=second.lead_id)
    assert (new_lead.bucket_label, new_lead.affiliate_id, new_lead.source.name) == (
        "Summer fair", "aff-2", "Referral")


# --- keys --------------------------------------------------------------------------------------


def test_rotating_the_key_stops_the_old_key_at_once():
    project, manager, _agent = team()
    bucket, old_key = make_bucket(project)

    new_key = buckets.rotate_bucket_key(bucket, actor=as_actor(manager))

    assert new_key != old_key
    assert buckets.authenticate_bucket(bucket.pk, old_key) is None
    assert buckets.authenticate_bucket(bucket.pk, new_key) == bucket
    row = bucket_row(bucket)
    assert (row["key_hash"], row["key_prefix"]) == (
        hashlib.sha256(new_key.encode()).hexdigest(), new_key[:8])


def test_an_agent_cannot_rotate_the_key():
    project, _manager, agent = team()
    bucket, key = make_bucket(project)
    before = bucket_row(bucket)

    with pytest.raises(PermissionDenied):
        buckets.rotate_bucket_key(bucket, actor=as_actor(agent))

    assert bucket_row(bucket) == before
    assert buckets.authenticate_bucket(bucket.pk, key) == bucket


@pytest.mark.parametrize("_case, which", [
    ("no_key", None),
    ("empty_key", ""),
    ("wrong_key", "not-the-key"),
    ("key_of_another_bucket", "other"),
])
def test_a_bucket_authenticates_only_its_own_key(_case, which):
    project = make_project()
    bucket, _key = make_bucket(project)
    _other, other_key = make_bucket(project)

    raw = other_key if which == "other" else which

    assert buckets.authenticate_bucket(bucket.pk, raw) is None


# --- visibility --------------------------------------------------------------------------------


def test_managers_see_their_projects_buckets_agents_none_admins_all():
    project, manager, agent = team()
    mine, _key = make_bucket(project)
    theirs, _key = make_bucket(make_project())
    admin = make_user(admin=True)

    assert list(buckets.buckets_visible_to(as_actor(manager))) == [mine]
    assert list(buckets.buckets_visible_to(as_actor(agent))) == []
    assert set(buckets.buckets_visible_to(as_actor(admin))) == {mine, theirs}
    with pytest.raises(NotFound):
        buckets.get_bucket_for(as_actor(manager), theirs.pk)
    with pytest.raises(NotFound):
        buckets.get_bucket_for(as_actor(agent), mine.pk)
