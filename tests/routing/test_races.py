"""Races settled by conditional updates: twenty callers claiming one lead, accepting one offer
or asking one pool for its next lead get exactly one winner each (409 or another lead for the
rest), and nobody ever ends up holding a lead somebody else holds."""

import json
from collections import Counter

import pytest
from django.test import Client

from leadflow.crm.models import Lead
from leadflow.routing.models import Offer
from leadflow.routing.services.loads import recount
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import auth, default_pool, make_lead, make_project, make_user
from tests.test_concurrency import run_at_once

CALLERS = 20


def crowd(count: int = CALLERS):
    project = make_project()
    manager = make_user(project, "manager")
    agents = [make_user(project, "agent") for _ in range(count)]
    return project, manager, agents, [auth(a) for a in agents]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_claims_of_one_lead_give_one_claimant():
    project, _manager, agents, headers = crowd()
    lead = make_lead(project)

    results = run_at_once(
        lambda i: Client().post(f"/api/v1/leads/{lead.pk}/claim", **headers[i]).status_code,
        CALLERS)

    assert sorted(results) == [200] + [409] * (CALLERS - 1)
    winner = agents[results.index(200)]
    assert Lead.objects.get(pk=lead.pk).claimed_by_id == winner.pk
    assert TimelineEvent.objects.filter(lead_id=lead.pk,
                                        kind=TimelineKind.LEAD_CLAIMED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_accepts_of_one_offer_give_one_owner():
    project, manager, agents, headers = crowd()
    lead = make_lead(project)
    made = Client().post(
        f"/api/v1/leads/{lead.pk}/offers", content_type="application/json",
        data=json.dumps({"recipients": [a.pk for a in agents], "mode": "all"}), **auth(manager),
    ).json()

    results = run_at_once(
        lambda i: Client().post(f"/api/v1/offers/{made['id']}/accept", **headers[i]).status_code,
        CALLERS)

    assert sorted(results) == [200] + [409] * (CALLERS - 1)
    winner = agents[results.index(200)]
    assert Lead.objects.get(pk=lead.pk).owner_id == winner.pk
    assert Offer.objects.get(pk=made["id"]).accepted_by_id == winner.pk
    assert TimelineEvent.objects.filter(lead_id=lead.pk,
                                        kind=TimelineKind.OFFER_ACCEPTED).count() == 1
    assert recount() == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_next_calls_share_out_five_leads():
    project, _manager, agents, headers = crowd()
    pool = default_pool(project)
    leads = [make_lead(project) for _ in range(5)]

    def ask(i: int):
        response = Client().post(f"/api/v1/pools/{pool.pk}/next", **headers[i])
        return response.status_code, response.json().get("id")

    results = run_at_once(ask, CALLERS)

    assert [r for r in results if not isinstance(r, tuple)] == []
    assert Counter(status for status, _ in results) == {200: 5, 404: CALLERS - 5}
    handed = sorted(lead_id for status, lead_id in results if status == 200)
    assert handed == sorted(lead.pk for lead in leads)
    claimants = {lead_id: agents[i].pk for i, (status, lead_id) in enumerate(results)
                 if status == 200}
    assert {lead.pk: lead.claimed_by_id for lead in Lead.objects.filter(project=project)} == (
        claimants)


@pytest.mark.django_db(transaction=True)
def test_concurrent_take_ownership_and_assign_leave_one_owner():
    project, manager, agents, headers = crowd(2)
    lead = make_lead(project)
    Client().post(f"/api/v1/leads/{lead.pk}/claim", **headers[0])

    def act(i: int):
        if i % 2:
            return Client().post(f"/api/v1/leads/{lead.pk}/take-ownership",
                                 **headers[0]).status_code
        return Client().post(f"/api/v1/leads/{lead.pk}/assign", content_type="application/json",
                             data=json.dumps({"owner": agents[1].pk}),
                             **auth(manager)).status_code

    results = run_at_once(act, 2)

    assert 200 in results
    owner = Lead.objects.get(pk=lead.pk).owner_id
    assert owner in (agents[0].pk, agents[1].pk)
    assert recount() == 0
