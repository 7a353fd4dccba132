"""Assign, unassign, release, claim, take ownership and next-from-pool through the API: who may
do each, what changes, what the timeline and the counters say, and that claims lapse by time."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.accounts.models import Notification
from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.routing.models import OwnerLoad
from leadflow.routing.services.loads import recount
from leadflow.sweeps import run_sweeps
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    World,
    auth,
    default_pool,
    event_count,
    lead_snapshot,
    make_lead,
    make_user,
)

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")


def post(client, user, path, body=None):
    headers = auth(user) if user is not None else {}
    return client.post(path, data=json.dumps(body or {}), content_type="application/json",
                       **headers)


def load_of(project, user) -> int:
    row = OwnerLoad.objects.filter(project=project, user=user).first()
    return row.open_leads if row else 0


def kinds(lead) -> list[str]:
    return list(TimelineEvent.objects.filter(lead_id=lead.pk).order_by("id")
                .values_list("kind", flat=True))


# --- assign ------------------------------------------------------------------------------------


def test_a_manager_assigns_an_unowned_lead_and_the_agent_is_told(client):
    w = World()
    lead = make_lead(w.project)  # created by the system: unowned in the default pool

    response = post(client, w.manager, f"/api/v1/leads/{lead.pk}/assign",
                    {"owner": w.agent.pk, "note": "Speaks German"})

    assert response.status_code == 200
    body = response.json()
    assert (body["owner"], body["original_owner"], body["pool"]) == (
        w.agent.pk, w.agent.pk, default_pool(w.project).pk)
    assert body["assigned_at"] is not None
    event = TimelineEvent.objects.filter(lead_id=lead.pk).latest("id")
    assert (event.kind, event.before, event.after, event.reason, event.actor_id) == (
        TimelineKind.LEAD_ASSIGNED, {"owner": None}, {"owner": w.agent.email}, "Speaks German",
        w.manager.pk)
    note = Notification.objects.get(user=w.agent)
    assert (note.kind, note.lead_id) == ("lead_assigned", lead.pk)
    assert "Speaks German" in note.message
    assert load_of(w.project, w.agent) == 2  # their own lead and this one


def test_reassigning_keeps_the_original_owner_and_moves_the_counters(client):
    w = World()
    lead = w.own_lead

    response = post(client, w.manager, f"/api/v1/leads/{lead.pk}/assign",
                    {"owner": w.other_agent.pk})

    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["original_owner"]) == (
        w.other_agent.pk, w.agent.pk)
    assert (load_of(w.project, w.agent), load_of(w.project, w.other_agent)) == (0, 2)
    assert recount() == 0


def test_an_owner_outside_the_pool_is_refused_and_nothing_changes(client):
    w = World()
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])
    lead = w.own_lead
    before, events = lead_snapshot(lead.pk), event_count()

    response = post(client, w.manager, f"/api/v1/leads/{lead.pk}/assign",
                    {"pool": vip.pk, "owner": w.agent.pk})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "not_in_pool"
    assert (lead_snapshot(lead.pk), event_count()) == (before, events)


def test_a_pool_alone_moves_the_lead_there_unowned(client):
    w = World()
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])

    response = post(client, w.manager, f"/api/v1/leads/{w.own_lead.pk}/assign",
                    {"pool": vip.pk})

    assert response.status_code == 200
    assert (response.json()["pool"], response.json()["owner"]) == (vip.pk, None)
    event = TimelineEvent.objects.filter(lead_id=w.own_lead.pk).latest("id")
    assert event.after == {"owner": None, "pool": "VIP"}
    assert load_of(w.project, w.agent) == 0


@pytest.mark.parametrize("who, status", [
    ("agent", 403), ("viewer", 403), ("manager", 200), ("admin", 200),
    ("foreign_manager", 404), ("anonymous", 401),
])
def test_assign_permissions(client, who, status):
    w = World()
    lead = w.own_lead
    before, events = lead_snapshot(lead.pk), event_count()

    response = post(client, w.user(who), f"/api/v1/leads/{lead.pk}/assign",
                    {"owner": w.other_agent.pk})

    assert response.status_code == status
    if status == 200:
        assert Lead.objects.get(pk=lead.pk).owner_id == w.other_agent.pk
    else:
        assert (lead_snapshot(lead.pk), event_count()) == (before, events)


def test_an_empty_assign_body_is_refused(client):
    w = World()

    response = post(client, w.manager, f"/api/v1/leads/{w.own_lead.pk}/assign", {})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "owner"


# --- unassign and release -----------------------------------------------------------------------


def test_a_manager_unassigns_and_the_lead_stays_in_its_pool(client):
    w = World()

    response = post(client, w.manager, f"/api/v1/leads/{w.own_lead.pk}/unassign")

    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["pool"]) == (
        None, default_pool(w.project).pk)
    assert kinds(w.own_lead)[-1] == TimelineKind.LEAD_UNASSIGNED
    assert load_of(w.project, w.agent) == 0


def test_an_agent_may_not_unassign(client):
    w = World()
    before, events = lead_snapshot(w.own_lead.pk), event_count()

    response = post(client, w.agent, f"/api/v1/leads/{w.own_lead.pk}/unassign")

    assert response.status_code == 403
    assert (lead_snapshot(w.own_lead.pk), event_count()) == (before, events)


def test_an_owner_releases_their_lead_to_the_pool(client):
    w = World()

    response = post(client, w.agent, f"/api/v1/leads/{w.own_lead.pk}/release")

    assert response.status_code == 200
    assert response.json()["owner"] is None
    event = TimelineEvent.objects.filter(lead_id=w.own_lead.pk).latest("id")
    assert (event.kind, event.before, event.after) == (
        TimelineKind.LEAD_RELEASED, {"owner": w.agent.email}, {"owner": None})
    # now unassigned in the pool: the other agent sees it
    assert post(client, w.other_agent, f"/api/v1/leads/{w.own_lead.pk}/claim").status_code == 200


def test_someone_who_neither_owns_nor_claims_may_not_release(client):
    w = World()
    lead = make_lead(w.project)  # unowned: visible to pool members
    before, events = lead_snapshot(lead.pk), event_count()

    response = post(client, w.agent, f"/api/v1/leads/{lead.pk}/release")

    assert response.status_code == 403
    assert (lead_snapshot(lead.pk), event_count()) == (before, events)


# --- claims ------------------------------------------------------------------------------------


def test_a_claim_holds_the_lead_for_the_window_then_it_lapses_by_itself(client):
    w = World()
    lead = make_lead(w.project)

    with time_machine.travel(T0, tick=False):
        response = post(client, w.agent, f"/api/v1/leads/{lead.pk}/claim")
        again = post(client, w.agent, f"/api/v1/leads/{lead.pk}/claim")
        other = post(client, w.other_agent, f"/api/v1/leads/{lead.pk}/claim")

    assert response.status_code == 200
    assert response.json()["claimed_by"] == w.agent.pk
    assert response.json()["claimed_until"].startswith("2030-05-02T08:00:00")
    assert response.json()["owner"] is None
    assert again.status_code == 409
    assert other.status_code == 409  # a pool member who lost the race hears why

    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        assert Lead.objects.unassigned().filter(pk=lead.pk).exists()
        retry = post(client, w.other_agent, f"/api/v1/leads/{lead.pk}/claim")
    assert retry.status_code == 200
    assert retry.json()["claimed_by"] == w.other_agent.pk


def test_the_sweep_records_a_lapsed_claim_once():
    w = World()
    lead = make_lead(w.project)
    from leadflow.crm import services
    from tests.factories import as_actor

    with time_machine.travel(T0, tick=False):
        services.claim(lead, actor=as_actor(w.agent))
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        first, second = run_sweeps()["claims_lapsed"], run_sweeps()["claims_lapsed"]

    assert (first, second) == (1, 0)
    lead.refresh_from_db()
    assert (lead.claimed_by_id, lead.claimed_until) == (None, None)
    event = TimelineEvent.objects.filter(lead_id=lead.pk).latest("id")
    assert (event.kind, event.before["claimed_by"], event.actor_id, event.channel) == (
        TimelineKind.CLAIM_LAPSED, w.agent.pk, None, "job")


def test_the_claimant_takes_ownership_within_the_window(client):
    w = World()
    lead = make_lead(w.project)
    post(client, w.agent, f"/api/v1/leads/{lead.pk}/claim")

    other = post(client, w.other_agent, f"/api/v1/leads/{lead.pk}/take-ownership")
    response = post(client, w.agent, f"/api/v1/leads/{lead.pk}/take-ownership")

    assert other.status_code == 409
    assert response.status_code == 200
    body = response.json()
    assert (body["owner"], body["claimed_by"], body["original_owner"]) == (
        w.agent.pk, None, w.agent.pk)
    assert kinds(lead)[-2:] == [TimelineKind.LEAD_CLAIMED, TimelineKind.OWNERSHIP_TAKEN]
    assert load_of(w.project, w.agent) == 2


def test_take_ownership_after_the_window_is_refused(client):
    w = World()
    lead = make_lead(w.project)
    with time_machine.travel(T0, tick=False):
        post(client, w.agent, f"/api/v1/leads/{lead.pk}/claim")
    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        response = post(client, w.agent, f"/api/v1/leads/{lead.pk}/take-ownership")

    assert response.status_code == 409
    assert Lead.objects.get(pk=lead.pk).owner_id is None


def test_a_claimed_lead_stays_hidden_from_other_agents_outside_claiming(client):
    w = World()
    lead = make_lead(w.project)
    post(client, w.agent, f"/api/v1/leads/{lead.pk}/claim")

    assert client.get(f"/api/v1/leads/{lead.pk}", **auth(w.other_agent)).status_code == 404
    assert post(client, w.outsider, f"/api/v1/leads/{lead.pk}/claim").status_code == 404


def test_only_members_of_the_leads_pool_may_claim(client):
    w = World()
    lead = make_lead(w.project)

    manager = post(client, w.manager, f"/api/v1/leads/{lead.pk}/claim")

    assert manager.status_code == 403  # managers are not in the agents' pool
    assert manager.json()["detail"] == "You are not a member of this pool."
    assert Lead.objects.get(pk=lead.pk).claimed_by_id is None


# --- next from pool ----------------------------------------------------------------------------


def test_next_hands_out_the_oldest_unassigned_leads_then_404(client):
    w = World()
    pool = default_pool(w.project)
    with time_machine.travel(T0, tick=False):
        older = make_lead(w.project)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        newer = make_lead(w.project)

    first = post(client, w.agent, f"/api/v1/pools/{pool.pk}/next")
    second = post(client, w.other_agent, f"/api/v1/pools/{pool.pk}/next")
    third = post(client, w.agent, f"/api/v1/pools/{pool.pk}/next")

    assert (first.status_code, first.json()["id"], first.json()["claimed_by"]) == (
        200, older.pk, w.agent.pk)
    assert (second.status_code, second.json()["id"]) == (200, newer.pk)
    assert third.status_code == 404


def test_next_is_refused_outside_ones_pools(client):
    w = World()
    make_lead(w.project)
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])
    stranger = make_user()

    assert post(client, w.agent, f"/api/v1/pools/{vip.pk}/next").status_code == 403
    assert post(client, w.outsider, f"/api/v1/pools/{vip.pk}/next").status_code == 404
    assert post(client, stranger, f"/api/v1/pools/{vip.pk}/next").status_code == 404
