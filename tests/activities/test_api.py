"""`/leads/{id}/activities` and `/leads/{id}/follow-up` (DESIGN §4): allowed and refused
roles, 404 for invisible leads, validation errors and what the timeline records."""

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from leadflow.activities.models import Activity
from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, auth


def post(client, path, user, body):
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       **auth(user))


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.mark.parametrize("who,status", [
    ("agent", 201), ("manager", 201), ("admin", 201),
    ("other_agent", 404), ("viewer", 403), ("outsider", 404), ("foreign_manager", 404),
])
def test_who_may_log_an_activity(client, who, status):
    w = World()

    response = post(client, f"/api/v1/leads/{w.own_lead.pk}/activities", w.user(who),
                    {"kind": "call", "outcome": "Answered", "duration_seconds": 95,
                     "body": "Wants a demo"})

    assert response.status_code == status
    if status == 201:
        body = response.json()
        assert {k: body[k] for k in ("lead", "kind", "outcome", "duration_seconds", "body",
                                     "actor")} == {
            "lead": w.own_lead.pk, "kind": "call", "outcome": "Answered",
            "duration_seconds": 95, "body": "Wants a demo", "actor": w.user(who).pk}
        event = TimelineEvent.objects.get(lead_id=w.own_lead.pk,
                                          kind=TimelineKind.ACTIVITY_LOGGED)
        assert (event.actor_id, event.after["activity"]) == (w.user(who).pk, body["id"])
    else:
        assert not Activity.objects.exists()


@pytest.mark.parametrize("body,expected", [
    ({"kind": "call", "outcome": "Nope"}, [("outcome", "invalid")]),
    ({"kind": "call", "duration_seconds": -5}, [("duration_seconds", "out_of_range")]),
    ({"kind": "note"}, [("body", "required")]),
    ({"kind": "visit"}, [("kind", "invalid")]),
    ({"kind": "note", "body": "x", "mood": "good"}, [("mood", "unknown_field")]),
    ({}, [("kind", "required")]),
])
def test_bad_activity_bodies_are_400(client, body, expected):
    w = World()

    response = post(client, f"/api/v1/leads/{w.own_lead.pk}/activities", w.agent, body)

    assert response.status_code == 400
    assert error_codes(response) == expected
    assert not Activity.objects.exists()


def test_activities_are_listed_newest_first_in_pages(client):
    w = World()
    for text in ("first", "second", "third"):
        post(client, f"/api/v1/leads/{w.own_lead.pk}/activities", w.agent,
             {"kind": "note", "body": text})

    page = client.get(f"/api/v1/leads/{w.own_lead.pk}/activities?limit=2", **auth(w.viewer))
    rest = client.get(f"/api/v1/leads/{w.own_lead.pk}/activities?limit=2&cursor="
                      f"{page.json()['next_cursor']}", **auth(w.viewer))

    assert [a["body"] for a in page.json()["items"]] == ["third", "second"]
    assert [a["body"] for a in rest.json()["items"]] == ["first"]
    assert rest.json()["next_cursor"] is None
    hidden = client.get(f"/api/v1/leads/{w.own_lead.pk}/activities", **auth(w.other_agent))
    assert hidden.status_code == 404


@pytest.mark.parametrize("who,status", [
    ("agent", 200), ("manager", 200), ("other_agent", 404), ("viewer", 403), ("outsider", 404),
])
def test_who_may_schedule_the_next_call(client, who, status):
    w = World()
    when = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    response = post(client, f"/api/v1/leads/{w.own_lead.pk}/follow-up", w.user(who),
                    {"next_call_at": when.isoformat()})

    assert response.status_code == status
    stored = Lead.objects.get(pk=w.own_lead.pk).next_call_at
    assert stored == (when if status == 200 else None)
    if status == 200:
        assert response.json()["lead"] == w.own_lead.pk
        event = TimelineEvent.objects.get(lead_id=w.own_lead.pk, kind=TimelineKind.NEXT_CALL_SET)
        assert (event.before, event.after) == ({"next_call_at": None},
                                              {"next_call_at": when.isoformat()})


def test_follow_up_reads_clears_and_refuses_the_past(client):
    w = World()
    path = f"/api/v1/leads/{w.own_lead.pk}/follow-up"
    when = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    post(client, path, w.agent, {"next_call_at": when.isoformat()})

    past = post(client, path, w.agent,
                {"next_call_at": (timezone.now() - timedelta(hours=1)).isoformat()})
    missing = post(client, path, w.agent, {})
    extra = post(client, path, w.agent, {"next_call_at": None, "note": "x"})
    read = client.get(path, **auth(w.viewer))
    cleared = post(client, path, w.agent, {"next_call_at": None})

    assert (past.status_code, error_codes(past)) == (400, [("next_call_at", "in_past")])
    assert (missing.status_code, error_codes(missing)) == (400, [("next_call_at", "required")])
    assert (extra.status_code, error_codes(extra)) == (400, [("note", "unknown_field")])
    assert read.status_code == 200
    assert datetime.fromisoformat(read.json()["next_call_at"]) == when
    assert cleared.status_code == 200 and cleared.json()["next_call_at"] is None
    assert client.get(path, **auth(w.other_agent)).status_code == 404


def test_next_call_filter_and_ordering_see_scheduled_calls(client):
    w = World()
    soon, later = timezone.now() + timedelta(hours=1), timezone.now() + timedelta(days=3)
    post(client, f"/api/v1/leads/{w.own_lead.pk}/follow-up", w.manager,
         {"next_call_at": later.isoformat()})
    post(client, f"/api/v1/leads/{w.other_lead.pk}/follow-up", w.manager,
         {"next_call_at": soon.isoformat()})
    before = (timezone.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")

    due = client.get(f"/api/v1/leads?next_call_before={before}", **auth(w.manager))
    ordered = client.get("/api/v1/leads?ordering=next_call_at", **auth(w.manager))

    assert [lead["id"] for lead in due.json()["items"]] == [w.other_lead.pk]
    assert [lead["id"] for lead in ordered.json()["items"]] == [w.other_lead.pk, w.own_lead.pk]


def test_a_merged_leads_activities_are_read_through_the_survivor(client):
    w = World()
    post(client, f"/api/v1/leads/{w.other_lead.pk}/activities", w.other_agent,
         {"kind": "note", "body": "Met at the fair"})
    from leadflow.crm import services as crm
    from tests.factories import as_actor

    crm.merge_leads(w.other_lead, w.own_lead, actor=as_actor(w.manager))

    listed = client.get(f"/api/v1/leads/{w.own_lead.pk}/activities", **auth(w.agent))
    assert [a["body"] for a in listed.json()["items"]] == ["Met at the fair"]
