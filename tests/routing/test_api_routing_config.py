"""Routing configuration routes: /offices, /groups, /distribution-rules (managers of the project
and admins; agents 403, other projects' managers 404), and /projects/{id}/away.

Denied cases check that no row changed."""

import json

import pytest

from leadflow.accounts.models import Membership
from leadflow.routing.models import DistributionRule, Group, Office
from tests.factories import (
    World,
    auth,
    default_pool,
    make_bucket,
    make_group,
    make_office,
    make_rule,
    make_user,
    source_named,
)


def call(client, w, who, method, path, body=None):
    headers = auth(w.user(who)) if who != "anonymous" else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **headers)


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def config_rows() -> list:
    return (
        list(Office.objects.order_by("pk").values())
        + sorted(Office.members.through.objects.values_list("office_id", "user_id"))
        + list(Group.objects.order_by("pk").values())
        + sorted(Group.members.through.objects.values_list("group_id", "user_id"))
        + list(DistributionRule.objects.order_by("pk").values())
    )


WRITE_CASES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent_view_all", "viewer", 403),
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("non_member_agent", "outsider", 403),
    ("manager_of_another_project", "foreign_manager", 404),
]


def setup_world():
    w = World()
    w.office = make_office(w.project, name="Berlin", members=[w.agent])
    w.group = make_group(w.project, name="Closers", members=[w.other_agent])
    w.rule = make_rule(w.project, name="Catch all")
    return w


# (route name, method, path, body, success status)
ROUTES = {
    "office_create": ("post", "/api/v1/offices", lambda w: {
        "project": w.project.pk, "name": "Paris", "members": [w.agent.pk]}, 201),
    "office_get": ("get", "/api/v1/offices/{office}", None, 200),
    "office_patch": ("patch", "/api/v1/offices/{office}", lambda w: {"name": "Munich"}, 200),
    "office_delete": ("delete", "/api/v1/offices/{office}", None, 204),
    "group_create": ("post", "/api/v1/groups", lambda w: {
        "project": w.project.pk, "name": "Hunters"}, 201),
    "group_get": ("get", "/api/v1/groups/{group}", None, 200),
    "group_patch": ("patch", "/api/v1/groups/{group}", lambda w: {"members": []}, 200),
    "group_delete": ("delete", "/api/v1/groups/{group}", None, 204),
    "rule_create": ("post", "/api/v1/distribution-rules", lambda w: {
        "project": w.project.pk, "name": "Germany", "pool": default_pool(w.project).pk,
        "conditions": {"countries": ["de"]}}, 201),
    "rule_get": ("get", "/api/v1/distribution-rules/{rule}", None, 200),
    "rule_patch": ("patch", "/api/v1/distribution-rules/{rule}", lambda w: {"active": False},
                   200),
    "rule_move": ("post", "/api/v1/distribution-rules/{rule}/move", lambda w: {"up": True}, 200),
    "rule_delete": ("delete", "/api/v1/distribution-rules/{rule}", None, 204),
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("_case, who, status", WRITE_CASES)
def test_routing_configuration_routes_by_role(client, route, _case, who, status):
    w = setup_world()
    method, path, body, success = ROUTES[route]
    path = path.format(office=w.office.pk, group=w.group.pk, rule=w.rule.pk)
    before = config_rows()

    response = call(client, w, who, method, path, body(w) if body else None)

    if status is None:
        assert response.status_code == success
    else:
        assert response.status_code == status
        assert config_rows() == before


@pytest.mark.parametrize("path", ["/api/v1/offices", "/api/v1/groups",
                                  "/api/v1/distribution-rules"])
@pytest.mark.parametrize("_case, who, expected", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("manager", "manager", 1),
    ("admin", "admin", 1),
    ("manager_of_another_project", "foreign_manager", 0),
])
def test_lists_show_only_managed_projects(client, path, _case, who, expected):
    w = setup_world()

    response = call(client, w, who, "get", f"{path}?project={w.project.pk}")

    if expected in (401, 403):
        assert response.status_code == expected
    else:
        assert response.status_code == 200
        assert len(response.json()) == expected


def test_office_create_answers_its_shape(client):
    w = setup_world()

    response = call(client, w, "manager", "post", "/api/v1/offices", {
        "project": w.project.pk, "name": "Paris", "members": [w.other_agent.pk, w.agent.pk]})

    office = Office.objects.get(name="Paris")
    assert response.json() == {"id": office.pk, "project": w.project.pk, "name": "Paris",
                               "members": sorted([w.agent.pk, w.other_agent.pk])}


def test_group_patch_and_list_filter(client):
    w = setup_world()
    other_group = make_group(w.other_project, name="Elsewhere")

    patched = call(client, w, "manager", "patch", f"/api/v1/groups/{w.group.pk}",
                   {"name": "Hunters", "members": [w.agent.pk]})
    listed = call(client, w, "admin", "get", f"/api/v1/groups?project={w.other_project.pk}")

    assert patched.json() == {"id": w.group.pk, "project": w.project.pk, "name": "Hunters",
                              "members": [w.agent.pk]}
    assert [g["id"] for g in listed.json()] == [other_group.pk]


def test_team_errors_use_the_error_shape(client):
    w = setup_world()

    unknown = call(client, w, "manager", "post", "/api/v1/offices",
                   {"project": w.project.pk, "name": "Paris", "city": "Paris"})
    stranger = call(client, w, "manager", "post", "/api/v1/groups",
                    {"project": w.project.pk, "name": "Mixed", "members": [w.outsider.pk]})
    taken = call(client, w, "manager", "post", "/api/v1/offices",
                 {"project": w.project.pk, "name": "Berlin"})
    missing = call(client, w, "manager", "get", "/api/v1/offices/-1")

    assert (unknown.status_code, error_codes(unknown)) == (400, [("city", "unknown_field")])
    assert (stranger.status_code, error_codes(stranger)) == (400, [("members", "not_member")])
    assert taken.status_code == 409
    assert missing.status_code == 404
    assert Office.objects.count() == 1
    assert Group.objects.count() == 1


def test_rule_create_answers_the_full_shape(client):
    w = setup_world()
    bucket, _key = make_bucket(w.project)
    website = source_named(w.project, "Website")

    response = call(client, w, "manager", "post", "/api/v1/distribution-rules", {
        "project": w.project.pk, "name": "Germany", "pool": default_pool(w.project).pk,
        "method": "weighted", "active": True,
        "conditions": {"sources": [website.pk], "buckets": [bucket.pk],
                       "countries": ["de", "at"], "languages": ["DE"],
                       "custom": {"tier": ["gold", "vip"]}},
        "weights": {str(w.agent.pk): 3}, "caps": {str(w.other_agent.pk): None},
        "agent_cap": 5,
    })

    rule = DistributionRule.objects.get(name="Germany")
    assert response.status_code == 201
    assert response.json() == {
        "id": rule.pk, "project": w.project.pk, "name": "Germany", "position": 2,
        "active": True, "pool": default_pool(w.project).pk, "method": "weighted",
        "conditions": {"sources": [website.pk], "buckets": [bucket.pk],
                       "countries": ["AT", "DE"], "languages": ["de"],
                       "custom": {"tier": ["gold", "vip"]}},
        "weights": {str(w.agent.pk): 3}, "caps": {str(w.other_agent.pk): None},
        "agent_cap": 5, "up_next": w.agent.pk,
    }


def test_rule_errors_name_their_fields(client):
    w = setup_world()

    bad = call(client, w, "manager", "post", "/api/v1/distribution-rules", {
        "project": w.project.pk, "name": "Bad", "pool": default_pool(w.other_project).pk,
        "conditions": {"countries": ["Germany"], "languages": ["d"]},
        "weights": {str(w.outsider.pk): 1}, "agent_cap": -2,
    })
    bad_method = call(client, w, "manager", "post", "/api/v1/distribution-rules", {
        "project": w.project.pk, "name": "Bad", "pool": default_pool(w.project).pk,
        "method": "random"})
    unknown_condition = call(client, w, "manager", "patch",
                             f"/api/v1/distribution-rules/{w.rule.pk}",
                             {"conditions": {"weather": ["sunny"]}})

    assert bad.status_code == 400
    assert set(bad.json()) >= {"detail", "errors"}
    assert error_codes(bad) == [("pool", "invalid"), ("countries", "invalid"),
                                ("languages", "invalid"), ("agent_cap", "out_of_range")]
    assert error_codes(bad_method) == [("method", "invalid")]
    assert error_codes(unknown_condition) == [("conditions.weather", "unknown_field")]
    assert DistributionRule.objects.count() == 1


def test_rule_patch_changes_only_the_named_conditions(client):
    w = setup_world()
    DistributionRule.objects.filter(pk=w.rule.pk).update(countries=["DE"], languages=["de"])

    response = call(client, w, "manager", "patch", f"/api/v1/distribution-rules/{w.rule.pk}",
                    {"conditions": {"languages": ["fr"]}, "agent_cap": 3})

    assert response.status_code == 200
    assert response.json()["conditions"]["countries"] == ["DE"]
    assert response.json()["conditions"]["languages"] == ["fr"]
    assert response.json()["agent_cap"] == 3


def test_rule_move_and_list_order(client):
    w = setup_world()
    second = make_rule(w.project, name="Second")

    moved = call(client, w, "manager", "post", f"/api/v1/distribution-rules/{second.pk}/move",
                 {"up": True})
    listed = call(client, w, "manager", "get", f"/api/v1/distribution-rules?project={w.project.pk}")
    bad = call(client, w, "manager", "post", f"/api/v1/distribution-rules/{second.pk}/move", {})

    assert moved.json()["position"] == 1
    assert [(r["name"], r["position"]) for r in listed.json()] == [("Second", 1),
                                                                   ("Catch all", 2)]
    assert (bad.status_code, error_codes(bad)) == (400, [("up", "required")])


def test_rule_delete_answers_204_then_404(client):
    w = setup_world()

    first = call(client, w, "admin", "delete", f"/api/v1/distribution-rules/{w.rule.pk}")
    again = call(client, w, "admin", "delete", f"/api/v1/distribution-rules/{w.rule.pk}")

    assert (first.status_code, again.status_code) == (204, 404)
    assert not DistributionRule.objects.exists()


# --- away -------------------------------------------------------------------------------------


def away_of(w, user) -> bool:
    return Membership.objects.get(project=w.project, user=user).away


def test_an_agent_sets_their_own_away_flag(client):
    w = World()

    response = call(client, w, "agent", "patch", f"/api/v1/projects/{w.project.pk}/away",
                    {"away": True})

    assert response.status_code == 200
    assert response.json() == {"user": w.agent.pk, "project": w.project.pk, "role": "agent",
                               "away": True}
    assert away_of(w, w.agent) is True


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("another_agent", "other_agent", 403),
    ("manager", "manager", 200),
    ("admin", "admin", 200),
    ("non_member", "outsider", 404),
    ("manager_of_another_project", "foreign_manager", 404),
])
def test_setting_someone_elses_away_flag_by_role(client, _case, who, status):
    w = World()

    response = call(client, w, who, "patch", f"/api/v1/projects/{w.project.pk}/away",
                    {"away": True, "user": w.agent.pk})

    assert response.status_code == status
    assert away_of(w, w.agent) is (status == 200)


def test_away_for_a_user_outside_the_project_or_unknown_is_404_and_bad_body_400(client):
    w = World()
    stranger = make_user()

    outside = call(client, w, "manager", "patch", f"/api/v1/projects/{w.project.pk}/away",
                   {"away": True, "user": stranger.pk})
    unknown = call(client, w, "manager", "patch", f"/api/v1/projects/{w.project.pk}/away",
                   {"away": True, "user": -1})
    bad = call(client, w, "manager", "patch", f"/api/v1/projects/{w.project.pk}/away",
               {"away": "maybe"})

    assert (outside.status_code, unknown.status_code, bad.status_code) == (404, 404, 400)
    assert error_codes(bad) == [("away", "invalid")]
