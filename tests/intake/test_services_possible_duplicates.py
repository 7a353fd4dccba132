"""Possible duplicates: leads alike in name (and company) whose keys differ, flagged after
creation for a manager to merge or dismiss."""

import json

import pytest
import time_machine

from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm_services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.intake import tasks
from leadflow.intake.models import PairState, PossibleDuplicate
from leadflow.intake.services import duplicates
from leadflow.timeline.models import TimelineKind
from tests.factories import (
    SYSTEM,
    World,
    as_actor,
    auth,
    event_count,
    events_of,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    submit,
)


def pairs() -> list[tuple]:
    return sorted(PossibleDuplicate.objects.values_list("lead_a_id", "lead_b_id", "state"))


def checked_lead(project, **fields):
    """A lead whose post-creation check ran, as it does after every creation."""
    lead = make_lead(project, **fields)
    duplicates.check_leads([lead.pk])
    return lead


def flagged_pair(project, first="Jon Smith", second="John Smith", company="Acme"):
    a = checked_lead(project, name=first, company=company)
    b = make_lead(project, name=second, company=company)
    duplicates.find_possible_duplicates(b)
    return PossibleDuplicate.objects.get(), a, b


# --- finding -----------------------------------------------------------------------------------


def test_similar_names_at_the_same_company_are_flagged():
    project = make_project()
    jon = checked_lead(project, name="Jon Smith", company="Acme Ltd")
    john = make_lead(project, name="John Smith", company="ACME Ltd.")

    added = duplicates.find_possible_duplicates(john)

    pair = PossibleDuplicate.objects.get()
    assert added == 1
    assert (pair.project_id, pair.lead_a_id, pair.lead_b_id, pair.state) == (
        project.pk, jon.pk, john.pk, PairState.OPEN)
    assert 85 <= pair.score <= 100
    assert pair.reason.startswith("name ") and ", company " in pair.reason
    assert Lead.objects.get(pk=john.pk).duplicates_checked_at is not None


def test_similar_names_without_companies_are_flagged():
    project = make_project()
    anne = checked_lead(project, name="Anne Smith")
    ann = make_lead(project, name="Ann Smith")

    duplicates.find_possible_duplicates(ann)

    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]
    assert PossibleDuplicate.objects.get().reason.startswith("name ")


@pytest.mark.parametrize("_case, first, second", [
    ("different_people_at_different_companies",
     ("John Smith", "Acme"), ("Joan Smythe-Baker", "Globex")),
    ("same_name_at_different_companies", ("John Smith", "Acme"), ("John Smith", "Globex")),
    ("different_first_names", ("John Smith", ""), ("Mary Smith", "")),
])
def test_different_people_are_not_flagged(_case, first, second):
    project = make_project()
    checked_lead(project, name=first[0], company=first[1])
    lead = make_lead(project, name=second[0], company=second[1])

    assert duplicates.find_possible_duplicates(lead) == 0
    assert pairs() == []


def test_leads_of_another_project_are_not_flagged():
    checked_lead(make_project(), name="Anne Smith")
    lead = make_lead(make_project(), name="Ann Smith")

    assert duplicates.find_possible_duplicates(lead) == 0


def test_leads_kept_both_on_a_shared_key_are_not_flagged():
    project = make_project()
    checked_lead(project, name="Ann Smith", email="ann@example.com")
    kept = crm_services.create_lead(
        project, LeadInput(name="Anne Smith", email="ann@example.com"), actor=SYSTEM,
        on_duplicate="keep_both").lead

    assert duplicates.find_possible_duplicates(kept) == 0
    assert pairs() == []


def test_finding_is_idempotent():
    project = make_project()
    anne = checked_lead(project, name="Anne Smith")
    ann = make_lead(project, name="Ann Smith")

    first = duplicates.find_possible_duplicates(ann)
    again = duplicates.find_possible_duplicates(ann)
    from_the_other_side = duplicates.find_possible_duplicates(anne)

    assert (first, again, from_the_other_side) == (1, 0, 0)
    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]


def test_leads_created_through_services_are_checked_on_commit(
        django_capture_on_commit_callbacks):
    project = make_project()
    bucket, _key = make_bucket(project)

    with django_capture_on_commit_callbacks(execute=True):
        anne = make_lead(project, name="Anne Smith", email="anne@example.com")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ann = Lead.objects.get(pk=submit(bucket, {"name": "Ann Smith",
                                                  "email": "ann.s@example.com"}).lead_id)

    assert len(callbacks) == 1
    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]
    assert Lead.objects.filter(duplicates_checked_at__isnull=True).count() == 0


def test_the_sweep_checks_leads_whose_check_never_ran():
    project = make_project()
    # Outside an on-commit capture the check is never run: as if its job were lost.
    anne = make_lead(project, name="Anne Smith")
    ann = make_lead(project, name="Ann Smith")
    bo = make_lead(project, name="Bo Chen")
    assert Lead.objects.filter(duplicates_checked_at__isnull=True).count() == 3

    checked = duplicates.sweep_unchecked_leads()

    assert checked == 3
    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]
    assert not Lead.objects.filter(pk__in=[anne.pk, ann.pk, bo.pk],
                                   duplicates_checked_at__isnull=True).exists()
    assert duplicates.sweep_unchecked_leads() == 0


# --- deciding ----------------------------------------------------------------------------------


def test_dismissing_records_the_decision_on_both_leads():
    project = make_project()
    manager = make_user(project, "manager")
    pair, a, b = flagged_pair(project)

    result = duplicates.dismiss_pair(pair, actor=as_actor(manager))

    assert (result.state, result.decided_by_id) == (PairState.DISMISSED, manager.pk)
    assert result.decided_at is not None
    assert events_of(a.pk)[-1] == (TimelineKind.POSSIBLE_DUPLICATE_DISMISSED, manager.pk, "api",
                                   None, {"other_lead": b.pk, "score": pair.score})
    assert events_of(b.pk)[-1] == (TimelineKind.POSSIBLE_DUPLICATE_DISMISSED, manager.pk, "api",
                                   None, {"other_lead": a.pk, "score": pair.score})
    assert Lead.objects.filter(merged_into__isnull=False).count() == 0


def test_a_decided_pair_cannot_be_decided_again():
    project = make_project()
    manager = make_user(project, "manager")
    pair, a, b = flagged_pair(project)
    duplicates.dismiss_pair(pair, actor=as_actor(manager))
    events_before = event_count()

    with pytest.raises(Conflict) as dismissed_again:
        duplicates.dismiss_pair(PossibleDuplicate.objects.get(), actor=as_actor(manager))
    with pytest.raises(Conflict) as merged_after:
        duplicates.merge_pair(PossibleDuplicate.objects.get(), actor=as_actor(manager))

    assert (dismissed_again.value.code, merged_after.value.code) == ("decided", "decided")
    assert event_count() == events_before
    assert not Lead.objects.filter(merged_into__isnull=False).exists()


def test_a_dismissed_pair_is_not_flagged_again():
    project = make_project()
    manager = make_user(project, "manager")
    pair, a, b = flagged_pair(project)
    duplicates.dismiss_pair(pair, actor=as_actor(manager))

    assert duplicates.find_possible_duplicates(Lead.objects.get(pk=b.pk)) == 0
    assert pairs() == [(a.pk, b.pk, PairState.DISMISSED)]


def test_merging_a_pair_keeps_the_older_lead_by_default():
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = flagged_pair(project)

    survivor = duplicates.merge_pair(pair, actor=as_actor(manager))

    assert survivor.pk == older.pk
    assert Lead.objects.get(pk=newer.pk).merged_into_id == older.pk
    assert pairs() == [(older.pk, newer.pk, PairState.MERGED)]
    merged = events_of(older.pk)[-1]
    assert (merged[0], merged[1], merged[4]["merged_lead"]) == (
        TimelineKind.LEADS_MERGED, manager.pk, newer.pk)


def test_merging_a_pair_into_the_newer_lead_when_asked():
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = flagged_pair(project)

    survivor = duplicates.merge_pair(pair, actor=as_actor(manager), into=newer.pk)

    assert survivor.pk == newer.pk
    assert Lead.objects.get(pk=older.pk).merged_into_id == newer.pk


def test_merging_a_pair_into_a_third_lead_is_invalid():
    project = make_project()
    manager = make_user(project, "manager")
    pair, _older, _newer = flagged_pair(project)
    third = make_lead(project, name="Bo Chen")

    with pytest.raises(ValidationFailed) as exc:
        duplicates.merge_pair(pair, actor=as_actor(manager), into=third.pk)

    assert [(e.field, e.code) for e in exc.value.errors] == [("into", "invalid")]
    assert pairs()[0][2] == PairState.OPEN


@pytest.mark.parametrize("_case, role, error", [
    ("agent", "agent", PermissionDenied),
    ("manager_of_another_project", "foreign", NotFound),
])
def test_only_managers_of_the_project_decide(_case, role, error):
    project = make_project()
    user = make_user(make_project(), "manager") if role == "foreign" else make_user(project,
                                                                                   role)
    pair, _a, _b = flagged_pair(project)
    events_before = event_count()

    with pytest.raises(error):
        duplicates.dismiss_pair(pair, actor=as_actor(user))
    with pytest.raises(error):
        duplicates.merge_pair(pair, actor=as_actor(user))

    assert pairs()[0][2] == PairState.OPEN
    assert event_count() == events_before
    assert not Lead.objects.filter(merged_into__isnull=False).exists()


# --- API ---------------------------------------------------------------------------------------


def post(client, path, user=None, body=None):
    headers = auth(user) if user is not None else {}
    return client.post(path, data=json.dumps(body or {}), content_type="application/json",
                       **headers)


LIST_CASES = [
    ("anonymous", "anonymous", 401, None),
    ("agent", "agent", 200, 0),
    ("agent_with_view_all", "viewer", 200, 0),
    ("manager_of_another_project", "foreign_manager", 200, 0),
    ("manager", "manager", 200, 1),
    ("admin", "admin", 200, 1),
]


@pytest.mark.parametrize("_case, who, status, count", LIST_CASES)
def test_list_possible_duplicates_matrix(client, _case, who, status, count):
    w = World()
    pair, a, b = flagged_pair(w.project)
    headers = auth(w.user(who)) if who != "anonymous" else {}

    response = client.get("/api/v1/possible-duplicates", **headers)

    assert response.status_code == status
    if status == 200:
        assert len(response.json()["items"]) == count
    if count:
        item = response.json()["items"][0]
        assert {k: item[k] for k in ("id", "project", "lead_a", "lead_b", "names", "state",
                                     "decided_by")} == {
            "id": pair.pk, "project": w.project.pk, "lead_a": a.pk, "lead_b": b.pk,
            "names": ["Jon Smith", "John Smith"], "state": "open", "decided_by": None}


DECIDE_CASES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent_with_view_all", "viewer", 403),
    ("agent_of_another_project", "outsider", 403),
    ("manager_of_another_project", "foreign_manager", 404),
    ("manager", "manager", 200),
    ("admin", "admin", 200),
]


@pytest.mark.parametrize("_case, who, status", DECIDE_CASES)
def test_dismiss_possible_duplicate_matrix(client, _case, who, status):
    w = World()
    pair, a, b = flagged_pair(w.project)
    events_before = event_count()

    response = post(client, f"/api/v1/possible-duplicates/{pair.pk}/dismiss", w.user(who))

    assert response.status_code == status
    pair.refresh_from_db()
    if status == 200:
        assert response.json()["state"] == pair.state == "dismissed"
        assert event_count() == events_before + 2
    else:
        assert pair.state == "open"
        assert event_count() == events_before


@pytest.mark.parametrize("_case, who, status", DECIDE_CASES)
def test_merge_possible_duplicate_matrix(client, _case, who, status):
    w = World()
    pair, older, newer = flagged_pair(w.project)
    events_before = event_count()

    response = post(client, f"/api/v1/possible-duplicates/{pair.pk}/merge", w.user(who))

    assert response.status_code == status
    pair.refresh_from_db()
    if status == 200:
        assert response.json()["id"] == older.pk
        assert pair.state == "merged"
        assert Lead.objects.get(pk=newer.pk).merged_into_id == older.pk
    else:
        assert pair.state == "open"
        assert not Lead.objects.filter(merged_into__isnull=False).exists()
        assert event_count() == events_before


def test_deciding_a_decided_pair_through_the_api_is_409(client):
    w = World()
    pair, _a, _b = flagged_pair(w.project)
    post(client, f"/api/v1/possible-duplicates/{pair.pk}/dismiss", w.manager)

    again = post(client, f"/api/v1/possible-duplicates/{pair.pk}/dismiss", w.manager)
    merge = post(client, f"/api/v1/possible-duplicates/{pair.pk}/merge", w.manager,
                 {"into": pair.lead_b_id})

    assert (again.status_code, merge.status_code) == (409, 409)


def test_the_list_shows_open_pairs_unless_asked_for_all(client):
    w = World()
    first, _a, _b = flagged_pair(w.project, "Jon Smith", "John Smith")
    anne = checked_lead(w.project, name="Anne Miller")
    ann = make_lead(w.project, name="Ann Miller")
    duplicates.find_possible_duplicates(ann)
    second = PossibleDuplicate.objects.get(lead_a=anne)
    duplicates.dismiss_pair(first, actor=as_actor(w.manager))

    def listed(query=""):
        body = client.get(f"/api/v1/possible-duplicates{query}", **auth(w.manager)).json()
        return [p["id"] for p in body["items"]]

    assert listed() == [second.pk]
    assert listed("?state=dismissed") == [first.pk]
    assert sorted(listed("?state=all")) == sorted([first.pk, second.pk])


def a_second_later(monkeypatch):
    """This process asked for a check more than CHECK_DELAY ago (or never)."""
    monkeypatch.setattr(tasks, "_last_attempt", float("-inf"))


@pytest.fixture
def queued_huey(monkeypatch):
    """The project's queue taking tasks instead of running them at once."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    HUEY.flush()
    a_second_later(monkeypatch)
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def run_due(huey):
    """Take the queue's next task (the check) and run it, as a consumer does once its time
    has come (in this test's transaction: a consumer's run would close the connection)."""
    task = huey.dequeue()
    assert task.name.endswith("check_unchecked_leads")
    tasks.check_unchecked_leads.call_local()


def test_many_commits_queue_one_duplicate_check(queued_huey):
    for lead_id in range(1, 101):
        tasks.queue_duplicate_checks([lead_id])

    [queued] = queued_huey.pending()
    assert queued.name.endswith("check_unchecked_leads")
    assert queued.eta is not None  # it waits a moment, gathering the leads committed meanwhile


def test_a_check_that_ran_lets_the_next_commit_queue_another(queued_huey, monkeypatch):
    project = make_project()
    anne = make_lead(project, name="Anne Smith")
    ann = make_lead(project, name="Ann Smith")
    tasks.queue_duplicate_checks([anne.pk, ann.pk])

    run_due(queued_huey)
    a_second_later(monkeypatch)
    tasks.queue_duplicate_checks([ann.pk])

    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]
    assert queued_huey.pending_count() == 1


def test_a_check_waits_while_another_runs(queued_huey, monkeypatch):
    project = make_project()
    make_lead(project, name="Anne Smith")
    tasks.queue_duplicate_checks([])
    assert tasks.take_flag(tasks.RUNNING, stale_after=60)  # another consumer's slice

    run_due(queued_huey)

    assert Lead.objects.filter(duplicates_checked_at__isnull=True).count() == 1
    assert queued_huey.pending_count() == 1  # it waits its turn, still the one pending
    a_second_later(monkeypatch)
    tasks.queue_duplicate_checks([])
    assert queued_huey.pending_count() == 1


def test_a_process_asks_the_queue_for_a_check_at_most_once_a_second(queued_huey, monkeypatch):
    clock, asked = [100.0], []
    monkeypatch.setattr(tasks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(tasks, "take_flag", lambda key, stale_after: asked.append(clock[0]))

    for now in (100.0, 100.3, 100.9, 101.2, 101.5, 103.0):
        clock[0] = now
        tasks.queue_duplicate_checks([1])

    assert asked == [100.0, 101.2, 103.0]


def test_a_flag_left_by_a_killed_process_is_taken_over(queued_huey):
    with time_machine.travel("2026-01-01 10:00:00", tick=False):
        assert tasks.take_flag(tasks.RUNNING, stale_after=60)
    with time_machine.travel("2026-01-01 10:00:30", tick=False):
        assert not tasks.take_flag(tasks.RUNNING, stale_after=60)
    with time_machine.travel("2026-01-01 10:01:01", tick=False):
        assert tasks.take_flag(tasks.RUNNING, stale_after=60)


def test_the_sweep_leaves_leads_to_a_running_check():
    project = make_project()
    make_lead(project, name="Anne Smith")
    assert tasks.take_flag(tasks.RUNNING, stale_after=60)
    try:
        assert tasks.check_now(budget=1.0) == 0
    finally:
        tasks.drop_flag(tasks.RUNNING)
    assert tasks.check_now(budget=1.0) == 1


def test_a_renamed_lead_is_checked_again_under_its_new_name():
    project = make_project()
    anne = checked_lead(project, name="Anne Smith")
    bo = checked_lead(project, name="Bo Chen")
    assert pairs() == []

    crm_services.update_lead(bo, {"name": "Ann Smith"}, actor=SYSTEM)
    assert Lead.objects.get(pk=bo.pk).duplicates_checked_at is None
    duplicates.sweep_unchecked_leads()

    assert pairs() == [(anne.pk, bo.pk, PairState.OPEN)]


def test_a_common_name_is_compared_with_a_bounded_number_of_leads(monkeypatch):
    monkeypatch.setattr(duplicates, "BLOCK_LIMIT", 3)
    monkeypatch.setattr(duplicates, "PAIRS_PER_LEAD", 2)
    project = make_project()
    older = [checked_lead(project, name="John Smith") for _ in range(5)]
    newest = make_lead(project, name="John Smith")

    duplicates.check_leads([newest.pk])

    # Only the most recent leads of its blocks, and only its best pairs, are kept.
    assert PossibleDuplicate.objects.filter(lead_b=newest).count() == 2
    assert set(PossibleDuplicate.objects.filter(lead_b=newest).values_list(
        "lead_a_id", flat=True)) <= {lead.pk for lead in older[2:]}


def test_leads_checked_together_are_compared_with_each_other():
    project = make_project()
    anne = make_lead(project, name="Anne Smith")
    ann = make_lead(project, name="Ann Smith")
    bo = make_lead(project, name="Bo Chen")

    assert duplicates.check_leads([anne.pk, ann.pk, bo.pk]) == 1
    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]


def test_the_duplicate_check_job_checks_every_unchecked_lead():
    project = make_project()
    anne = make_lead(project, name="Anne Smith")
    ann = make_lead(project, name="Ann Smith")

    tasks.check_unchecked_leads.call_local()

    assert pairs() == [(anne.pk, ann.pk, PairState.OPEN)]
    assert Lead.objects.filter(duplicates_checked_at__isnull=True).count() == 0


def test_on_sqlite_the_checks_write_in_short_slices(monkeypatch):
    from django.db import connection

    monkeypatch.setattr(duplicates, "CHECK_BATCH", 40)
    monkeypatch.setattr(duplicates, "WRITE_SLICE", 1e-6)  # every write takes "too long"
    sizes, real_store = [], duplicates._store_check

    def storing(rows, blocks_of, found):
        sizes.append(len(rows))
        return real_store(rows, blocks_of, found)

    monkeypatch.setattr(duplicates, "_store_check", storing)
    project = make_project()
    for n in range(30):
        make_lead(project, name=f"Person {n} Example")

    assert duplicates.sweep_unchecked_leads() == 30

    assert not Lead.objects.filter(duplicates_checked_at__isnull=True).exists()
    if connection.vendor == "sqlite":
        assert sizes == [10, 10, 10]  # the least a slice takes, every time
    else:  # other writers wait only for the rows they share
        assert sizes == [30]
