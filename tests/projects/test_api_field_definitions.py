"""The `/field-definitions` routes (DESIGN §4): list shape with `project` filter and cursor,
create, read, change, delete; who may (DESIGN §2); the error shape."""

import json

import pytest

from leadflow.projects.models import FieldDefinition
from tests.factories import World, auth, make_field, make_lead

KEYS = {"id", "project", "name", "label", "type", "choices", "nullable", "unique",
        "primary_key", "position", "created_at", "updated_at"}


def call(client, user, method, path, body=None):
    headers = auth(user) if user is not None else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **headers)


def rows() -> list[dict]:
    return list(FieldDefinition.objects.order_by("pk").values())


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


WRITE_CASES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent_view_all", "viewer", 403),
    ("non_member_agent", "outsider", 403),
    ("manager_of_another_project", "foreign_manager", 404),
]


def test_manager_creates_a_field_and_reads_it_back(client):
    w = World()

    created = call(client, w.manager, "post", "/api/v1/field-definitions", {
        "project": w.project.pk, "name": "tier", "type": "choice",
        "choices": ["Gold", "Silver"], "nullable": False, "unique": True})
    read = call(client, w.agent, "get", f"/api/v1/field-definitions/{created.json()['id']}")

    assert created.status_code == 201
    body = created.json()
    assert set(body) == KEYS
    assert {k: body[k] for k in ("project", "name", "label", "type", "choices", "nullable",
                                 "unique", "primary_key", "position")} == {
        "project": w.project.pk, "name": "tier", "label": "Tier", "type": "choice",
        "choices": ["Gold", "Silver"], "nullable": False, "unique": True,
        "primary_key": False, "position": 1}
    assert (read.status_code, read.json()) == (200, body)


@pytest.mark.parametrize("_case, who, status", WRITE_CASES)
def test_only_managers_and_admins_create_fields(client, _case, who, status):
    w = World()

    response = call(client, w.user(who), "post", "/api/v1/field-definitions",
                    {"project": w.project.pk, "name": "tier"})

    assert response.status_code == status
    assert rows() == []


@pytest.mark.parametrize("_case, who, status", WRITE_CASES)
def test_only_managers_and_admins_change_and_delete_fields(client, _case, who, status):
    w = World()
    definition = make_field(w.project, "budget")
    before = rows()
    path = f"/api/v1/field-definitions/{definition.pk}"

    changed = call(client, w.user(who), "patch", path, {"label": "Money"})
    deleted = call(client, w.user(who), "delete", path)

    assert (changed.status_code, deleted.status_code) == (status, status)
    assert rows() == before


def test_admin_changes_and_deletes_a_field(client):
    w = World()
    definition = make_field(w.project, "budget")
    path = f"/api/v1/field-definitions/{definition.pk}"

    changed = call(client, w.admin, "patch", path, {"label": "Money", "type": "decimal",
                                                    "position": 3})
    deleted = call(client, w.admin, "delete", path)

    assert changed.status_code == 200
    assert (changed.json()["label"], changed.json()["type"], changed.json()["position"]) == (
        "Money", "decimal", 3)
    assert deleted.status_code == 204
    assert rows() == []


def test_the_list_has_the_list_shape_filters_by_project_and_pages(client):
    w = World()
    for name in ("a", "b", "c"):
        make_field(w.project, name)
    make_field(w.other_project, "elsewhere")

    first = call(client, w.agent, "get",
                 f"/api/v1/field-definitions?project={w.project.pk}&limit=2")
    cursor = first.json()["next_cursor"]
    second = call(client, w.agent, "get",
                  f"/api/v1/field-definitions?project={w.project.pk}&limit=2&cursor={cursor}")
    everything = call(client, w.agent, "get", "/api/v1/field-definitions")

    assert first.status_code == 200
    assert set(first.json()) == {"items", "next_cursor"}
    assert [d["name"] for d in first.json()["items"]] == ["a", "b"]
    assert ([d["name"] for d in second.json()["items"]], second.json()["next_cursor"]) == (
        ["c"], None)
    assert [d["name"] for d in everything.json()["items"]] == ["a", "b", "c"]


def test_listing_another_projects_fields_is_404_and_a_bad_cursor_400(client):
    w = World()

    other = call(client, w.agent, "get",
                 f"/api/v1/field-definitions?project={w.other_project.pk}")
    bad = call(client, w.agent, "get", "/api/v1/field-definitions?cursor=nonsense")
    too_many = call(client, w.agent, "get", "/api/v1/field-definitions?limit=201")

    assert other.status_code == 404
    assert (bad.status_code, error_codes(bad)) == (400, [("cursor", "invalid")])
    assert (too_many.status_code, error_codes(too_many)) == (400, [("limit", "out_of_range")])


def test_a_field_of_another_project_is_404(client):
    w = World()
    definition = make_field(w.other_project, "budget")

    response = call(client, w.agent, "get", f"/api/v1/field-definitions/{definition.pk}")
    missing = call(client, w.agent, "get", "/api/v1/field-definitions/-1")

    assert (response.status_code, missing.status_code) == (404, 404)


@pytest.mark.parametrize("_case, body, expected", [
    ("bad_name", {"name": "Has Space"}, [("name", "invalid")]),
    ("reserved_name", {"name": "phone"}, [("name", "reserved")]),
    ("unknown_type", {"name": "x", "type": "colour"}, [("type", "invalid")]),
    ("unknown_field", {"name": "x", "colour": "red"}, [("colour", "unknown_field")]),
    ("missing_name", {}, [("name", "required")]),
    ("choice_without_choices", {"name": "x", "type": "choice"}, [("choices", "required")]),
])
def test_bad_bodies_are_400_with_the_fields_named(client, _case, body, expected):
    w = World()

    response = call(client, w.manager, "post", "/api/v1/field-definitions",
                    {"project": w.project.pk, **body})

    assert response.status_code == 400
    assert set(response.json()) >= {"detail", "errors"}
    assert error_codes(response) == expected
    assert rows() == []


def test_renaming_is_400_immutable_and_null_flags_are_400(client):
    w = World()
    definition = make_field(w.project, "budget")
    path = f"/api/v1/field-definitions/{definition.pk}"

    renamed = call(client, w.manager, "patch", path, {"name": "money"})
    nulled = call(client, w.manager, "patch", path, {"unique": None})

    assert error_codes(renamed) == [("name", "immutable")]
    assert error_codes(nulled) == [("unique", "invalid")]


def test_conflicts_are_409(client):
    w = World()
    definition = make_field(w.project, "policy_no")
    make_lead(w.project, custom={"policy_no": "P-1"})
    make_lead(w.project, custom={"policy_no": "P-1"})

    twice = call(client, w.manager, "post", "/api/v1/field-definitions",
                 {"project": w.project.pk, "name": "policy_no"})
    collide = call(client, w.manager, "patch", f"/api/v1/field-definitions/{definition.pk}",
                   {"unique": True})
    retype = call(client, w.manager, "patch", f"/api/v1/field-definitions/{definition.pk}",
                  {"type": "number"})

    assert (twice.status_code, twice.json()["code"]) == (409, "exists")
    assert (collide.status_code, collide.json()["code"]) == (409, "values_collide")
    assert len(collide.json()["collisions"]) == 1
    assert (retype.status_code, retype.json()["code"]) == (409, "field_in_use")


def test_the_openapi_schema_documents_the_routes(client):
    schema = client.get("/api/openapi.json").json()

    listing = schema["paths"]["/api/v1/field-definitions"]
    single = schema["paths"]["/api/v1/field-definitions/{definition_id}"]
    assert set(listing) == {"get", "post"}
    assert set(single) == {"get", "patch", "delete"}
    assert set(listing["post"]["responses"]) == {"201", "400", "401", "403", "404", "409",
                                                 "413", "414", "429", "431"}
