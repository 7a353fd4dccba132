"""Automatic routing on intake and on demand: direct-to-user, first matching rule, the three
methods, away members and caps, the explanation on the timeline, and the rotation's fairness
under concurrent intake."""

import json
from collections import Counter

import pytest
from django.test import Client

from leadflow.accounts.models import Notification
from leadflow.accounts.services import set_away, update_user
from leadflow.core.actor import Actor
from leadflow.crm.models import Lead
from leadflow.intake.services.submissions import submit_batch
from leadflow.projects import services as project_services
from leadflow.projects.models import Source
from leadflow.routing.models import DistributionRule, OwnerLoad
from leadflow.routing.services.loads import recount
from leadflow.routing.services.router import Router
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    auth,
    default_pool,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    post_intake,
    source_named,
    submit,
)
from tests.test_concurrency import run_at_once

_n = iter(range(1_000_000))


def team(agents: int = 3):
    project = make_project()
    manager = make_user(project, "manager")
    people = [make_user(project, "agent") for _ in range(agents)]
    return project, manager, people


def rule(project, *, pool=None, name=None, **values) -> DistributionRule:
    return DistributionRule.objects.create(
        project=project, name=name or f"Rule {next(_n)}", pool=pool or default_pool(project),
        position=values.pop("position", next(_n)), **values,
    )


def person(n: int, **extra) -> dict:
    return {"name": f"Person {n}", "email": f"person{n}@example.com", **extra}


def owners(project) -> Counter:
    return Counter(Lead.objects.filter(project=project).values_list("owner_id", flat=True))


def routed_event(lead) -> dict:
    return TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_ROUTED).after


def test_round_robin_takes_turns_and_explains_each_decision():
    project, _manager, (a, b, c) = team()
    bucket, _key = make_bucket(project)
    first_rule = rule(project, method="round_robin")

    leads = [submit(bucket, person(i)).lead for i in range(6)]

    assert [lead.owner_id for lead in leads] == [a.pk, b.pk, c.pk, a.pk, b.pk, c.pk]
    assert routed_event(leads[1]) == {"via": "rule", "rule": first_rule.pk, "m": "rr",
                                      "cand": [a.pk, b.pk, c.pk], "cur": [a.pk, b.pk],
                                      "to": b.pk}
    assert {o.user_id: o.open_leads for o in OwnerLoad.objects.filter(project=project)} == {
        a.pk: 2, b.pk: 2, c.pk: 2}
    told = Notification.objects.filter(user=b, kind="lead_assigned").order_by("id")
    assert [(n.lead_id, n.message) for n in told] == [
        (leads[1].pk, "Lead Person 1 was routed to you."),
        (leads[4].pk, "Lead Person 4 was routed to you.")]


def test_the_first_matching_rule_wins_and_conditions_must_all_hold():
    project, _manager, (a, b, c) = team()
    german = project_services.create_pool(project, "German", actor=SYSTEM, members=[c.pk])
    bucket, _key = make_bucket(project)
    rule(project, name="German speakers", pool=german, languages=["de"], countries=["DE"],
         position=1)
    catch_all = rule(project, name="Everyone else", position=2)

    berlin = submit(bucket, person(1, language="de", country="DE")).lead
    vienna = submit(bucket, person(2, language="de", country="AT")).lead

    assert (berlin.owner_id, berlin.pool_id) == (c.pk, german.pk)
    assert (vienna.pool_id, routed_event(vienna)["rule"]) == (default_pool(project).pk,
                                                               catch_all.pk)


def test_custom_field_source_and_bucket_conditions():
    project, _manager, (a, b, _c) = team()
    spring, _ = make_bucket(project, source="Event")
    autumn, _ = make_bucket(project, source="Event")
    solo = project_services.create_pool(project, "Solo", actor=SYSTEM, members=[b.pk])
    rule(project, pool=solo, buckets=[spring.pk], sources=[source_named(project, "Event").pk],
         position=1)

    assert submit(spring, person(1)).lead.owner_id == b.pk
    assert submit(autumn, person(2)).lead.owner_id is None
    assert routed_event(Lead.objects.get(email="person2@example.com")) == {
        "via": "none", "why": "no_match"}

    tiers = rule(project, pool=solo, custom={"tier": ["gold", "vip"]}, position=0)
    router = Router(project.pk)
    from leadflow.routing.services.router import LeadFacts, rule_matches
    assert rule_matches(tiers, LeadFacts(custom={"tier": "vip"}))
    assert not rule_matches(tiers, LeadFacts(custom={"tier": "silver"}))
    assert router.rules()[0].pk == tiers.pk


def test_away_members_and_members_at_their_cap_are_skipped_with_a_code():
    project, _manager, (a, b, c) = team()
    bucket, _key = make_bucket(project)
    rule(project, method="round_robin", caps={str(b.pk): 0})
    set_away(project.pk, a, True, actor=SYSTEM)

    lead = submit(bucket, person(1)).lead

    assert lead.owner_id == c.pk
    assert routed_event(lead)["skip"] == {str(a.pk): "away", str(b.pk): "cap"}


def test_an_agent_going_away_or_deactivated_between_two_intakes_gets_no_more_leads():
    project, _manager, (a, b, c) = team()
    bucket, _key = make_bucket(project)
    rule(project, method="round_robin")
    submit(bucket, person(1))  # the process now keeps the pool's members

    set_away(project.pk, a, True, actor=SYSTEM)
    while_a_is_away = [submit(bucket, person(n)).lead for n in range(2, 5)]
    update_user(b, actor=Actor(make_user(admin=True), "api"), is_active=False)
    after_b_left = [submit(bucket, person(n)).lead for n in range(5, 8)]

    assert a.pk not in {lead.owner_id for lead in while_a_is_away}
    assert {lead.owner_id for lead in after_b_left} == {c.pk}
    assert routed_event(after_b_left[0])["cand"] == sorted([a.pk, c.pk])


def test_nobody_eligible_leaves_the_lead_unowned_in_the_rules_pool():
    project, _manager, (a, _b, _c) = team()
    solo = project_services.create_pool(project, "Solo", actor=SYSTEM, members=[a.pk])
    bucket, _key = make_bucket(project)
    rule(project, pool=solo, agent_cap=0)

    lead = submit(bucket, person(1)).lead

    assert (lead.owner_id, lead.pool_id) == (None, solo.pk)
    assert routed_event(lead)["why"] == "no_candidate"


def test_weighted_rotation_follows_the_weights():
    project, _manager, (a, b, c) = team()
    bucket, _key = make_bucket(project)
    rule(project, method="weighted", weights={str(a.pk): 3, str(b.pk): 1, str(c.pk): 0})

    for i in range(8):
        submit(bucket, person(i))

    assert owners(project) == {a.pk: 6, b.pk: 2}


def test_least_loaded_picks_the_member_with_fewest_open_leads():
    project, manager, (a, b, c) = team()
    for _ in range(2):
        make_lead(project, owner=a)
    make_lead(project, owner=b)
    bucket, _key = make_bucket(project)
    rule(project, method="least_loaded")

    picked = [submit(bucket, person(i)).lead.owner_id for i in range(3)]

    assert picked == [c.pk, b.pk, c.pk]


def test_a_sources_target_user_gets_its_leads_directly():
    project, _manager, (a, b, _c) = team()
    Source.objects.filter(project=project, name="Website").update(target_user=b)
    bucket, _key = make_bucket(project, source="Website")
    rule(project)

    lead = submit(bucket, person(1)).lead

    assert lead.owner_id == b.pk
    assert routed_event(lead) == {"via": "source", "to": b.pk}


def test_a_batch_routes_each_lead_in_turn():
    project, _manager, (a, b, c) = team()
    bucket, _key = make_bucket(project)
    rule(project)

    rows = submit_batch(bucket, [person(i) for i in range(7)])

    assert [r.status for r in rows] == ["processed"] * 7
    assert owners(project) == {a.pk: 3, b.pk: 2, c.pk: 2}
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_ROUTED).count() == 7
    assert Counter(Notification.objects.values_list("user_id", flat=True)) == {
        a.pk: 3, b.pk: 2, c.pk: 2}
    assert recount() == 0


def test_a_manager_routes_a_lead_on_demand(client):
    project, manager, (a, b, _c) = team()
    lead = make_lead(project)  # created before any rule: unowned
    rule(project)

    response = client.post(f"/api/v1/leads/{lead.pk}/route", **auth(manager))
    refused = client.post(f"/api/v1/leads/{lead.pk}/route", **auth(a))

    assert response.status_code == 200
    assert response.json()["owner"] == a.pk
    assert refused.status_code in (403, 404)
    assert routed_event(lead)["to"] == a.pk


def test_up_next_does_not_move_the_rotation():
    project, _manager, (a, b, _c) = team()
    bucket, _key = make_bucket(project)
    first_rule = rule(project)

    assert Router(project.pk).up_next(first_rule) == a.pk
    assert Router(project.pk).up_next(first_rule) == a.pk
    assert submit(bucket, person(1)).lead.owner_id == a.pk
    first_rule.refresh_from_db()
    assert Router(project.pk).up_next(first_rule) == b.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["round_robin", "weighted", "least_loaded"])
def test_a_thousand_leads_from_sixteen_clients_stay_fair(method):
    project, _manager, agents = team(7)
    bucket, key = make_bucket(project)
    rule(project, method=method)
    total, threads = 1000, 16

    def send(index: int):
        client, statuses = Client(), []
        for n in range(index, total, threads):
            response = post_intake(client, bucket, key, person(n))
            statuses.append((response.status_code, response.json()["status"]))
        return statuses

    results = run_at_once(send, threads)

    assert [r for r in results if not isinstance(r, list)] == []
    assert {s for statuses in results for s in statuses} == {(201, "processed")}
    counts = owners(project)
    assert sum(counts.values()) == total
    share = total / len(agents)
    assert set(counts) == {a.pk for a in agents}
    assert all(abs(n - share) <= 1 for n in counts.values()), counts
    assert recount() == 0


def test_routing_needs_no_body_and_the_decision_is_in_the_api_timeline(client):
    project, manager, (a, _b, _c) = team()
    bucket, key = make_bucket(project)
    rule(project)

    body = post_intake(client, bucket, key, person(1)).json()
    events = client.get(f"/api/v1/leads/{body['lead']}/timeline", **auth(manager)).json()

    assert [e["kind"] for e in events["items"]] == ["LEAD_ROUTED", "LEAD_CREATED"]
    assert events["items"][0]["after"]["to"] == a.pk
    assert json.loads(json.dumps(events["items"][0]["after"]))["m"] == "rr"
