"""Retirement: which leads the sweep retires, what it records, that it runs once however often
and from however many workers it is started, and that one reassignment brings a lead back."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.accounts.models import Notification
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.crm.services import retirement
from leadflow.crm.services.retirement import retire_due, retire_lead
from leadflow.projects import services as project_services
from leadflow.projects.models import SystemSettings
from leadflow.routing.models import Offer, OfferStatus, OwnerLoad
from leadflow.routing.services.loads import recount
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    World,
    as_actor,
    auth,
    default_pool,
    event_count,
    events_of,
    lead_snapshot,
    make_lead,
    make_project,
    make_user,
    query_plan,
    stage_named,
)
from tests.test_concurrency import run_at_once

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
LATER = T0 + timedelta(days=31)  # past the default threshold of 30 days


def post(client, user, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json",
                       **auth(user))


def world() -> World:
    """World, made the day before LATER: its two owned leads are not due then."""
    with time_machine.travel(LATER - timedelta(days=1), tick=False):
        return World()


def owned_at(project, owner, when=T0, **fields):
    with time_machine.travel(when, tick=False):
        return make_lead(project, owner=owner, **fields)


def worked_at(lead, when) -> None:
    # Activities (which refresh last activity) have their own service; here only the stored
    # timestamp the retirement rule reads matters.
    Lead.objects.filter(pk=lead.pk).update(last_activity_at=when)


def load_of(project, user) -> int:
    row = OwnerLoad.objects.filter(project=project, user=user).first()
    return row.open_leads if row else 0


def retired_ids() -> set[int]:
    return set(Lead.objects.filter(retired_at__isnull=False).values_list("pk", flat=True))


# --- what is due ---------------------------------------------------------------------------


def test_only_owned_open_leads_neither_worked_nor_assigned_since_the_threshold_retire():
    w = world()
    due = owned_at(w.project, w.agent)
    worked_long_ago = owned_at(w.project, w.agent)
    worked_at(worked_long_ago, T0 + timedelta(hours=12))
    worked_recently = owned_at(w.project, w.agent)
    worked_at(worked_recently, LATER - timedelta(days=2))
    assigned_recently = owned_at(w.project, w.agent, when=LATER - timedelta(days=29))
    converted = owned_at(w.project, w.agent)
    lost = owned_at(w.project, w.agent)
    unowned = owned_at(w.project, None)
    merged = owned_at(w.project, w.agent)
    survivor = owned_at(w.project, w.agent, when=LATER - timedelta(days=1))
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        crm_services.set_stage(converted, stage_named(w.project, "Converted"), actor=SYSTEM)
        crm_services.set_stage(lost, stage_named(w.project, "Lost"), actor=SYSTEM,
                               lost_reason="No budget")
        crm_services.merge_leads(merged, survivor, actor=as_actor(w.manager))

    with time_machine.travel(LATER, tick=False):
        n = retire_due()
    assert n == 2
    assert retired_ids() == {due.pk, worked_long_ago.pk}
    assert Lead.objects.get(pk=worked_recently.pk).owner_id == w.agent.pk
    assert Lead.objects.get(pk=assigned_recently.pk).owner_id == w.agent.pk
    assert unowned.pk not in retired_ids()


def test_the_threshold_is_the_admins_setting():
    w = world()
    lead = owned_at(w.project, w.agent)
    project_services.update_settings(actor=as_actor(w.admin), retirement_days=60)

    with time_machine.travel(LATER, tick=False):
        assert retire_due() == 0
    with time_machine.travel(T0 + timedelta(days=61), tick=False):
        assert retire_due() == 1
    assert retired_ids() == {lead.pk}


def test_a_lead_on_a_live_offer_waits_for_the_offer():
    w = world()
    lead = owned_at(w.project, w.agent)
    with time_machine.travel(LATER - timedelta(minutes=5), tick=False):
        crm_services.make_offer(lead, actor=as_actor(w.manager), recipients=[w.other_agent.pk],
                                acceptance_minutes=60, keep_original_owner=True)

    with time_machine.travel(LATER, tick=False):
        assert retire_due() == 0
    with time_machine.travel(LATER + timedelta(hours=1), tick=False):
        assert retire_due() == 1


# --- what retiring does --------------------------------------------------------------------


def test_a_retired_lead_is_unowned_on_record_counted_and_its_owner_told():
    w = world()
    lead = owned_at(w.project, w.agent)
    loads_before = load_of(w.project, w.agent)

    with time_machine.travel(LATER, tick=False):
        retire_due()

    row = Lead.objects.get(pk=lead.pk)
    assert (row.owner_id, row.claimed_by_id, row.retired_at, row.original_owner_id,
            row.pool_id) == (None, None, LATER, w.agent.pk, default_pool(w.project).pk)
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_RETIRED)
    assert (event.actor_id, event.actor_label, event.channel, event.occurred_at) == (
        None, "system", "job", LATER)
    assert (event.before, event.after) == ({"owner": w.agent.email, "retired": False},
                                           {"owner": None, "retired": True})
    assert event.reason == "No activity and no new assignment for 30 days."
    assert load_of(w.project, w.agent) == loads_before - 1
    assert recount() == 0
    notice = Notification.objects.get(user=w.agent, kind="leads_retired")
    assert (notice.lead_id, notice.project_id) == (lead.pk, w.project.pk)


def test_one_notification_per_owner_for_many_retired_leads():
    w = world()
    mine = [owned_at(w.project, w.agent) for _ in range(3)]
    owned_at(w.project, w.other_agent)

    with time_machine.travel(LATER, tick=False):
        assert retire_due() == 4

    notices = Notification.objects.filter(kind="leads_retired")
    assert sorted(notices.values_list("user_id", flat=True)) == sorted(
        [w.agent.pk, w.other_agent.pk])
    mine_notice = notices.get(user=w.agent)
    assert mine_notice.lead_id is None
    assert mine_notice.message.startswith(f"{len(mine)} of your leads")
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED).values(
        "batch_id").distinct().count() == 1


def test_a_second_sweep_retires_nothing_and_records_nothing(monkeypatch):
    monkeypatch.setattr(retirement, "chunk_size", lambda: 3)
    w = world()
    leads = [owned_at(w.project, w.agent) for _ in range(7)]

    with time_machine.travel(LATER, tick=False):
        assert retire_due() == 7
        events = event_count()
        snapshots = [lead_snapshot(lead.pk) for lead in leads]
        assert retire_due() == 0

    assert event_count() == events
    assert [lead_snapshot(lead.pk) for lead in leads] == snapshots
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED).count() == 7


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_retire_each_lead_once(monkeypatch):
    monkeypatch.setattr(retirement, "chunk_size", lambda: 4)
    project = make_project()
    agents = [make_user(project, "agent") for _ in range(3)]
    leads = [owned_at(project, agents[i % 3]) for i in range(30)]

    def sweep(_index: int) -> int:
        with time_machine.travel(LATER, tick=False):
            return retire_due()

    results = run_at_once(sweep, 2)

    assert [r for r in results if not isinstance(r, int)] == []
    assert sum(results) == 30
    assert retired_ids() == {lead.pk for lead in leads}
    per_lead = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED).values_list(
        "lead_id", flat=True)
    assert sorted(per_lead) == sorted(lead.pk for lead in leads)
    assert [load_of(project, agent) for agent in agents] == [0, 0, 0]
    assert recount() == 0


def test_the_due_walk_uses_the_retirement_index():
    w = world()
    owned_at(w.project, w.agent)
    sql, params = retirement.due_sql(LATER - timedelta(days=30), LATER, (T0, 1))
    plan = query_plan(sql, params)
    assert "lead_retirement_quiet" in plan


# --- retire one lead -----------------------------------------------------------------------


def test_retire_lead_retires_once_with_the_reason_and_cancels_an_open_offer():
    w = World()
    lead = w.own_lead
    crm_services.make_offer(lead, actor=as_actor(w.manager), recipients=[w.other_agent.pk],
                            acceptance_minutes=60, keep_original_owner=True)
    lead.refresh_from_db()

    retired = retire_lead(lead, actor=as_actor(w.manager), reason="Tagged do-not-call")

    assert (retired.owner_id, retired.original_owner_id, retired.offer_until) == (
        None, w.agent.pk, None)
    assert retired.retired_at is not None
    assert Offer.objects.get(lead=lead).status == OfferStatus.CANCELLED
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_RETIRED)
    assert (event.actor_id, event.reason, event.before, event.after) == (
        w.manager.pk, "Tagged do-not-call", {"owner": w.agent.email, "retired": False},
        {"owner": None, "retired": True})
    assert Notification.objects.filter(user=w.agent, kind="lead_retired").count() == 1
    events = event_count()

    again = retire_lead(retired, actor=as_actor(w.manager))
    stale = retire_lead(lead, actor=as_actor(w.manager))  # read before it was retired

    assert again.retired_at == retired.retired_at == stale.retired_at
    assert event_count() == events


def test_retire_lead_leaves_a_closed_lead_alone():
    w = World()
    lead = crm_services.set_stage(w.own_lead, stage_named(w.project, "Converted"),
                                  actor=SYSTEM)
    before = lead_snapshot(lead.pk)
    events = event_count()

    retire_lead(lead, actor=SYSTEM)

    assert lead_snapshot(lead.pk) == before
    assert event_count() == events


# --- a second chance -----------------------------------------------------------------------


def retired_lead(w, owner=None):
    lead = owned_at(w.project, owner or w.agent)
    with time_machine.travel(LATER, tick=False):
        retire_due()
    return Lead.objects.get(pk=lead.pk)


def test_reassigning_a_retired_lead_gives_it_a_second_chance(client):
    w = world()
    lead = retired_lead(w)

    response = post(client, w.manager, f"/api/v1/leads/{lead.pk}/assign",
                    {"owner": w.other_agent.pk, "note": "Fresh eyes"})

    assert response.status_code == 200
    assert (response.json()["retired"], response.json()["owner"]) == (False, w.other_agent.pk)
    event = TimelineEvent.objects.filter(lead_id=lead.pk).latest("id")
    assert (event.kind, event.before, event.after, event.reason) == (
        TimelineKind.LEAD_ASSIGNED, {"owner": None, "retired": True},
        {"owner": w.other_agent.email, "retired": False}, "Fresh eyes")
    assert Lead.objects.get(pk=lead.pk).original_owner_id == w.agent.pk
    assert retire_due() == 0  # just assigned: not due again for another 30 days


def test_an_agent_cannot_reassign_a_retired_lead(client):
    w = world()
    lead = retired_lead(w)
    before, events = lead_snapshot(lead.pk), event_count()

    response = post(client, w.agent, f"/api/v1/leads/{lead.pk}/assign", {"owner": w.agent.pk})

    assert response.status_code == 403
    assert (lead_snapshot(lead.pk), event_count()) == (before, events)


def test_bulk_assign_brings_retired_leads_back(client):
    w = world()
    leads = [retired_lead(w) for _ in range(2)]

    response = post(client, w.manager, "/api/v1/leads/bulk", {
        "action": "assign", "ids": [lead.pk for lead in leads],
        "params": {"owner": w.agent.pk}})

    assert response.json() == {"done": 2, "skipped": 0, "errors": []}
    assert retired_ids() == set()
    assert [events_of(lead.pk)[-1][3] for lead in leads] == [
        {"owner": None, "retired": True}] * 2
    assert load_of(w.project, w.agent) == 1 + 2  # w.own_lead and these two
    assert recount() == 0


def test_a_retired_lead_waits_unassigned_in_its_pool_and_an_agent_can_take_it(client):
    w = world()
    lead = retired_lead(w)

    listed = client.get("/api/v1/leads?unassigned=true&retired=true", **auth(w.manager))
    assert [item["id"] for item in listed.json()["items"]] == [lead.pk]
    taken = post(client, w.other_agent, f"/api/v1/pools/{default_pool(w.project).pk}/next")
    assert taken.json()["id"] == lead.pk
    owned = post(client, w.other_agent, f"/api/v1/leads/{lead.pk}/take-ownership")

    assert (owned.status_code, owned.json()["owner"], owned.json()["retired"]) == (
        200, w.other_agent.pk, False)
    event = TimelineEvent.objects.filter(lead_id=lead.pk).latest("id")
    assert (event.kind, event.before, event.after) == (
        TimelineKind.OWNERSHIP_TAKEN, {"owner": None, "retired": True},
        {"owner": w.other_agent.email, "retired": False})


# --- the threshold ---------------------------------------------------------------------------


@pytest.mark.parametrize("who, status", [("admin", 200), ("manager", 403), ("agent", 403)])
def test_only_an_admin_sets_the_retirement_threshold(client, who, status):
    w = World()

    response = client.patch("/api/v1/settings", data=json.dumps({"retirement_days": 45}),
                            content_type="application/json", **auth(getattr(w, who)))

    assert response.status_code == status
    assert SystemSettings.load().retirement_days == (45 if status == 200 else 30)


@pytest.mark.django_db(transaction=True)
def test_one_sweep_on_several_connections_retires_each_lead_once(monkeypatch):
    # PostgreSQL retires on two connections at once, from both ends (SQLite on its one writer).
    monkeypatch.setattr(retirement, "chunk_size", lambda: 2)
    project = make_project()
    agents = [make_user(project, "agent") for _ in range(2)]
    leads = [owned_at(project, agents[i % 2]) for i in range(25)]
    kept = owned_at(project, agents[0], when=LATER - timedelta(days=1))

    with time_machine.travel(LATER, tick=False):
        assert retire_due() == 25

    assert retired_ids() == {lead.pk for lead in leads}
    per_lead = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED).values_list(
        "lead_id", flat=True)
    assert sorted(per_lead) == sorted(lead.pk for lead in leads)
    assert Lead.objects.get(pk=kept.pk).owner_id == agents[0].pk
    assert [load_of(project, agent) for agent in agents] == [1, 0]
    assert recount() == 0
