"""Screens of working a lead: the activity panel, My day, the pipeline board (moves through
set_stage), retiring stages and the managed lists' settings screens."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from leadflow.activities import services as activity_services
from leadflow.activities.models import Activity
from leadflow.crm.models import Lead
from leadflow.projects.models import CallOutcome, LostReason, Stage
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, as_actor, make_lead, stage_named

HTMX = {"HTTP_HX_REQUEST": "true"}


def _as(client, user):
    client.force_login(user)
    return client


def test_lead_page_logs_a_call_with_htmx_and_refreshes_the_timeline(client):
    w = World()
    client = _as(client, w.agent)
    page = client.get(reverse("crm:lead_detail", args=[w.own_lead.pk])).content.decode()
    assert 'id="activities"' in page and "Log activity" in page

    response = client.post(reverse("pipeline:activity_log", args=[w.own_lead.pk]),
                           {"kind": "call", "outcome": "Voicemail", "duration_minutes": "1.5",
                            "body": "Left a message"}, **HTMX)

    html = response.content.decode()
    activity = Activity.objects.get(lead=w.own_lead)
    assert (activity.outcome.name, activity.duration_seconds) == ("Voicemail", 90)
    assert "Call: Voicemail" in html and 'hx-swap-oob="true"' in html
    assert 'data-kind="ACTIVITY_LOGGED"' in html


def test_a_bad_note_shows_the_error_in_the_panel(client):
    w = World()

    response = _as(client, w.agent).post(
        reverse("pipeline:activity_log", args=[w.own_lead.pk]), {"kind": "note"}, **HTMX)

    assert "A note needs its text." in response.content.decode()
    assert not Activity.objects.exists()


def test_viewer_sees_the_panel_without_forms_and_cannot_post(client):
    w = World()
    client = _as(client, w.viewer)

    page = client.get(reverse("crm:lead_detail", args=[w.own_lead.pk])).content.decode()
    response = client.post(reverse("pipeline:activity_log", args=[w.own_lead.pk]),
                           {"kind": "note", "body": "x"})

    assert 'id="activities"' in page and "Log activity" not in page
    assert response.status_code == 403
    hidden = _as(client, w.other_agent).post(
        reverse("pipeline:next_call", args=[w.own_lead.pk]), {"clear": "on"})
    assert hidden.status_code == 404


def test_next_call_is_scheduled_and_cleared_from_the_lead_page(client):
    w = World()
    client = _as(client, w.agent)
    when = timezone.localtime(timezone.now() + timedelta(days=1)).replace(second=0,
                                                                         microsecond=0)

    client.post(reverse("pipeline:next_call", args=[w.own_lead.pk]),
                {"next_call_at": when.strftime("%Y-%m-%dT%H:%M")})
    assert Lead.objects.get(pk=w.own_lead.pk).next_call_at == when
    past = client.post(reverse("pipeline:next_call", args=[w.own_lead.pk]),
                       {"next_call_at": "2001-01-01T10:00"}, **HTMX)
    assert "The next call must be in the future." in past.content.decode()
    client.post(reverse("pipeline:next_call", args=[w.own_lead.pk]), {"clear": "on"})
    assert Lead.objects.get(pk=w.own_lead.pk).next_call_at is None


def test_my_day_orders_overdue_then_today_then_upcoming_and_logs_a_quick_call(client, settings):
    w = World()
    now = timezone.now()
    overdue = make_lead(w.project, owner=w.agent, name="Overdue Olga")
    later = make_lead(w.project, owner=w.agent, name="Later Luis")
    for lead, when in ((overdue, now + timedelta(minutes=1)), (later, now + timedelta(days=3))):
        activity_services.schedule_next_call(lead, when, actor=as_actor(w.agent))
    Lead.objects.filter(pk=overdue.pk).update(next_call_at=now - timedelta(hours=2))
    make_lead(w.project, owner=w.other_agent, name="Not Mine")
    client = _as(client, w.agent)

    html = client.get(reverse("pipeline:my_day")).content.decode()

    assert html.index("Overdue Olga") < html.index("Later Luis")
    assert html.index('id="day-overdue"') < html.index("Overdue Olga") < html.index(
        'id="day-today"') < html.index('id="day-upcoming"') < html.index("Later Luis")
    assert "Not Mine" not in html
    response = client.post(reverse("pipeline:activity_log", args=[overdue.pk]),
                           {"kind": "call", "outcome": "Busy",
                            "next": reverse("pipeline:my_day")})
    assert response.status_code == 302 and response.url == reverse("pipeline:my_day")
    assert Activity.objects.get(lead=overdue).outcome.name == "Busy"


def test_board_shows_columns_and_moves_a_card_through_set_stage(client):
    w = World()
    client = _as(client, w.agent)

    html = client.get(reverse("pipeline:board")).content.decode()
    assert all(name in html for name in ("New", "Contacted", "Qualified", "Converted", "Lost"))
    assert w.own_lead.name in html and w.other_lead.name not in html

    qualified = stage_named(w.project, "Qualified")
    response = client.post(reverse("pipeline:board_move", args=[w.own_lead.pk]),
                           {f"m{w.own_lead.pk}-stage": qualified.pk}, **HTMX)
    assert response.status_code == 200 and 'id="board"' in response.content.decode()
    assert Lead.objects.get(pk=w.own_lead.pk).stage_id == qualified.pk
    assert TimelineEvent.objects.filter(lead_id=w.own_lead.pk,
                                        kind=TimelineKind.STAGE_CHANGED).exists()

    back = client.post(reverse("pipeline:board_move", args=[w.own_lead.pk]),
                       {f"m{w.own_lead.pk}-stage": stage_named(w.project, "New").pk}, **HTMX)
    assert "Agents move a lead forward" in back.content.decode()
    lost = stage_named(w.project, "Lost")
    no_reason = client.post(reverse("pipeline:board_move", args=[w.own_lead.pk]),
                            {f"m{w.own_lead.pk}-stage": lost.pk})
    assert no_reason.status_code == 302
    assert Lead.objects.get(pk=w.own_lead.pk).stage_id == qualified.pk
    client.post(reverse("pipeline:board_move", args=[w.own_lead.pk]),
                {f"m{w.own_lead.pk}-stage": lost.pk, f"m{w.own_lead.pk}-lost_reason": "No budget"})
    assert Lead.objects.get(pk=w.own_lead.pk).lost_reason == "No budget"
    refused = client.post(reverse("pipeline:board_move", args=[w.other_lead.pk]),
                          {f"m{w.other_lead.pk}-stage": qualified.pk})
    assert refused.status_code == 404


def test_board_filters_by_owner_and_limits_cards(client):
    w = World()
    for n in range(22):
        make_lead(w.project, owner=w.other_agent, name=f"Bulk {n}")

    html = _as(client, w.manager).get(
        reverse("pipeline:board"), {"project": w.project.pk, "owner": w.other_agent.pk}
    ).content.decode()

    assert w.own_lead.name not in html
    assert html.count('class="board-card"') == 20
    assert f"stage={stage_named(w.project, 'New').pk}" in html and "More in New" in html


def test_manager_retires_and_restores_a_stage_agent_is_refused(client):
    w = World()
    contacted = stage_named(w.project, "Contacted")
    url = reverse("pipeline:stage_retire", args=[contacted.pk])

    assert _as(client, w.agent).post(url, {"action": "retire"}).status_code == 403
    _as(client, w.manager).post(url, {"action": "retire"})
    assert Stage.objects.get(pk=contacted.pk).retired
    page = client.get(reverse("crm:lead_detail", args=[w.own_lead.pk])).content.decode()
    assert f'value="{contacted.pk}"' not in page.split('id="pipeline"')[1].split("</section>")[0]
    client.post(url, {"action": "restore"})
    assert not Stage.objects.get(pk=contacted.pk).retired


def test_managed_list_screens_for_managers_only(client):
    w = World()
    url = reverse("pipeline:choices", args=[w.project.pk, "lost-reasons"])

    assert _as(client, w.agent).get(url).status_code == 403
    client = _as(client, w.manager)
    assert "Too expensive" in client.get(url).content.decode()
    client.post(url, {"name": "Moved abroad"})
    reason = LostReason.objects.get(project=w.project, name="Moved abroad")
    client.post(reverse("pipeline:choice_edit", args=["lost-reasons", reason.pk]),
                {f"c{reason.pk}-name": "Emigrated", f"c{reason.pk}-position": "2"})
    reason.refresh_from_db()
    assert (reason.name, reason.position, reason.active) == ("Emigrated", 2, False)
    outcomes = reverse("pipeline:choices", args=[w.project.pk, "call-outcomes"])
    assert "Wrong number" in client.get(outcomes).content.decode()
    busy = CallOutcome.objects.get(project=w.project, name="Busy")
    client.post(reverse("pipeline:choice_delete", args=["call-outcomes", busy.pk]))
    assert not CallOutcome.objects.filter(pk=busy.pk).exists()
    assert client.get(reverse("pipeline:choices", args=[w.project.pk, "nope"])).status_code == 404
