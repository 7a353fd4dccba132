"""The clients API (DESIGN §4): convert, conversion candidates, list, read, edit, timeline;
allowed and refused roles for each route."""

import json

import pytest

from leadflow.clients.models import Client
from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineKind
from tests.factories import World, as_actor, auth, client_events, convert, make_lead

CLIENT_KEYS = {"id", "project", "name", "email", "phones", "company", "owner", "source",
               "bucket_label", "affiliate_id", "leads", "created_at", "updated_at"}


def send(client, method, path, user=None, body=None):
    headers = auth(user) if user is not None else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **headers)


# --- convert -----------------------------------------------------------------------------------


def test_convert_answers_201_with_the_client_and_the_lead_then_200_with_the_same(client):
    w = World()

    first = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/convert", w.agent, {})
    again = client.post(f"/api/v1/leads/{w.own_lead.pk}/convert", data=b"",
                        content_type="application/json", **auth(w.agent))

    assert first.status_code == 201
    body = first.json()
    assert set(body["client"]) == CLIENT_KEYS
    assert body["client"]["leads"] == [w.own_lead.pk]
    assert body["client"]["owner"] == w.agent.pk
    assert body["lead"]["status"] == "CONVERTED"
    assert body["lead"]["client"] == body["client"]["id"]
    assert again.status_code == 200
    assert again.json()["client"]["id"] == body["client"]["id"]
    assert Client.objects.count() == 1


def test_convert_merges_into_a_given_client(client):
    w = World()
    existing = convert(w.other_lead)

    response = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/convert", w.manager,
                    {"client": existing.pk})

    assert response.status_code == 201
    assert response.json()["client"]["id"] == existing.pk
    assert sorted(response.json()["client"]["leads"]) == sorted([w.own_lead.pk, w.other_lead.pk])


@pytest.mark.parametrize("who, which, status", [
    ("agent", "own", 201),
    ("manager", "other", 201),
    ("admin", "own", 201),
    ("agent", "other", 404),  # another agent's lead is not visible to an agent
    ("viewer", "own", 403),  # view_all sees it; converting is the owner's or a manager's
    ("outsider", "own", 404),
    ("foreign_manager", "own", 404),
    ("anonymous", "own", 401),
])
def test_convert_matrix(client, who, which, status):
    w = World()

    response = send(client, "post", f"/api/v1/leads/{w.lead(which).pk}/convert", w.user(who), {})

    assert response.status_code == status
    assert Client.objects.exists() == (status == 201)


def test_convert_refuses_lost_leads_unknown_clients_and_unknown_fields(client):
    w = World()
    lost = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/stage", w.agent, {
        "stage": w.project.stages.get(status="LOST").pk, "lost_reason": "No budget"})
    assert lost.status_code == 200

    refused = send(client, "post", f"/api/v1/leads/{w.own_lead.pk}/convert", w.manager, {})
    unknown = send(client, "post", f"/api/v1/leads/{w.other_lead.pk}/convert", w.manager,
                   {"client": 999999})
    extra = send(client, "post", f"/api/v1/leads/{w.other_lead.pk}/convert", w.manager,
                 {"clients": 1})

    assert refused.status_code == 409
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "client"
    assert extra.status_code == 400
    assert not Client.objects.exists()


def test_conversion_candidates_name_the_client_a_lead_matches(client):
    w = World()
    existing = convert(w.other_lead)
    again = send(client, "post", "/api/v1/leads", w.manager, {
        "project": w.project.pk, "name": "Again", "email": w.other_lead.email,
        "on_duplicate": "keep_both"}).json()

    response = send(client, "get", f"/api/v1/leads/{again['id']}/convert", w.manager)
    none = send(client, "get", f"/api/v1/leads/{w.own_lead.pk}/convert", w.agent)

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["candidates"]] == [existing.pk]
    assert none.json() == {"candidates": []}


# --- list, read, edit, timeline ----------------------------------------------------------------


def test_agents_list_their_clients_and_managers_all_of_their_projects(client):
    w = World()
    mine = convert(w.own_lead)
    theirs = convert(w.other_lead)
    convert(make_lead(w.other_project))

    def ids(user):
        response = send(client, "get", "/api/v1/clients", user)
        assert response.status_code == 200
        return [c["id"] for c in response.json()["items"]]

    assert ids(w.agent) == [mine.pk]
    assert ids(w.manager) == [theirs.pk, mine.pk]
    assert ids(w.viewer) == [theirs.pk, mine.pk]
    assert ids(w.outsider) == []
    assert send(client, "get", "/api/v1/clients").status_code == 401


def test_clients_list_pages_and_searches_by_name_and_email(client):
    w = World()
    ada = convert(make_lead(w.project, name="Ada Lovelace", email="ada@engines.example.com"))
    grace = convert(make_lead(w.project, name="Grace Hopper", email="grace@navy.example.com"))
    convert(make_lead(w.project, name="Alan Turing", email="alan@bletchley.example.com"))

    first = send(client, "get", "/api/v1/clients?limit=2", w.manager).json()
    second = send(client, "get", f"/api/v1/clients?limit=2&cursor={first['next_cursor']}",
                  w.manager).json()
    by_name = send(client, "get", "/api/v1/clients?q=hop", w.manager).json()
    by_email = send(client, "get", "/api/v1/clients?q=ADA@eng", w.manager).json()
    bad = send(client, "get", "/api/v1/clients?limit=500", w.manager)

    assert len(first["items"]) == 2 and second["next_cursor"] is None
    assert len({c["id"] for c in first["items"] + second["items"]}) == 3
    assert [c["id"] for c in by_name["items"]] == [grace.pk]
    assert [c["id"] for c in by_email["items"]] == [ada.pk]
    assert bad.status_code == 400


@pytest.mark.parametrize("who, status", [
    ("agent", 200), ("manager", 200), ("viewer", 200), ("admin", 200),
    ("other_agent", 404), ("outsider", 404), ("foreign_manager", 404), ("anonymous", 401),
])
def test_read_client_matrix(client, who, status):
    w = World()
    mine = convert(w.own_lead)

    response = send(client, "get", f"/api/v1/clients/{mine.pk}", w.user(who))
    timeline = send(client, "get", f"/api/v1/clients/{mine.pk}/timeline", w.user(who))

    assert response.status_code == status
    assert timeline.status_code == status
    if status == 200:
        assert set(response.json()) == CLIENT_KEYS
        assert [e["kind"] for e in timeline.json()["items"]] == [TimelineKind.CLIENT_CREATED]


@pytest.mark.parametrize("who, status", [
    ("agent", 200), ("manager", 200), ("viewer", 403), ("other_agent", 404),
])
def test_edit_client_contact_matrix(client, who, status):
    w = World()
    mine = convert(w.own_lead)

    response = send(client, "patch", f"/api/v1/clients/{mine.pk}", w.user(who),
                    {"company": "Analytical Engines", "phone": "+1 202 555 0199"})

    assert response.status_code == status
    mine.refresh_from_db()
    if status == 200:
        assert (mine.company, mine.phones) == ("Analytical Engines", ["+12025550199"])
        kind, actor, _channel, before, after = client_events(mine.pk)[-1]
        assert (kind, actor) == (TimelineKind.CLIENT_UPDATED, w.user(who).pk)
        assert before == {"company": "", "phones": []}
        assert after == {"company": "Analytical Engines", "phones": ["+12025550199"]}
    else:
        assert mine.company == ""


@pytest.mark.parametrize("who, status", [("manager", 200), ("admin", 200), ("agent", 403)])
def test_only_managers_change_a_clients_owner(client, who, status):
    w = World()
    mine = convert(w.own_lead)

    response = send(client, "patch", f"/api/v1/clients/{mine.pk}", w.user(who),
                    {"owner": w.other_agent.pk})

    assert response.status_code == status
    mine.refresh_from_db()
    assert mine.owner_id == (w.other_agent.pk if status == 200 else w.agent.pk)
    if status == 200:
        assert client_events(mine.pk)[-1][0] == TimelineKind.CLIENT_OWNER_CHANGED
        assert client_events(mine.pk)[-1][3:] == ({"owner": w.agent.email},
                                                  {"owner": w.other_agent.email})


def test_edit_refuses_bad_values_source_and_strangers_as_owner(client):
    w = World()
    mine = convert(w.own_lead)
    before = Client.objects.filter(pk=mine.pk).values().get()

    bad_email = send(client, "patch", f"/api/v1/clients/{mine.pk}", w.manager,
                     {"email": "not an email", "name": "X"})
    source = send(client, "patch", f"/api/v1/clients/{mine.pk}", w.manager, {"source": 1})
    stranger = send(client, "patch", f"/api/v1/clients/{mine.pk}", w.manager,
                    {"owner": w.outsider.pk, "name": "Renamed"})
    long_name = send(client, "patch", f"/api/v1/clients/{mine.pk}", w.manager,
                     {"name": "x" * 201})

    assert [r.status_code for r in (bad_email, source, stranger, long_name)] == [400] * 4
    assert source.json()["errors"][0]["code"] == "immutable"
    assert stranger.json()["errors"][0] == {
        "field": "owner", "code": "not_member", "message": stranger.json()["errors"][0]["message"]}
    assert Client.objects.filter(pk=mine.pk).values().get() == before


def test_a_lead_answers_its_client(client):
    w = World()
    mine = convert(w.own_lead, actor=as_actor(w.agent))

    body = send(client, "get", f"/api/v1/leads/{w.own_lead.pk}", w.agent).json()

    assert body["client"] == mine.pk
    assert Lead.objects.get(pk=w.own_lead.pk).client_id == mine.pk


@pytest.mark.parametrize("who, status", [
    ("agent", 200), ("viewer", 200), ("manager", 200), ("other_agent", 404), ("outsider", 404),
    ("anonymous", 401),
])
def test_conversion_candidates_matrix(client, who, status):
    w = World()

    response = send(client, "get", f"/api/v1/leads/{w.own_lead.pk}/convert", w.user(who))

    assert response.status_code == status
