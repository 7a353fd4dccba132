"""Permission matrix of the lead routes and services (DESIGN §2), and lead visibility.

Every denied case checks the status, that the lead did not change and that no timeline event
was written."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.core.errors import NotFound, PermissionDenied
from leadflow.crm import access, services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from tests.factories import (
    World,
    as_actor,
    auth,
    event_count,
    lead_snapshot,
    make_lead,
    make_project,
    make_user,
    set_claim,
    stage_named,
)

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")


def call(client, w, who, method, path, body=None):
    headers = auth(w.user(who)) if who != "anonymous" else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body),
                                   content_type="application/json", **headers)


def assert_untouched(lead, snapshot, events_before):
    assert lead_snapshot(lead.pk) == snapshot
    assert event_count() == events_before


# (case, caller, lead: "own" = the agent's, "other" = another agent's, expected status)
VIEW_CASES = [
    ("anonymous", "anonymous", "own", 401),
    ("agent_own_lead", "agent", "own", 200),
    ("agent_other_agents_lead", "agent", "other", 404),
    ("agent_view_all_other_agents_lead", "viewer", "other", 200),
    ("manager", "manager", "other", 200),
    ("admin", "admin", "other", 200),
    ("non_member", "outsider", "own", 404),
]


@pytest.mark.parametrize("_case, who, which, status", VIEW_CASES)
def test_get_lead_matrix(client, _case, who, which, status):
    w = World()
    lead = w.lead(which)

    response = call(client, w, who, "get", f"/api/v1/leads/{lead.pk}")

    assert response.status_code == status
    if status == 200:
        assert response.json()["id"] == lead.pk


@pytest.mark.parametrize("_case, who, which, status", VIEW_CASES)
def test_timeline_matrix(client, _case, who, which, status):
    w = World()
    lead = w.lead(which)

    response = call(client, w, who, "get", f"/api/v1/leads/{lead.pk}/timeline")

    assert response.status_code == status
    if status == 200:
        assert [e["kind"] for e in response.json()["items"]] == ["LEAD_CREATED"]


@pytest.mark.parametrize("_case, who, which, status", [
    ("anonymous", "anonymous", "own", 401),
    ("agent_own_lead", "agent", "own", 200),
    ("agent_other_agents_lead", "agent", "other", 404),
    ("agent_view_all_other_agents_lead", "viewer", "other", 403),
    ("manager", "manager", "other", 200),
    ("admin", "admin", "other", 200),
    ("non_member", "outsider", "own", 404),
])
def test_patch_lead_matrix(client, _case, who, which, status):
    w = World()
    lead = w.lead(which)
    snapshot, events_before = lead_snapshot(lead.pk), event_count()

    response = call(client, w, who, "patch", f"/api/v1/leads/{lead.pk}", {"company": "Initech"})

    assert response.status_code == status
    if status == 200:
        assert Lead.objects.get(pk=lead.pk).company == "Initech"
        assert event_count() == events_before + 1
    else:
        assert_untouched(lead, snapshot, events_before)


@pytest.mark.parametrize("_case, who, which, status", [
    ("anonymous", "anonymous", "own", 401),
    ("agent_own_lead", "agent", "own", 200),
    ("agent_other_agents_lead", "agent", "other", 404),
    ("agent_view_all_other_agents_lead", "viewer", "other", 403),
    ("manager", "manager", "other", 200),
    ("admin", "admin", "other", 200),
    ("non_member", "outsider", "own", 404),
])
def test_set_stage_matrix(client, _case, who, which, status):
    w = World()
    lead = w.lead(which)
    contacted = stage_named(w.project, "Contacted")
    snapshot, events_before = lead_snapshot(lead.pk), event_count()

    response = call(client, w, who, "post", f"/api/v1/leads/{lead.pk}/stage",
                    {"stage": contacted.pk})

    assert response.status_code == status
    if status == 200:
        assert Lead.objects.get(pk=lead.pk).stage_id == contacted.pk
        assert event_count() == events_before + 1
    else:
        assert_untouched(lead, snapshot, events_before)


@pytest.mark.parametrize("_case, who, which, status", [
    ("anonymous", "anonymous", "own", 401),
    ("agent_own_lead", "agent", "own", 403),
    ("agent_other_agents_lead", "agent", "other", 404),
    ("agent_view_all_other_agents_lead", "viewer", "other", 403),
    ("manager", "manager", "other", 204),
    ("admin", "admin", "other", 204),
    ("non_member", "outsider", "own", 404),
])
def test_delete_lead_matrix(client, _case, who, which, status):
    w = World()
    lead = w.lead(which)
    snapshot, events_before = lead_snapshot(lead.pk), event_count()

    response = call(client, w, who, "delete", f"/api/v1/leads/{lead.pk}")

    assert response.status_code == status
    if status == 204:
        assert not Lead.objects.filter(pk=lead.pk).exists()
        assert event_count() == events_before + 1
    else:
        assert_untouched(lead, snapshot, events_before)


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 201),
    ("agent_view_all", "viewer", 201),
    ("manager", "manager", 201),
    ("admin", "admin", 201),
    ("non_member", "outsider", 404),
])
def test_create_lead_matrix(client, _case, who, status):
    w = World()
    leads_before, events_before = Lead.objects.count(), event_count()

    response = call(client, w, who, "post", "/api/v1/leads",
                    {"project": w.project.pk, "name": "Neo", "email": "neo@example.com"})

    assert response.status_code == status
    if status == 201:
        lead = Lead.objects.get(email="neo@example.com")
        assert lead.project_id == w.project.pk
        expected_owner = w.user(who).pk if who in ("agent", "viewer") else None
        assert lead.owner_id == expected_owner
        assert event_count() == events_before + 1
    else:
        assert Lead.objects.count() == leads_before
        assert event_count() == events_before


def test_agent_without_create_lead_grant_gets_403(client):
    w = World()
    restricted = make_user(w.project, "agent", create_lead=False)
    events_before = event_count()

    response = client.post("/api/v1/leads", data=json.dumps({"name": "N", "email": "n@x.io"}),
                           content_type="application/json", **auth(restricted))

    assert response.status_code == 403
    assert Lead.objects.count() == 2
    assert event_count() == events_before


# --- the same rules at the service layer (every caller goes through them) ----------------------

SERVICE_CASES = [
    ("agent_own_lead", "agent", "own", None),
    ("agent_other_agents_lead", "agent", "other", NotFound),
    ("agent_view_all_other_agents_lead", "viewer", "other", PermissionDenied),
    ("manager", "manager", "other", None),
    ("admin", "admin", "other", None),
    ("non_member", "outsider", "own", NotFound),
]


def _service_call(action, w, actor, lead_id):
    if action == "change":
        lead = access.get_lead_for(actor, lead_id, "change")
        services.update_lead(lead, {"company": "Initech"}, actor=actor)
    elif action == "stage":
        lead = access.get_lead_for(actor, lead_id, "stage")
        services.set_stage(lead, stage_named(w.project, "Contacted"), actor=actor)
    else:
        lead = access.get_lead_for(actor, lead_id, "delete")
        services.delete_lead(lead, actor=actor)


@pytest.mark.parametrize("action", ["change", "stage", "delete"])
@pytest.mark.parametrize("_case, who, which, error", SERVICE_CASES)
def test_service_access_matrix(_case, who, which, error, action):
    w = World()
    lead = w.lead(which)
    if action == "delete" and who == "agent" and error is None:
        error = PermissionDenied
    snapshot, events_before = lead_snapshot(lead.pk), event_count()

    if error is None:
        _service_call(action, w, as_actor(w.user(who)), lead.pk)
        assert event_count() == events_before + 1
    else:
        with pytest.raises(error):
            _service_call(action, w, as_actor(w.user(who)), lead.pk)
        assert_untouched(lead, snapshot, events_before)


@pytest.mark.parametrize("_case, who, error", [
    ("agent", "agent", None),
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("non_member", "outsider", NotFound),
])
def test_create_lead_service_matrix(_case, who, error):
    w = World()
    events_before = event_count()
    create = lambda: services.create_lead(  # noqa: E731
        w.project, LeadInput(name="Neo", email="neo@example.com"), actor=as_actor(w.user(who)))

    if error is None:
        assert create().lead.project_id == w.project.pk
        assert event_count() == events_before + 1
    else:
        with pytest.raises(error):
            create()
        assert Lead.objects.count() == 2
        assert event_count() == events_before


# --- visibility --------------------------------------------------------------------------------


def test_agent_sees_own_unassigned_pool_and_live_claimed_leads_only(client):
    w = World()
    with time_machine.travel(T0, tick=False):
        unassigned = make_lead(w.project)
        claimed_by_agent = make_lead(w.project)
        claimed_by_other = make_lead(w.project)
        set_claim(claimed_by_agent, w.agent, T0 + timedelta(hours=24))
        set_claim(claimed_by_other, w.other_agent, T0 + timedelta(hours=24))
        other_project_lead = make_lead(w.other_project)

        visible = {lead["id"] for lead in call(client, w, "agent", "get", "/api/v1/leads")
                   .json()["items"]}

        assert visible == {w.own_lead.pk, unassigned.pk, claimed_by_agent.pk}
        for hidden in (w.other_lead, claimed_by_other, other_project_lead):
            assert call(client, w, "agent", "get",
                        f"/api/v1/leads/{hidden.pk}").status_code == 404
        claimed = call(client, w, "agent", "get", f"/api/v1/leads/{claimed_by_agent.pk}").json()
        assert (claimed["claimed_by"], claimed["claimed_until"] is not None) == (w.agent.pk, True)


def test_an_expired_claim_reads_as_none(client):
    w = World()
    outside_pool = make_user(w.project, "agent")
    from leadflow.projects.models import Pool

    Pool.members.through.objects.filter(user_id=outside_pool.pk).delete()
    with time_machine.travel(T0, tick=False):
        lead = make_lead(w.project)
        set_claim(lead, outside_pool, T0 + timedelta(hours=24))
        assert call(client, w, "manager", "get",
                    f"/api/v1/leads/{lead.pk}").json()["claimed_by"] == outside_pool.pk
        assert call(client, w, "other_agent", "get", f"/api/v1/leads/{lead.pk}").status_code == 404
        headers = auth(outside_pool)
        assert client.get(f"/api/v1/leads/{lead.pk}", **headers).status_code == 200

    with time_machine.travel(T0 + timedelta(hours=24), tick=False):
        body = call(client, w, "manager", "get", f"/api/v1/leads/{lead.pk}").json()
        assert (body["claimed_by"], body["claimed_until"]) == (None, None)
        # The lapsed claimant is out of the pool: the lead is gone for them ...
        assert client.get(f"/api/v1/leads/{lead.pk}", **headers).status_code == 404
        # ... and it is an unassigned pool lead again for the pool's agents.
        assert call(client, w, "other_agent", "get", f"/api/v1/leads/{lead.pk}").status_code == 200


def test_agent_does_not_see_unassigned_leads_of_pools_they_are_not_in(client):
    w = World()
    from leadflow.projects.models import Pool

    side = Pool.objects.create(project=w.project, name="Side")
    lead = make_lead(w.project)
    Lead.objects.filter(pk=lead.pk).update(pool=side)

    assert call(client, w, "agent", "get", f"/api/v1/leads/{lead.pk}").status_code == 404
    assert call(client, w, "viewer", "get", f"/api/v1/leads/{lead.pk}").status_code == 200


def test_view_all_reaches_only_the_granted_project(client):
    w = World()
    foreign = make_lead(w.other_project)

    assert call(client, w, "viewer", "get", f"/api/v1/leads/{foreign.pk}").status_code == 404


def test_manager_of_one_project_is_an_agent_elsewhere(client):
    first, second = make_project(), make_project()
    user = make_user(first, "manager")
    from leadflow.accounts.services import set_membership
    from tests.factories import SYSTEM

    set_membership(user, second, "agent", actor=SYSTEM)
    other_agent = make_user(second, "agent")
    hidden = make_lead(second, owner=other_agent)
    managed = make_lead(first, owner=make_user(first, "agent"))

    response = client.get("/api/v1/leads", **auth(user))

    assert [lead["id"] for lead in response.json()["items"]] == [managed.pk]
    assert client.get(f"/api/v1/leads/{hidden.pk}", **auth(user)).status_code == 404


def test_visibility_list_matrix_for_every_caller(client):
    w = World()
    unassigned = make_lead(w.project)
    expected = {
        "agent": {w.own_lead.pk, unassigned.pk},
        "other_agent": {w.other_lead.pk, unassigned.pk},
        "viewer": {w.own_lead.pk, w.other_lead.pk, unassigned.pk},
        "manager": {w.own_lead.pk, w.other_lead.pk, unassigned.pk},
        "admin": {w.own_lead.pk, w.other_lead.pk, unassigned.pk},
        "outsider": set(),
    }

    for who, leads in expected.items():
        response = call(client, w, who, "get", "/api/v1/leads")
        assert {lead["id"] for lead in response.json()["items"]} == leads, who
    assert call(client, w, "anonymous", "get", "/api/v1/leads").status_code == 401


def test_non_member_project_has_no_leads_for_them():
    other = make_project()
    lead = make_lead(other)
    agent = make_user(make_project(), "agent")

    with pytest.raises(NotFound):
        access.get_lead_for(as_actor(agent), lead.pk)
