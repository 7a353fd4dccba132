"""The tag routes: `/tags`, `/tag-rules`, `/leads/{id}/tags`, `/change-requests`, the lead's
`tags` and the `tag` filter, and the bulk action `tag` — each for an allowed and a refused
role, with nothing changed and nothing recorded on refusal."""

import json

import pytest

from leadflow.tags.models import ChangeRequest, LeadTag, Tag, TagRule
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, auth, event_count, make_lead
from tests.tags.helpers import make_tag, make_tag_rule, tag_names_of


def send(client, method, path, user, body=None):
    headers = auth(user) if user is not None else {}
    kwargs = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)(f"/api/v1{path}", **kwargs, **headers)


@pytest.fixture
def w():
    world = World()
    world.hot = make_tag(world.project, "Hot")
    world.vip = make_tag(world.project, "VIP", modifiable=False)
    return world


# --- POST /leads/{id}/tags ----------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "who", "which", "body", "status"), [
    ("anonymous", "anonymous", "own", {"add": ["Hot"]}, 401),
    ("owner, modifiable", "agent", "own", {"add": ["Hot"]}, 200),
    ("owner, non-modifiable", "agent", "own", {"add": ["VIP"]}, 202),
    ("agent, someone else's lead", "agent", "other", {"add": ["Hot"]}, 404),
    ("agent with view_all, someone else's lead", "viewer", "other", {"add": ["Hot"]}, 403),
    ("manager, non-modifiable", "manager", "other", {"add": ["VIP"]}, 200),
    ("admin", "admin", "other", {"add": ["VIP"]}, 200),
    ("member of another project", "outsider", "own", {"add": ["Hot"]}, 404),
    ("manager of another project", "foreign_manager", "own", {"add": ["Hot"]}, 404),
])
def test_lead_tags_permissions(client, w, _case, who, which, body, status):
    lead = w.lead(which)
    before = event_count()

    response = send(client, "post", f"/api/v1/leads/{lead.pk}/tags".removeprefix("/api/v1"),
                    w.user(who), body)

    assert response.status_code == status
    if status == 200:
        assert response.json()["tags"] == body["add"]
    elif status == 202:
        request = ChangeRequest.objects.get()
        assert response.json() == {"change_request": request.pk,
                                   "change_requests": [request.pk]}
        assert tag_names_of(lead) == []
    else:
        assert event_count() == before
        assert not LeadTag.objects.exists() and not ChangeRequest.objects.exists()


def test_modifiable_tags_of_a_waiting_call_are_applied(client, w):
    response = send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.agent,
                    {"add": ["VIP", "Hot"]})
    assert response.status_code == 202
    lead = send(client, "get", f"/leads/{w.own_lead.pk}", w.agent).json()
    assert lead["tags"] == ["Hot"]


def test_unknown_tag_is_400_and_body_is_strict(client, w):
    response = send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.manager,
                    {"add": ["Hot", "Nope"]})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "add", "code": "unknown_tag", "message": "No tag 'Nope' in this project."}]
    assert tag_names_of(w.own_lead) == []
    response = send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.manager,
                    {"add": ["Hot"], "tags": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_field"
    response = send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.manager, {})
    assert response.status_code == 400


def test_refusal_comes_before_field_errors(client, w):
    response = send(client, "post", f"/leads/{w.other_lead.pk}/tags", w.viewer,
                    {"add": ["Nope"]})
    assert response.status_code == 403


def test_patch_still_refuses_tags(client, w):
    response = send(client, "patch", f"/leads/{w.own_lead.pk}", w.manager, {"tags": ["Hot"]})
    assert response.status_code == 400


# --- lead output and the `tag` filter ---------------------------------------------------------


def test_tag_filter_finds_tagged_leads_whatever_the_case(client, w):
    send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.manager, {"add": ["Hot"]})
    make_lead(w.project)

    items = send(client, "get", "/leads?tag=hot", w.manager).json()["items"]

    assert [(i["id"], i["tags"]) for i in items] == [(w.own_lead.pk, ["Hot"])]
    assert send(client, "get", "/leads?tag=nothing", w.manager).json()["items"] == []
    # The filter never widens what an agent sees.
    send(client, "post", f"/leads/{w.other_lead.pk}/tags", w.manager, {"add": ["Hot"]})
    agent_items = send(client, "get", "/leads?tag=Hot", w.agent).json()["items"]
    assert [i["id"] for i in agent_items] == [w.own_lead.pk]


def test_lead_list_reads_tags_in_one_query(client, w, django_assert_max_num_queries):
    for _ in range(5):
        lead = make_lead(w.project)
        send(client, "post", f"/leads/{lead.pk}/tags", w.manager, {"add": ["Hot", "VIP"]})
    headers = auth(w.manager)
    client.get("/api/v1/users/me", **headers)

    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/leads", **headers)

    tags = [i["tags"] for i in response.json()["items"]]
    assert tags.count(["Hot", "VIP"]) == 5


# --- /tags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "who", "status"), [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("manager", "manager", 201),
    ("admin", "admin", 201),
    ("manager of another project", "foreign_manager", 404),
])
def test_create_tag_permissions(client, w, _case, who, status):
    response = send(client, "post", "/tags", w.user(who),
                    {"project": w.project.pk, "name": "Callback", "is_modifiable": False})
    assert response.status_code == status
    assert Tag.objects.filter(name="Callback").exists() == (status == 201)
    if status == 201:
        body = response.json()
        assert body == {"id": body["id"], "project": w.project.pk, "name": "Callback",
                        "is_modifiable": False}


def test_tags_are_listed_to_members_of_their_project(client, w):
    make_tag(w.other_project, "Elsewhere")
    names = [t["name"] for t in send(client, "get", "/tags", w.agent).json()]
    assert names == ["Hot", "VIP"]
    assert send(client, "get", f"/tags/{w.hot.pk}", w.outsider).status_code == 404


def test_tag_update_conflict_and_delete(client, w):
    response = send(client, "patch", f"/tags/{w.hot.pk}", w.manager, {"name": "vip"})
    assert response.status_code == 409
    response = send(client, "patch", f"/tags/{w.hot.pk}", w.manager,
                    {"name": "Warm", "is_modifiable": False})
    assert response.json() == {"id": w.hot.pk, "project": w.project.pk, "name": "Warm",
                               "is_modifiable": False}
    assert send(client, "patch", f"/tags/{w.hot.pk}", w.agent, {"name": "x"}).status_code == 403
    send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.manager, {"add": ["Warm"]})
    assert send(client, "delete", f"/tags/{w.hot.pk}", w.manager).status_code == 409
    assert send(client, "delete", f"/tags/{w.vip.pk}", w.agent).status_code == 403
    assert send(client, "delete", f"/tags/{w.vip.pk}", w.manager).status_code == 204


# --- /tag-rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "who", "status"), [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("manager", "manager", 201),
    ("manager of another project", "foreign_manager", 400),
])
def test_create_tag_rule_permissions(client, w, _case, who, status):
    response = send(client, "post", "/tag-rules", w.user(who),
                    {"tag": w.hot.pk, "action": "notify", "notify_managers": True})
    assert response.status_code == status
    assert TagRule.objects.exists() == (status == 201)
    if status == 201:
        body = response.json()
        assert body == {"id": body["id"], "project": w.project.pk, "tag": w.hot.pk,
                        "action": "notify", "notify_owner": False, "notify_managers": True,
                        "notify_users": [], "message": "", "active": True}


def test_tag_rules_read_update_delete(client, w):
    rule = make_tag_rule(w.project, w.hot, "unassign")
    assert [r["id"] for r in send(client, "get", "/tag-rules", w.manager).json()] == [rule.pk]
    assert send(client, "get", "/tag-rules", w.agent).status_code == 403
    assert send(client, "get", f"/tag-rules/{rule.pk}", w.foreign_manager).status_code == 404
    response = send(client, "patch", f"/tag-rules/{rule.pk}", w.manager,
                    {"action": "retire", "active": False})
    assert (response.json()["action"], response.json()["active"]) == ("retire", False)
    response = send(client, "patch", f"/tag-rules/{rule.pk}", w.manager, {"action": "explode"})
    assert response.status_code == 400
    assert send(client, "delete", f"/tag-rules/{rule.pk}", w.agent).status_code == 403
    assert send(client, "delete", f"/tag-rules/{rule.pk}", w.manager).status_code == 204
    assert not TagRule.objects.exists()


def test_a_rule_set_off_through_the_api_is_on_the_timeline(client, w):
    rule = make_tag_rule(w.project, w.hot, "unassign")
    response = send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.agent, {"add": ["Hot"]})
    assert response.status_code == 200
    assert response.json()["owner"] is None
    events = send(client, "get", f"/leads/{w.own_lead.pk}/timeline", w.manager).json()["items"]
    assert [e["kind"] for e in events[:3]] == ["LEAD_UNASSIGNED", "TAG_RULE_APPLIED",
                                               "TAG_ADDED"]
    assert events[1]["after"]["rule"] == rule.pk
    assert events[1]["actor"] is None


# --- /change-requests -------------------------------------------------------------------------


def ask(client, w):
    return send(client, "post", f"/leads/{w.own_lead.pk}/tags", w.agent,
                {"add": ["VIP"]}).json()["change_request"]


def test_managers_list_pending_requests_and_agents_their_own(client, w):
    pk = ask(client, w)
    items = send(client, "get", "/change-requests", w.manager).json()["items"]
    assert [(i["id"], i["state"], i["tag_name"], i["requested_by"]) for i in items] == [
        (pk, "pending", "VIP", w.agent.pk)]
    assert [i["id"] for i in send(client, "get", "/change-requests", w.agent).json()["items"]
            ] == [pk]
    assert send(client, "get", "/change-requests", w.other_agent).json()["items"] == []
    assert send(client, "get", "/change-requests", w.foreign_manager).json()["items"] == []
    assert send(client, "get", "/change-requests?state=approved", w.manager
                ).json()["items"] == []
    assert send(client, "get", "/change-requests?state=bogus", w.manager).status_code == 400


@pytest.mark.parametrize(("_case", "who", "status"), [
    ("anonymous", "anonymous", 401),
    ("the requesting agent", "agent", 403),
    ("another agent", "other_agent", 404),
    ("manager", "manager", 200),
    ("admin", "admin", 200),
    ("manager of another project", "foreign_manager", 404),
])
def test_approve_permissions(client, w, _case, who, status):
    pk = ask(client, w)
    before = event_count()

    response = send(client, "post", f"/change-requests/{pk}/approve", w.user(who))

    assert response.status_code == status
    if status == 200:
        assert (response.json()["state"], response.json()["decided_by"]) == (
            "approved", w.user(who).pk)
        assert tag_names_of(w.own_lead) == ["VIP"]
    else:
        assert ChangeRequest.objects.get().state == "pending"
        assert event_count() == before


def test_reject_needs_a_reason_and_a_second_decision_is_409(client, w):
    pk = ask(client, w)
    response = send(client, "post", f"/change-requests/{pk}/reject", w.manager, {})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"
    response = send(client, "post", f"/change-requests/{pk}/reject", w.manager,
                    {"reason": "Not yet"})
    assert response.json()["state"] == "rejected"
    assert response.json()["reason"] == "Not yet"
    assert send(client, "post", f"/change-requests/{pk}/approve", w.manager).status_code == 409
    assert tag_names_of(w.own_lead) == []
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_CHANGE_REJECTED).count() == 1
    item = send(client, "get", f"/change-requests/{pk}", w.agent).json()
    assert (item["state"], item["reason"]) == ("rejected", "Not yet")


# --- bulk -------------------------------------------------------------------------------------


def test_bulk_tag_applies_directly_for_managers(client, w):
    response = send(client, "post", "/leads/bulk", w.manager, {
        "action": "tag", "ids": [w.own_lead.pk, w.other_lead.pk],
        "params": {"add": ["VIP"], "remove": ["Hot"]}})
    assert response.status_code == 200
    assert response.json() == {"done": 2, "skipped": 0, "errors": []}
    again = send(client, "post", "/leads/bulk", w.manager, {
        "action": "tag", "ids": [w.own_lead.pk], "params": {"add": ["VIP"]}})
    assert again.json() == {"done": 0, "skipped": 1, "errors": []}
    assert tag_names_of(w.other_lead) == ["VIP"]


def test_bulk_tag_refuses_agents_per_lead_and_bad_params(client, w):
    before = event_count()
    response = send(client, "post", "/leads/bulk", w.agent, {
        "action": "tag", "ids": [w.own_lead.pk], "params": {"add": ["Hot"]}})
    assert response.json()["errors"] == [{"lead": w.own_lead.pk, "code": "forbidden",
                                          "detail": "Only a manager may tag many leads at "
                                                    "once."}]
    assert event_count() == before
    for params in ({"add": ["Nope"]}, {"tags": ["Hot"]}, {}):
        response = send(client, "post", "/leads/bulk", w.manager, {
            "action": "tag", "ids": [w.own_lead.pk], "params": params})
        if response.status_code == 200:
            assert response.json()["errors"][0]["code"] == "unknown_tag"
        else:
            assert response.status_code == 400
    assert not LeadTag.objects.exists()


def test_tag_filter_refuses_nul_and_overlong_names(client, w):
    assert send(client, "get", "/leads?tag=a%00b", w.manager).status_code == 400
    assert send(client, "get", f"/leads?tag={'x' * 101}", w.manager).status_code == 400
