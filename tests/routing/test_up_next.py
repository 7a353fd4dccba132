""""Up next" on distribution rules (API and settings screen): whom the rule would pick now,
for each method, with away members and caps — and reading it never moves the rotation."""

import pytest
from django.urls import reverse

from leadflow.accounts.services import set_away
from leadflow.routing.models import DistributionRule
from tests.factories import (
    SYSTEM,
    auth,
    make_bucket,
    make_lead,
    make_project,
    make_rule,
    make_user,
    submit,
)

_n = iter(range(1_000_000))


def team(agents: int = 3):
    project = make_project()
    manager = make_user(project, "manager")
    people = [make_user(project, "agent") for _ in range(agents)]
    return project, manager, people


def up_next(client, manager, rule) -> int | None:
    response = client.get(f"/api/v1/distribution-rules/{rule.pk}", **auth(manager))
    assert response.status_code == 200
    return response.json()["up_next"]


def route_one(bucket) -> int | None:
    n = next(_n)
    return submit(bucket, {"name": f"Person {n}", "email": f"p{n}@example.com"}).lead.owner_id


def rotation(rule) -> tuple:
    return DistributionRule.objects.filter(pk=rule.pk).values_list("cursor", "credits").get()


@pytest.mark.parametrize("method, options", [
    ("round_robin", {}),
    ("weighted", {"weights": "3-1-0"}),
    ("least_loaded", {}),
])
def test_up_next_names_whoever_the_next_routed_lead_goes_to(client, method, options):
    project, manager, (a, b, c) = team()
    if "weights" in options:
        options = {"weights": {str(a.pk): 3, str(b.pk): 1, str(c.pk): 0}}
    make_lead(project, owner=a)  # least loaded starts elsewhere than round robin
    rule = make_rule(project, method=method, **options)
    bucket, _key = make_bucket(project)

    predicted, routed = [], []
    for _ in range(8):
        predicted.append(up_next(client, manager, rule))
        routed.append(route_one(bucket))

    assert predicted == routed
    assert None not in routed


def test_round_robin_up_next_follows_the_cursor(client):
    project, manager, (a, b, c) = team()
    rule = make_rule(project, method="round_robin")
    bucket, _key = make_bucket(project)

    first = up_next(client, manager, rule)
    route_one(bucket)
    second = up_next(client, manager, rule)

    assert (first, second) == (a.pk, b.pk)


def test_weighted_up_next_prefers_the_heaviest_weight_first(client):
    project, manager, (a, b, c) = team()
    rule = make_rule(project, method="weighted",
                     weights={str(a.pk): 1, str(b.pk): 5, str(c.pk): 1})

    assert up_next(client, manager, rule) == b.pk


def test_least_loaded_up_next_is_the_member_with_fewest_open_leads(client):
    project, manager, (a, b, c) = team()
    make_lead(project, owner=a)
    make_lead(project, owner=c)
    rule = make_rule(project, method="least_loaded")

    assert up_next(client, manager, rule) == b.pk


def test_away_members_are_not_up_next(client):
    project, manager, (a, b, _c) = team()
    rule = make_rule(project, method="round_robin")
    set_away(project.pk, a, True, actor=SYSTEM)

    assert up_next(client, manager, rule) == b.pk
    set_away(project.pk, a, False, actor=SYSTEM)
    assert up_next(client, manager, rule) == a.pk


def test_members_at_their_cap_are_not_up_next_and_nobody_is_null(client):
    project, manager, (a, b) = team(agents=2)
    make_lead(project, owner=a)
    rule = make_rule(project, method="round_robin", caps={str(a.pk): 1})

    assert up_next(client, manager, rule) == b.pk
    make_lead(project, owner=b)
    DistributionRule.objects.filter(pk=rule.pk).update(agent_cap=1)
    assert up_next(client, manager, rule) is None


def test_reading_up_next_does_not_move_the_rotation(client):
    project, manager, (a, b, c) = team()
    rule = make_rule(project, method="weighted",
                     weights={str(a.pk): 2, str(b.pk): 1, str(c.pk): 1})
    bucket, _key = make_bucket(project)
    route_one(bucket)
    before = rotation(rule)

    reads = [up_next(client, manager, rule) for _ in range(3)]
    listed = client.get(f"/api/v1/distribution-rules?project={project.pk}", **auth(manager))
    client.force_login(manager)
    page = client.get(reverse("config:rules", args=[project.pk]))

    assert len(set(reads)) == 1
    assert [r["up_next"] for r in listed.json()] == [reads[0]]
    assert [row["up_next"] for row in page.context["rows"]] == [
        next(u.label for u in (a, b, c) if u.pk == reads[0])]
    assert rotation(rule) == before
    assert route_one(bucket) == reads[0]
