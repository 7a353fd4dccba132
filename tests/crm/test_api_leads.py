"""The leads API contract (DESIGN §4): codes, error shape, create/merge, PATCH rules, stage,
delete and the timeline route."""

import json
from datetime import datetime, timedelta

import time_machine

from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    World,
    auth,
    events_of,
    lead_snapshot,
    make_lead,
    make_project,
    make_user,
    source_named,
    stage_named,
)

LEAD_KEYS = {
    "id", "project", "name", "email", "phones", "company", "timezone", "country", "language",
    "source", "bucket", "bucket_label", "affiliate_id", "utm", "stage", "status", "lost_reason",
    "owner", "pool", "claimed_by", "claimed_until", "original_owner", "tags", "next_call_at",
    "last_activity_at", "retired", "list", "client", "custom", "created_at", "updated_at",
    # beyond DESIGN §4
    "assigned_at", "offered_until",
}


def send(client, method, path, user=None, body=None, raw=None, **extra):
    headers = auth(user) if user is not None else {}
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    call = getattr(client, method)
    if data is None:
        return call(path, **headers, **extra)
    return call(path, data=data, content_type="application/json", **headers, **extra)


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


# --- authentication ----------------------------------------------------------------------------


def test_no_token_is_401(client):
    make_project()

    response = client.get("/api/v1/leads")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required."}


def test_bad_token_is_401(client):
    response = client.get("/api/v1/leads", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 401


def test_token_of_a_deactivated_user_is_401(client):
    project = make_project()
    user = make_user(project, "agent")
    headers = auth(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert client.get("/api/v1/leads", **headers).status_code == 401


def test_authentication_comes_before_body_validation(client):
    response = send(client, "post", "/api/v1/leads", body={"nonsense": 1})

    assert response.status_code == 401


# --- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_the_lead(client):
    project = make_project(default_region="GB")
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent, {
        "name": "Ann Lee", "email": "Ann@Example.com", "phone": "020 7946 0018",
        "company": "Acme", "timezone": "Europe/London", "country": "gb", "language": "en",
    })

    assert response.status_code == 201
    body = response.json()
    lead = Lead.objects.get()
    assert set(body) == LEAD_KEYS
    assert body["id"] == lead.pk
    assert {k: body[k] for k in ("project", "name", "email", "phones", "company", "timezone",
                                 "country", "language", "source", "stage", "status", "owner",
                                 "original_owner", "tags", "retired", "custom", "utm",
                                 "claimed_by", "claimed_until")} == {
        "project": project.pk, "name": "Ann Lee", "email": "Ann@example.com",
        "phones": ["+442079460018"], "company": "Acme", "timezone": "Europe/London",
        "country": "GB", "language": "en", "source": source_named(project, "Manual").pk,
        "stage": stage_named(project, "New").pk, "status": "NOT_CONTACTED", "owner": agent.pk,
        "original_owner": agent.pk, "tags": [], "retired": False, "custom": {}, "utm": {},
        "claimed_by": None, "claimed_until": None,
    }
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert abs(created_at - lead.created_at) < timedelta(milliseconds=1)
    assert events_of(lead.pk) == [(
        TimelineKind.LEAD_CREATED, agent.pk, "api", None,
        {"name": "Ann Lee", "email": "Ann@example.com", "phones": ["+442079460018"],
         "company": "Acme", "source": "Manual", "pool": "Default", "stage": "New",
         "owner": agent.email},
    )]


def test_create_with_a_source(client):
    project = make_project()
    manager = make_user(project, "manager")
    website = source_named(project, "Website")

    response = send(client, "post", "/api/v1/leads", manager,
                    {"name": "Ann", "email": "ann@example.com", "source": website.pk})

    assert (response.status_code, response.json()["source"]) == (201, website.pk)


def test_create_with_a_source_of_an_invisible_project_is_404(client):
    project = make_project()
    manager = make_user(project, "manager")
    foreign = source_named(make_project(), "Website")

    response = send(client, "post", "/api/v1/leads", manager,
                    {"name": "Ann", "email": "ann@example.com", "source": foreign.pk})

    assert response.status_code == 404
    assert not Lead.objects.exists()


def test_phone_and_phones_are_combined(client):
    project = make_project(default_region="US")
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent, {
        "name": "Ann", "phone": "212 555 0100", "phones": ["212 555 0101"]})

    assert response.json()["phones"] == ["+12125550100", "+12125550101"]


def test_field_errors_have_the_contract_shape(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent,
                    {"name": "", "email": "nope", "phones": ["1", "2", "3", "4", "5", "6"]})

    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"detail", "errors"}
    assert isinstance(body["detail"], str) and body["detail"]
    assert sorted(error_codes(response)) == [("email", "invalid_email"), ("name", "required"),
                                             ("phones", "too_many")]
    assert all(set(e) == {"field", "code", "message"} for e in body["errors"])
    assert not Lead.objects.exists()


def test_unknown_field_is_400_unknown_field(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent,
                    {"name": "Ann", "email": "ann@example.com", "favourite_colour": "red"})

    assert response.status_code == 400
    assert error_codes(response) == [("favourite_colour", "unknown_field")]
    assert isinstance(response.json()["detail"], str)
    assert not Lead.objects.exists()


def test_bad_json_is_400(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent, raw='{"name": "Ann",')

    assert response.status_code == 400
    assert error_codes(response) == [("body", "invalid_json")]
    assert isinstance(response.json()["detail"], str)


def test_wrong_type_is_400(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent,
                    {"name": ["Ann"], "email": "ann@example.com", "phones": "212 555 0100"})

    assert response.status_code == 400
    assert sorted(error_codes(response)) == [("name", "invalid"), ("phones", "invalid")]


def test_a_json_array_body_is_400(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent, [{"name": "Ann"}])

    assert response.status_code == 400
    assert set(response.json()) >= {"detail", "errors"}


def test_body_over_one_megabyte_is_413(client):
    project = make_project()
    agent = make_user(project, "agent")
    big = json.dumps({"name": "Ann", "email": "ann@example.com", "company": "x" * (1024 * 1024)})

    response = send(client, "post", "/api/v1/leads", agent, raw=big)

    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_project_is_required_when_the_caller_has_several(client):
    first, second = make_project(), make_project()
    user = make_user(first, "agent")
    from leadflow.accounts.services import set_membership
    from tests.factories import SYSTEM

    set_membership(user, second, "agent", actor=SYSTEM)

    response = send(client, "post", "/api/v1/leads", user,
                    {"name": "Ann", "email": "ann@example.com"})

    assert response.status_code == 400
    assert error_codes(response) == [("project", "required")]
    response = send(client, "post", "/api/v1/leads", user,
                    {"project": second.pk, "name": "Ann", "email": "ann@example.com"})
    assert (response.status_code, response.json()["project"]) == (201, second.pk)


def test_project_of_which_the_caller_is_not_a_member_is_404(client):
    project = make_project()
    agent = make_user(project, "agent")
    foreign = make_project()

    response = send(client, "post", "/api/v1/leads", agent,
                    {"project": foreign.pk, "name": "Ann", "email": "ann@example.com"})

    assert response.status_code == 404
    assert not Lead.objects.exists()


def test_duplicate_is_409_with_duplicate_of(client):
    project = make_project()
    agent = make_user(project, "agent")
    first = make_lead(project, email="ann@example.com")

    response = send(client, "post", "/api/v1/leads", agent,
                    {"name": "Ann", "email": "ANN@example.com"})

    assert response.status_code == 409
    body = response.json()
    assert body["duplicate_of"] == first.pk
    assert isinstance(body["detail"], str)
    assert Lead.objects.count() == 1


def test_merge_answers_200_with_the_surviving_lead(client):
    project = make_project()
    manager = make_user(project, "manager")
    first = make_lead(project, email="ann@example.com", company=None)

    response = send(client, "post", "/api/v1/leads", manager, {
        "name": "Ann", "email": "ann@example.com", "company": "Acme", "on_duplicate": "merge"})

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["company"]) == (first.pk, "Acme")
    assert Lead.objects.count() == 1


def test_keep_both_answers_201_with_a_second_lead(client):
    project = make_project()
    manager = make_user(project, "manager")
    first = make_lead(project, email="ann@example.com")

    response = send(client, "post", "/api/v1/leads", manager, {
        "name": "Ann", "email": "ann@example.com", "on_duplicate": "keep_both"})

    assert response.status_code == 201
    assert response.json()["id"] != first.pk
    assert Lead.objects.count() == 2


def test_unknown_on_duplicate_choice_is_400(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = send(client, "post", "/api/v1/leads", manager, {
        "name": "Ann", "email": "ann@example.com", "on_duplicate": "replace"})

    assert response.status_code == 400
    assert error_codes(response) == [("on_duplicate", "invalid")]


def test_agent_choosing_an_owner_is_403(client):
    w = World()

    response = send(client, "post", "/api/v1/leads", w.agent,
                    {"name": "Ann", "email": "ann@example.com", "owner": w.other_agent.pk})

    assert response.status_code == 403
    assert Lead.objects.count() == 2


def test_manager_choosing_an_owner_outside_the_pool_is_400_not_in_pool(client):
    w = World()

    response = send(client, "post", "/api/v1/leads", w.manager,
                    {"name": "Ann", "email": "ann@example.com", "owner": w.outsider.pk})

    assert response.status_code == 400
    assert error_codes(response) == [("owner", "not_in_pool")]


def test_manager_choosing_an_unknown_owner_is_400(client):
    w = World()

    response = send(client, "post", "/api/v1/leads", w.manager,
                    {"name": "Ann", "email": "ann@example.com", "owner": 999999})

    assert response.status_code == 400
    assert error_codes(response) == [("owner", "invalid")]


# --- read --------------------------------------------------------------------------------------


def test_get_a_visible_lead(client):
    w = World()

    response = send(client, "get", f"/api/v1/leads/{w.own_lead.pk}", w.agent)

    assert response.status_code == 200
    assert response.json()["id"] == w.own_lead.pk


def test_invisible_lead_answers_exactly_like_a_missing_one(client):
    w = World()

    invisible = send(client, "get", f"/api/v1/leads/{w.other_lead.pk}", w.agent)
    missing = send(client, "get", "/api/v1/leads/999999", w.agent)

    assert (invisible.status_code, missing.status_code) == (404, 404)
    assert invisible.json() == missing.json()


def test_lead_id_that_is_not_a_number_is_400(client):
    w = World()

    response = send(client, "get", "/api/v1/leads/abc", w.agent)

    assert response.status_code == 400
    assert error_codes(response) == [("lead_id", "invalid")]


# --- patch -------------------------------------------------------------------------------------


def test_patch_changes_contact_fields(client):
    w = World(region="US")

    response = send(client, "patch", f"/api/v1/leads/{w.own_lead.pk}", w.agent,
                    {"name": "New Name", "phone": "212 555 0100"})

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["phones"]) == ("New Name",
                                                                    ["+12125550100"])
    assert events_of(w.own_lead.pk)[-1] == (
        TimelineKind.LEAD_UPDATED, w.agent.pk, "api",
        {"name": w.own_lead.name, "phones": []},
        {"name": "New Name", "phones": ["+12125550100"]},
    )


def test_patch_refuses_owner_stage_and_tags(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    for field, value in (("owner", w.agent.pk), ("stage", 1), ("tags", ["vip"])):
        response = send(client, "patch", f"/api/v1/leads/{w.own_lead.pk}", w.manager,
                        {field: value})
        assert response.status_code == 400, field
        assert error_codes(response) == [(field, "unknown_field")]

    assert lead_snapshot(w.own_lead.pk) == before
    assert len(events_of(w.own_lead.pk)) == 1


def test_patch_refuses_source_and_project_as_immutable(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    for field in ("source", "project"):
        response = send(client, "patch", f"/api/v1/leads/{w.own_lead.pk}", w.manager,
                        {field: 1, "name": "Changed"})
        assert response.status_code == 400, field
        assert error_codes(response) == [(field, "immutable")]

    assert lead_snapshot(w.own_lead.pk) == before


def test_patch_to_an_email_held_by_another_lead_is_409(client):
    w = World()

    response = send(client, "patch", f"/api/v1/leads/{w.own_lead.pk}", w.manager,
                    {"email": w.other_lead.email.upper()})

    assert response.status_code == 409
    assert response.json()["duplicate_of"] == w.other_lead.pk


def test_object_refusal_comes_before_field_errors(client):
    w = World()

    hidden = send(client, "patch", f"/api/v1/leads/{w.other_lead.pk}", w.agent,
                  {"email": "not an email"})
    forbidden = send(client, "patch", f"/api/v1/leads/{w.other_lead.pk}", w.viewer,
                     {"email": "not an email"})

    assert (hidden.status_code, forbidden.status_code) == (404, 403)


def test_patch_with_an_empty_body_changes_nothing(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    response = send(client, "patch", f"/api/v1/leads/{w.own_lead.pk}", w.agent, {})

    assert response.status_code == 200
    assert lead_snapshot(w.own_lead.pk) == before
    assert len(events_of(w.own_lead.pk)) == 1


# --- delete ------------------------------------------------------------------------------------


def test_manager_deletes_a_lead_204(client):
    w = World()

    response = send(client, "delete", f"/api/v1/leads/{w.own_lead.pk}", w.manager)

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=w.own_lead.pk).exists()
    assert TimelineEvent.objects.get(lead_id=w.own_lead.pk,
                                     kind=TimelineKind.LEAD_DELETED).actor_id == w.manager.pk
    assert send(client, "get", f"/api/v1/leads/{w.own_lead.pk}", w.manager).status_code == 404


def test_agent_deleting_their_own_lead_is_403(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    response = send(client, "delete", f"/api/v1/leads/{w.own_lead.pk}", w.agent)

    assert response.status_code == 403
    assert lead_snapshot(w.own_lead.pk) == before
    assert len(events_of(w.own_lead.pk)) == 1


# --- stage -------------------------------------------------------------------------------------


def test_stage_route_moves_the_lead(client):
    w = World()
    qualified = stage_named(w.project, "Qualified")

    response = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
                    {"stage": qualified.pk, "reason": "Budget confirmed"})

    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["status"]) == (qualified.pk, "QUALIFIED")
    event = TimelineEvent.objects.get(lead_id=w.own_lead.pk, kind=TimelineKind.STAGE_CHANGED)
    assert (event.actor_id, event.channel, event.reason) == (w.agent.pk, "api",
                                                             "Budget confirmed")


def test_stage_route_lost_without_reason_is_400(client):
    w = World()

    response = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
                    {"stage": stage_named(w.project, "Lost").pk})

    assert response.status_code == 400
    assert error_codes(response) == [("lost_reason", "required")]


def test_stage_route_backwards_by_agent_is_403(client):
    w = World()
    send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
         {"stage": stage_named(w.project, "Qualified").pk})

    response = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
                    {"stage": stage_named(w.project, "New").pk})

    assert response.status_code == 403
    assert Lead.objects.get(pk=w.own_lead.pk).status == "QUALIFIED"
    assert len(events_of(w.own_lead.pk)) == 2


def test_stage_route_with_a_stage_of_another_project_is_400(client):
    w = World()
    foreign_visible = stage_named(w.other_project, "Contacted")

    by_admin = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.admin,
                    {"stage": foreign_visible.pk})
    by_agent = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
                    {"stage": foreign_visible.pk})
    missing = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
                   {"stage": 999999})

    assert [r.status_code for r in (by_admin, by_agent, missing)] == [400, 400, 400]
    assert [error_codes(r) for r in (by_admin, by_agent, missing)] == [[("stage", "invalid")]] * 3
    assert len(events_of(w.own_lead.pk)) == 1


# --- timeline ----------------------------------------------------------------------------------


def test_timeline_route_newest_first_with_cursor(client):
    w = World()
    lead = w.own_lead
    start = datetime.fromisoformat("2030-01-01T09:00:00+00:00")
    with time_machine.travel(start, tick=False) as traveller:
        for name in ("Contacted", "Qualified", "Converted"):
            traveller.shift(timedelta(minutes=1))
            send(client, "post", f"/api/v1/leads/{lead.pk}/stage", w.agent,
                 {"stage": stage_named(w.project, name).pk})

    first = send(client, "get", f"/api/v1/leads/{lead.pk}/timeline?limit=2", w.agent).json()
    second = send(client, "get", f"/api/v1/leads/{lead.pk}/timeline?limit=2&cursor="
                  f"{first['next_cursor']}", w.agent).json()

    items = first["items"] + second["items"]
    assert [(e["kind"], e["after"].get("stage")) for e in items] == [
        ("STAGE_CHANGED", "Converted"), ("STAGE_CHANGED", "Qualified"),
        ("STAGE_CHANGED", "Contacted"), ("LEAD_CREATED", "New")]
    assert second["next_cursor"] is None
    newest = items[0]
    assert set(newest) == {"id", "occurred_at", "kind", "actor", "channel", "before", "after",
                           "reason", "batch_id"}
    assert newest["actor"] == {"id": w.agent.pk, "email": w.agent.email}
    assert datetime.fromisoformat(newest["occurred_at"]) == datetime.fromisoformat(
        "2030-01-01T09:03:00+00:00")
    assert (newest["channel"], newest["batch_id"]) == ("api", None)


def test_system_events_have_no_actor(client):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project)

    response = send(client, "get", f"/api/v1/leads/{lead.pk}/timeline", manager)

    assert response.json()["items"][0]["actor"] is None
    assert response.json()["items"][0]["channel"] == "cli"


def test_timeline_of_an_invisible_lead_is_404(client):
    w = World()

    response = send(client, "get", f"/api/v1/leads/{w.other_lead.pk}/timeline", w.agent)

    assert response.status_code == 404


def test_timeline_invalid_cursor_is_400(client):
    w = World()

    response = send(client, "get", f"/api/v1/leads/{w.own_lead.pk}/timeline?cursor=zz", w.agent)

    assert response.status_code == 400
    assert error_codes(response) == [("cursor", "invalid")]


def test_timeline_of_a_merged_lead_reads_through_merged_into(client):
    project = make_project()
    manager = make_user(project, "manager")
    survivor, merged_away = make_lead(project), make_lead(project)
    Lead.objects.filter(pk=merged_away.pk).update(merged_into=survivor)

    response = send(client, "get", f"/api/v1/leads/{survivor.pk}/timeline", manager)

    assert sorted(e["id"] for e in response.json()["items"]) == sorted(
        TimelineEvent.objects.filter(lead_id__in=[survivor.pk, merged_away.pk])
        .values_list("id", flat=True))
    assert send(client, "get", f"/api/v1/leads/{merged_away.pk}", manager).status_code == 404


# --- documentation -----------------------------------------------------------------------------


def test_openapi_schema_is_served(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Leadflow API"
    assert "/api/v1/leads" in schema["paths"]
    assert "/api/v1/leads/{lead_id}/timeline" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"BearerAuth", "SessionAuth"}


def test_api_docs_are_served(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert b"/api/openapi.json" in response.content


def test_session_callers_use_the_ui_channel(client):
    w = World()
    client.force_login(w.agent)

    response = client.patch(f"/api/v1/leads/{w.own_lead.pk}", data=json.dumps({"name": "Via UI"}),
                            content_type="application/json")

    assert response.status_code == 200
    assert events_of(w.own_lead.pk)[-1][2] == "ui"


def test_a_nul_character_in_a_text_field_is_400(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = send(client, "post", "/api/v1/leads", agent,
                    {"name": "Ann\x00Lee", "email": "ann@example.com", "company": "\x00"})

    assert response.status_code == 400
    assert sorted(error_codes(response)) == [("company", "invalid"), ("name", "invalid")]
    assert not Lead.objects.exists()


def test_session_writes_need_the_csrf_token():
    from django.test import Client

    w = World()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(w.agent)
    before = lead_snapshot(w.own_lead.pk)

    response = browser.patch(f"/api/v1/leads/{w.own_lead.pk}",
                             data=json.dumps({"name": "Forged"}),
                             content_type="application/json")

    assert response.status_code == 403
    assert lead_snapshot(w.own_lead.pk) == before
    assert len(events_of(w.own_lead.pk)) == 1


def test_bearer_writes_need_no_csrf_token():
    from django.test import Client

    w = World()
    integration = Client(enforce_csrf_checks=True)

    response = send(integration, "patch", f"/api/v1/leads/{w.own_lead.pk}", w.agent,
                    {"name": "Scripted"})

    assert response.status_code == 200


def test_timeline_query_count_does_not_grow_with_events(client, django_assert_max_num_queries):
    w = World()
    for name in ("Contacted", "Qualified", "Converted"):
        send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent,
             {"stage": stage_named(w.project, name).pk})
    headers = auth(w.agent)
    client.get("/api/v1/users/me", **headers)

    with django_assert_max_num_queries(5):
        response = client.get(f"/api/v1/leads/{w.own_lead.pk}/timeline", **headers)

    assert len(response.json()["items"]) == 4


def test_lead_page_query_count(client, django_assert_max_num_queries):
    w = World()
    headers = auth(w.agent)
    client.get("/api/v1/users/me", **headers)

    # The lead, its tags, and the caller's memberships.
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/v1/leads/{w.own_lead.pk}", **headers)

    assert response.status_code == 200
