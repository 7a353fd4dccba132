"""merge_leads: the survivor takes the other lead's keys, phones and blank fields; the merged-away
lead stays as history read through the survivor; deleting the survivor takes that history too.

The HTTP route `POST /leads/{id}/merge` is not part of this branch, so the service is tested."""

import pytest

from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm import services
from leadflow.crm.access import get_lead_for
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead, LeadWord
from leadflow.crm.selectors import lead_ids_of_history, timeline_for
from leadflow.intake.models import DuplicateKey, PairState, PossibleDuplicate
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    as_actor,
    auth,
    event_count,
    events_of,
    lead_snapshot,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    submit,
)


def keep_both(project, **fields):
    """A second lead of one person, created on purpose beside the first (keep-both)."""
    return services.create_lead(project, LeadInput(**fields), actor=SYSTEM,
                                on_duplicate="keep_both").lead


def keys_of(lead) -> list[tuple]:
    return sorted(DuplicateKey.objects.filter(lead=lead).values_list("kind", "value",
                                                                     "canonical"))


@pytest.fixture
def pair():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    survivor = make_lead(project, name="Ann Lee", email="", phones=["+1 212 555 0100"])
    other = keep_both(project, name="Ann Lee", email="ann@example.com", company="Acme",
                      phones=["+1 212 555 0100", "+1 646 555 0199"], country="us",
                      timezone="America/New_York", language="en")
    return project, manager, survivor, other


def test_the_survivor_takes_the_others_keys_phones_and_blank_fields(pair):
    project, manager, survivor, other = pair

    result = services.merge_leads(other, survivor, actor=as_actor(manager))

    assert result.pk == survivor.pk
    survivor = Lead.objects.get(pk=survivor.pk)
    assert {k: getattr(survivor, k) for k in ("name", "email", "email_key", "phones",
                                               "company", "country", "timezone",
                                               "language")} == {
        "name": "Ann Lee", "email": "ann@example.com", "email_key": "ann@example.com",
        "phones": ["+12125550100", "+16465550199"], "company": "Acme", "country": "US",
        "timezone": "America/New_York", "language": "en",
    }
    assert keys_of(survivor) == [("email", "ann@example.com", True),
                                 ("phone", "+12125550100", True),
                                 ("phone", "+16465550199", True)]
    assert keys_of(other) == []
    assert Lead.objects.get(pk=other.pk).merged_into_id == survivor.pk
    assert not LeadWord.objects.filter(lead_id=other.pk).exists()


def test_a_new_submission_with_the_merged_away_email_is_a_duplicate_of_the_survivor(pair):
    project, manager, survivor, other = pair
    services.merge_leads(other, survivor, actor=as_actor(manager))
    bucket, _key = make_bucket(project)

    by_email = submit(bucket, {"name": "Ann", "email": "ANN@example.com"})
    by_phone = submit(bucket, {"name": "Ann", "phone": "646-555-0199"})

    assert (by_email.status, by_email.duplicate_of_id) == ("duplicate", survivor.pk)
    assert (by_phone.status, by_phone.duplicate_of_id) == ("duplicate", survivor.pk)


def test_the_survivor_keeps_its_own_values_and_at_most_five_phones():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    mine = [f"+1 212 555 01{i:02d}" for i in range(4)]
    survivor = make_lead(project, name="Ann", email="ann@example.com", company="Acme",
                         phones=mine)
    other = keep_both(project, name="Ann", email="ann.lee@example.com", company="Globex",
                      phones=["+1 646 555 0101", "+1 646 555 0102", "+1 212 555 0100"])

    services.merge_leads(other, survivor, actor=as_actor(manager))

    survivor = Lead.objects.get(pk=survivor.pk)
    assert (survivor.email, survivor.company) == ("ann@example.com", "Acme")
    assert survivor.phones == ["+12125550100", "+12125550101", "+12125550102",
                               "+12125550103", "+16465550101"]


def test_merging_records_leads_merged_and_lead_merged_into(pair):
    project, manager, survivor, other = pair

    services.merge_leads(other, survivor, actor=as_actor(manager), reason="same person")

    merged = TimelineEvent.objects.get(kind=TimelineKind.LEADS_MERGED)
    merged_into = TimelineEvent.objects.get(kind=TimelineKind.LEAD_MERGED_INTO)
    assert events_of(survivor.pk)[-1] == (
        TimelineKind.LEADS_MERGED, manager.pk, "api",
        {"email": "", "phones": ["+12125550100"], "company": "", "country": "",
         "timezone": "", "language": ""},
        {"email": "ann@example.com", "phones": ["+12125550100", "+16465550199"],
         "company": "Acme", "country": "US", "timezone": "America/New_York", "language": "en",
         "merged_lead": other.pk},
    )
    assert events_of(other.pk)[-1] == (
        TimelineKind.LEAD_MERGED_INTO, manager.pk, "api", None, {"merged_into": survivor.pk})
    assert (merged.reason, merged_into.reason) == ("same person", "same person")
    assert merged.batch_id is not None and merged.batch_id == merged_into.batch_id


def test_the_merged_away_lead_is_hidden_but_its_history_reads_through_the_survivor(client, pair):
    project, manager, survivor, other = pair

    services.merge_leads(other, survivor, actor=as_actor(manager))

    with pytest.raises(NotFound):
        get_lead_for(as_actor(manager), other.pk)
    assert client.get(f"/api/v1/leads/{other.pk}", **auth(manager)).status_code == 404
    listed = client.get("/api/v1/leads", **auth(manager)).json()["items"]
    assert [lead["id"] for lead in listed] == [survivor.pk]
    events, _cursor = timeline_for(Lead.objects.get(pk=survivor.pk), limit=50, cursor=None)
    assert [(e.kind, e.lead_id) for e in events] == [
        (TimelineKind.LEAD_MERGED_INTO, other.pk),
        (TimelineKind.LEADS_MERGED, survivor.pk),
        (TimelineKind.LEAD_CREATED, other.pk),
        (TimelineKind.LEAD_CREATED, survivor.pk),
    ]
    route = client.get(f"/api/v1/leads/{survivor.pk}/timeline", **auth(manager)).json()
    assert [e["kind"] for e in route["items"]] == [e.kind for e in events]


def test_merging_again_into_the_same_survivor_changes_nothing(pair):
    project, manager, survivor, other = pair
    stale = Lead.objects.get(pk=other.pk)  # read before the merge
    services.merge_leads(other, survivor, actor=as_actor(manager))
    snapshots = (lead_snapshot(survivor.pk), lead_snapshot(other.pk), keys_of(survivor))
    events_before = event_count()

    again = services.merge_leads(Lead.objects.get(pk=other.pk), survivor,
                                 actor=as_actor(manager))
    from_stale = services.merge_leads(stale, Lead.objects.get(pk=survivor.pk),
                                      actor=as_actor(manager))

    assert again.pk == from_stale.pk == survivor.pk
    assert (lead_snapshot(survivor.pk), lead_snapshot(other.pk), keys_of(survivor)) == snapshots
    assert event_count() == events_before


def test_a_lead_merged_elsewhere_cannot_be_merged_again(pair):
    project, manager, survivor, other = pair
    third = make_lead(project, email="third@example.com")
    services.merge_leads(other, survivor, actor=as_actor(manager))
    events_before = event_count()

    with pytest.raises(Conflict) as exc:
        services.merge_leads(Lead.objects.get(pk=other.pk), third, actor=as_actor(manager))
    with pytest.raises(Conflict):
        services.merge_leads(third, Lead.objects.get(pk=other.pk), actor=as_actor(manager))

    assert exc.value.code == "merged"
    assert Lead.objects.get(pk=other.pk).merged_into_id == survivor.pk
    assert event_count() == events_before


def test_leads_of_two_projects_cannot_be_merged():
    admin = make_user(admin=True)
    first = make_lead(make_project(), email="ann@example.com")
    second = make_lead(make_project(), email="ann@example.com")
    before = (lead_snapshot(first.pk), lead_snapshot(second.pk), event_count())

    with pytest.raises(ValidationFailed) as exc:
        services.merge_leads(second, first, actor=as_actor(admin))

    assert [(e.field, e.code) for e in exc.value.errors] == [("into", "other_project")]
    assert (lead_snapshot(first.pk), lead_snapshot(second.pk), event_count()) == before


def test_a_lead_cannot_be_merged_into_itself(pair):
    project, manager, survivor, _other = pair

    with pytest.raises(ValidationFailed) as exc:
        services.merge_leads(survivor, survivor, actor=as_actor(manager))

    assert [(e.field, e.code) for e in exc.value.errors] == [("into", "same_lead")]


@pytest.mark.parametrize("_case, role", [
    ("agent_owning_both", "agent"),
    ("agent_with_view_all", "viewer"),
    ("manager_of_another_project", "foreign"),
])
def test_only_managers_merge(_case, role):
    project = make_project()
    if role == "foreign":
        user = make_user(make_project(), "manager")
    else:
        user = make_user(project, "agent", view_all_leads=(role == "viewer"))
    first = make_lead(project, owner=user if role == "agent" else None,
                      actor=as_actor(user) if role == "agent" else None, email="a@example.com")
    second = make_lead(project, owner=user if role == "agent" else None,
                       actor=as_actor(user) if role == "agent" else None, email="b@example.com")
    before = (lead_snapshot(first.pk), lead_snapshot(second.pk), keys_of(first),
              keys_of(second), event_count())

    with pytest.raises(PermissionDenied):
        services.merge_leads(second, first, actor=as_actor(user))

    assert (lead_snapshot(first.pk), lead_snapshot(second.pk), keys_of(first), keys_of(second),
            event_count()) == before


def test_merging_closes_the_open_possible_duplicate_pair_of_the_two(pair):
    project, manager, survivor, other = pair
    low, high = sorted((survivor.pk, other.pk))
    pair_row = PossibleDuplicate.objects.create(project=project, lead_a_id=low, lead_b_id=high,
                                                score=95.0, reason="name 95%")

    services.merge_leads(other, survivor, actor=as_actor(manager))

    pair_row.refresh_from_db()
    assert (pair_row.state, pair_row.decided_by_id) == (PairState.MERGED, manager.pk)
    assert pair_row.decided_at is not None


def test_deleting_the_survivor_deletes_its_merged_history_and_scrubs_it(pair):
    project, manager, survivor, other = pair
    third = make_lead(project, name="Ann L.", email="ann.l@example.com")
    services.merge_leads(other, survivor, actor=as_actor(manager))
    services.merge_leads(third, Lead.objects.get(pk=survivor.pk), actor=as_actor(manager))
    assert sorted(lead_ids_of_history(Lead.objects.get(pk=survivor.pk))) == sorted(
        [survivor.pk, other.pk, third.pk])

    services.delete_lead(Lead.objects.get(pk=survivor.pk), actor=as_actor(manager))

    assert not Lead.objects.filter(pk__in=[survivor.pk, other.pk, third.pk]).exists()
    assert not DuplicateKey.objects.exists()
    for lead_id in (other.pk, third.pk):
        events = TimelineEvent.objects.filter(lead_id=lead_id)
        assert events.count() == 2
        assert all(e.scrubbed and e.subject_label == "" and e.reason == "" for e in events)
        created = events.get(kind=TimelineKind.LEAD_CREATED)
        assert (created.after["name"], created.after["email"], created.after["phones"]) == (
            None, None, None)
    deleted = TimelineEvent.objects.get(kind=TimelineKind.LEAD_DELETED)
    assert (deleted.lead_id, deleted.actor_id, deleted.subject_label) == (
        survivor.pk, manager.pk, "")
    bucket, _key = make_bucket(project)
    assert submit(bucket, {"name": "Ann", "email": "ann@example.com"}).status == "processed"
