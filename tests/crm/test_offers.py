"""Offers through the API: all at once or in sequence, windows read from the clock, first accept
wins, declines pull the sequence forward, keep_original_owner, lapsing without a job, the
acceptance period's precedence, and who may do what."""

import json
from datetime import datetime, timedelta

import time_machine

from leadflow.accounts.models import Notification
from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.projects.models import Source
from leadflow.routing.models import Group, Office
from leadflow.sweeps import run_sweeps
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    World,
    auth,
    event_count,
    lead_snapshot,
    make_lead,
    make_user,
    source_named,
)

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")


def post(client, user, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json",
                       **auth(user))


def offer(client, w, lead, **body):
    body.setdefault("mode", "all")
    response = post(client, w.manager, f"/api/v1/leads/{lead.pk}/offers", body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_all_at_once_first_accept_wins(client):
    w = World()
    third = make_user(w.project, "agent")
    lead = w.own_lead

    with time_machine.travel(T0, tick=False):
        made = offer(client, w, lead, recipients=[w.other_agent.pk, third.pk],
                     acceptance_minutes=30, note="Call before noon")
        waiting = Lead.objects.get(pk=lead.pk)
        first = post(client, w.other_agent, f"/api/v1/offers/{made['id']}/accept")
        second = post(client, third, f"/api/v1/offers/{made['id']}/accept")

    assert (made["status"], made["mode"], made["note"]) == ("open", "all", "Call before noon")
    assert [(r["user"], r["state"], r["window_ends_at"][:19]) for r in made["recipients"]] == [
        (w.other_agent.pk, "pending", "2030-05-01T08:30:00"),
        (third.pk, "pending", "2030-05-01T08:30:00")]
    assert waiting.owner_id is None  # without keep_original_owner the lead waits unowned
    assert first.status_code == 200
    assert first.json()["owner"] == w.other_agent.pk
    assert second.status_code == 409
    assert Lead.objects.get(pk=lead.pk).owner_id == w.other_agent.pk
    kinds = list(TimelineEvent.objects.filter(lead_id=lead.pk).order_by("id")
                 .values_list("kind", flat=True))
    assert kinds[-2:] == [TimelineKind.OFFER_MADE, TimelineKind.OFFER_ACCEPTED]
    assert Notification.objects.filter(user=third, kind="offer").count() == 1
    assert Notification.objects.filter(user=w.manager, kind="offer_accepted").count() == 1


def test_a_sequence_moves_to_the_next_recipient_by_time_alone(client):
    w = World()
    third = make_user(w.project, "agent")
    lead = make_lead(w.project)

    with time_machine.travel(T0, tick=False):
        made = offer(client, w, lead, mode="sequence", recipients=[w.other_agent.pk, third.pk],
                     acceptance_minutes=30)
        too_early = post(client, third, f"/api/v1/offers/{made['id']}/accept")
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        too_late = post(client, w.other_agent, f"/api/v1/offers/{made['id']}/accept")
        in_turn = post(client, third, f"/api/v1/offers/{made['id']}/accept")

    assert [r["state"] for r in made["recipients"]] == ["pending", "waiting"]
    assert (too_early.status_code, too_late.status_code, in_turn.status_code) == (409, 409, 200)
    assert "your turn has not come yet" in too_early.json()["detail"]
    assert Lead.objects.get(pk=lead.pk).owner_id == third.pk


def test_a_decline_in_a_sequence_starts_the_next_window_at_once(client):
    w = World()
    third = make_user(w.project, "agent")
    lead = make_lead(w.project)

    with time_machine.travel(T0, tick=False):
        made = offer(client, w, lead, mode="sequence", recipients=[w.other_agent.pk, third.pk],
                     acceptance_minutes=30)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        declined = post(client, w.other_agent, f"/api/v1/offers/{made['id']}/decline")
        accepted = post(client, third, f"/api/v1/offers/{made['id']}/accept")

    assert declined.status_code == 200
    assert [(r["state"], r["window_ends_at"][:19]) for r in declined.json()["recipients"]] == [
        ("declined", "2030-05-01T08:30:00"), ("pending", "2030-05-01T08:35:00")]
    assert accepted.status_code == 200
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.OFFER_DECLINED)
    assert event.after == {"offer": made["id"], "by": w.other_agent.email, "next": third.pk}


def test_everyone_declining_returns_the_lead_to_its_pool(client):
    w = World()
    lead = w.own_lead
    made = offer(client, w, lead, recipients=[w.other_agent.pk])

    response = post(client, w.other_agent, f"/api/v1/offers/{made['id']}/decline")

    assert response.json()["status"] == "declined"
    assert Lead.objects.unassigned().filter(pk=lead.pk).exists()


def test_keep_original_owner_keeps_the_lead_until_someone_accepts_and_after_a_lapse(client):
    with time_machine.travel(T0 - timedelta(minutes=1), tick=False):
        w = World()  # its leads are fresh when the sweep runs, not due for retirement
    lead = w.own_lead

    with time_machine.travel(T0, tick=False):
        made = offer(client, w, lead, recipients=[w.other_agent.pk], acceptance_minutes=10,
                     keep_original_owner=True)
        during = Lead.objects.get(pk=lead.pk)
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        late = post(client, w.other_agent, f"/api/v1/offers/{made['id']}/accept")
        lapsed = run_sweeps()["offers_lapsed"]
        status = client.get(f"/api/v1/offers/{made['id']}", **auth(w.manager)).json()["status"]

    assert during.owner_id == w.agent.pk
    assert late.status_code == 409
    assert lapsed == 1
    assert status == "lapsed"
    lead.refresh_from_db()
    assert (lead.owner_id, lead.offer_until) == (w.agent.pk, None)
    event = TimelineEvent.objects.filter(lead_id=lead.pk).latest("id")
    assert (event.kind, event.after) == (TimelineKind.OFFER_LAPSED,
                                         {"offer": made["id"], "owner_kept": True})


def test_an_unowned_offer_is_back_in_the_pool_the_moment_it_lapses(client):
    w = World()
    lead = w.own_lead
    with time_machine.travel(T0, tick=False):
        offer(client, w, lead, recipients=[w.other_agent.pk], acceptance_minutes=10)
        assert not Lead.objects.unassigned().filter(pk=lead.pk).exists()
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        # no sweep has run: the stored window decides
        assert Lead.objects.unassigned().filter(pk=lead.pk).exists()
        claim = post(client, w.agent, f"/api/v1/leads/{lead.pk}/claim")
    assert claim.status_code == 200


def test_the_acceptance_period_comes_from_the_request_else_the_source_else_the_system(client):
    w = World()
    project_services.update_settings(actor=SYSTEM, offer_minutes=45)
    website = source_named(w.project, "Website")
    Source.objects.filter(pk=website.pk).update(acceptance_minutes=20)
    from leadflow.crm import services
    from leadflow.crm.contact import LeadInput

    web_lead = services.create_lead(w.project, LeadInput(name="W", email="w@example.com"),
                                    actor=SYSTEM, source=website).lead
    manual_lead = make_lead(w.project)

    assert offer(client, w, web_lead, recipients=[w.agent.pk])["acceptance_minutes"] == 20
    assert offer(client, w, manual_lead, recipients=[w.agent.pk])["acceptance_minutes"] == 45
    assert offer(client, w, manual_lead, recipients=[w.agent.pk],
                 acceptance_minutes=5)["acceptance_minutes"] == 5


def test_offices_and_groups_reach_their_members_in_the_leads_pool(client):
    w = World()
    office = Office.objects.create(project=w.project, name="Berlin")
    office.members.set([w.agent, w.manager])  # the manager is not in the agents' pool
    group = Group.objects.create(project=w.project, name="Seniors")
    group.members.set([w.other_agent, w.agent])

    made = offer(client, w, make_lead(w.project), offices=[office.pk], groups=[group.pk])

    assert [r["user"] for r in made["recipients"]] == [w.agent.pk, w.other_agent.pk]


def test_a_new_offer_replaces_the_open_one(client):
    w = World()
    lead = make_lead(w.project)
    first = offer(client, w, lead, recipients=[w.agent.pk])

    second = offer(client, w, lead, recipients=[w.other_agent.pk])
    late = post(client, w.agent, f"/api/v1/offers/{first['id']}/accept")

    assert late.status_code == 409
    assert client.get(f"/api/v1/offers/{first['id']}",
                      **auth(w.manager)).json()["status"] == "cancelled"
    assert post(client, w.other_agent,
                f"/api/v1/offers/{second['id']}/accept").status_code == 200


def test_recipients_outside_the_pool_and_agents_making_offers_are_refused(client):
    w = World()
    lead = make_lead(w.project)
    before, events = lead_snapshot(lead.pk), event_count()

    outside = post(client, w.manager, f"/api/v1/leads/{lead.pk}/offers",
                   {"recipients": [w.manager.pk], "mode": "all"})
    by_agent = post(client, w.agent, f"/api/v1/leads/{lead.pk}/offers",
                    {"recipients": [w.other_agent.pk], "mode": "all"})
    bad_mode = post(client, w.manager, f"/api/v1/leads/{lead.pk}/offers",
                    {"recipients": [w.agent.pk], "mode": "lottery"})

    assert (outside.status_code, outside.json()["errors"][0]["code"]) == (400, "not_in_pool")
    assert by_agent.status_code == 403
    assert (bad_mode.status_code, bad_mode.json()["errors"][0]["field"]) == (400, "mode")
    assert (lead_snapshot(lead.pk), event_count()) == (before, events)


def test_a_recipient_sees_the_offered_lead_and_others_get_404(client):
    w = World()
    lead = w.other_lead
    made = offer(client, w, lead, recipients=[w.agent.pk], keep_original_owner=True)

    seen = client.get(f"/api/v1/leads/{lead.pk}", **auth(w.agent))
    inbox = client.get("/api/v1/offers?live=true", **auth(w.agent)).json()["items"]
    stranger = post(client, w.viewer, f"/api/v1/offers/{made['id']}/accept")

    assert seen.status_code == 200
    assert [o["id"] for o in inbox] == [made["id"]]
    assert stranger.status_code == 404


def test_a_manager_cancels_an_open_offer_and_an_agent_may_not(client):
    w = World()
    lead = w.own_lead
    made = offer(client, w, lead, recipients=[w.other_agent.pk], keep_original_owner=True)
    events = event_count()

    refused = post(client, w.agent, f"/api/v1/offers/{made['id']}/cancel")
    assert (refused.status_code, event_count()) == (404, events)  # not a recipient: unseen
    by_recipient = post(client, w.other_agent, f"/api/v1/offers/{made['id']}/cancel")
    assert (by_recipient.status_code, event_count()) == (403, events)

    response = post(client, w.manager, f"/api/v1/offers/{made['id']}/cancel")

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    lead.refresh_from_db()
    assert (lead.owner_id, lead.offer_until) == (w.agent.pk, None)
    assert TimelineEvent.objects.filter(lead_id=lead.pk).latest("id").kind == (
        TimelineKind.OFFER_CANCELLED)
    assert post(client, w.other_agent,
                f"/api/v1/offers/{made['id']}/accept").status_code == 409


def test_the_unassigned_filter_leaves_out_leads_with_a_live_offer(client):
    w = World()
    waiting = make_lead(w.project)
    offered = make_lead(w.project)
    offer(client, w, offered, recipients=[w.agent.pk])

    response = client.get(f"/api/v1/leads?unassigned=true&project={w.project.pk}",
                          **auth(w.manager))

    assert [item["id"] for item in response.json()["items"]] == [waiting.pk]
