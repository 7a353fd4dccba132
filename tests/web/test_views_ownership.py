"""The lead page's ownership panel and the leads list's bulk actions and Fresh leads: each
action for a role allowed (the resulting state and timeline event) and a role refused (nothing
changed, no event)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.crm import services
from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.routing.models import Group, Offer, OfferStatus
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    World,
    auth,
    default_pool,
    lead_snapshot,
    make_lead,
    make_user,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def _as(client, user):
    client.force_login(user)
    return client


def kinds(lead) -> list[str]:
    return list(TimelineEvent.objects.filter(lead_id=lead.pk).order_by("id")
                .values_list("kind", flat=True))


def fresh(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


def unowned(w: World) -> Lead:
    return make_lead(w.project)


def html_of(response) -> str:
    return response.content.decode()


# --- the panel --------------------------------------------------------------------------------


def test_manager_sees_owner_pool_and_every_manager_action(client):
    w = World()

    response = _as(client, w.manager).get(reverse("crm:lead_detail", args=[w.own_lead.pk]))

    html = html_of(response)
    assert response.status_code == 200
    assert 'id="ownership"' in html
    assert w.agent.label in html and "Original owner" in html
    for action in ("lead_assign", "lead_unassign", "lead_route", "lead_offer"):
        assert reverse(f"crm:{action}", args=[w.own_lead.pk]) in html
    assert reverse("crm:lead_claim", args=[w.own_lead.pk]) not in html


def test_agent_sees_claim_on_a_pool_lead_and_no_manager_action(client):
    w = World()
    lead = unowned(w)

    html = html_of(_as(client, w.agent).get(reverse("crm:lead_detail", args=[lead.pk])))

    assert reverse("crm:lead_claim", args=[lead.pk]) in html
    for action in ("lead_assign", "lead_unassign", "lead_route", "lead_offer", "lead_release"):
        assert reverse(f"crm:{action}", args=[lead.pk]) not in html


def test_owner_sees_release_but_not_claim(client):
    w = World()

    html = html_of(_as(client, w.agent).get(reverse("crm:lead_detail", args=[w.own_lead.pk])))

    assert reverse("crm:lead_release", args=[w.own_lead.pk]) in html
    assert reverse("crm:lead_claim", args=[w.own_lead.pk]) not in html


# --- assign -----------------------------------------------------------------------------------


def test_manager_assigns_a_lead_to_a_pool_member(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.manager).post(
        reverse("crm:lead_assign", args=[lead.pk]),
        {"pool": default_pool(w.project).pk, "owner": w.other_agent.pk, "note": "VIP"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_detail", args=[lead.pk])
    assert fresh(lead).owner_id == w.other_agent.pk
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_ASSIGNED)
    assert (event.actor_id, event.channel, event.reason) == (w.manager.pk, "ui", "VIP")
    assert event.after == {"owner": w.other_agent.email}


def test_assign_over_htmx_answers_the_panel_and_the_timeline(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.manager).post(
        reverse("crm:lead_assign", args=[lead.pk]),
        {"pool": default_pool(w.project).pk, "owner": w.agent.pk}, **HTMX,
    )

    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="ownership"')
    assert '<section id="timeline" class="card" hx-swap-oob="true">' in html
    assert 'data-kind="LEAD_ASSIGNED"' in html
    assert fresh(lead).owner_id == w.agent.pk


def test_assigning_to_someone_outside_the_chosen_pool_is_shown_in_the_dialog(client):
    w = World()
    lead = unowned(w)
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])
    before = lead_snapshot(lead.pk)

    response = _as(client, w.manager).post(
        reverse("crm:lead_assign", args=[lead.pk]), {"pool": vip.pk, "owner": w.agent.pk},
        **HTMX,
    )

    assert response.status_code == 200
    assert "That user is not a member of the chosen pool." in html_of(response)
    assert "<details class=\"dialog\" open>" in html_of(response)
    assert lead_snapshot(lead.pk) == before
    assert kinds(lead) == [TimelineKind.LEAD_CREATED]


@pytest.mark.parametrize("_case, who, status", [
    ("_case agent", "agent", 403),
    ("_case viewer", "viewer", 403),
    ("_case outsider", "outsider", 404),
])
def test_only_managers_assign(client, _case, who, status):
    w = World()
    lead = w.own_lead
    before = lead_snapshot(lead.pk)

    response = _as(client, w.user(who)).post(
        reverse("crm:lead_assign", args=[lead.pk]),
        {"pool": default_pool(w.project).pk, "owner": w.other_agent.pk},
    )

    assert response.status_code == status
    assert lead_snapshot(lead.pk) == before
    assert kinds(lead) == [TimelineKind.LEAD_CREATED]


def test_a_lost_race_is_shown_in_the_panel_not_as_an_error_page(client, monkeypatch):
    w = World()
    lead = unowned(w)

    def lose(*args, **kwargs):
        from leadflow.core.errors import Conflict

        raise Conflict("The lead's ownership changed meanwhile; reload and try again.")

    monkeypatch.setattr(services, "assign", lose)
    response = _as(client, w.manager).post(
        reverse("crm:lead_assign", args=[lead.pk]),
        {"pool": default_pool(w.project).pk, "owner": w.agent.pk}, **HTMX,
    )

    assert response.status_code == 200
    assert "ownership changed meanwhile" in html_of(response)


# --- unassign, route ------------------------------------------------------------------------


def test_manager_unassigns_and_the_lead_waits_in_its_pool(client):
    w = World()

    response = _as(client, w.manager).post(reverse("crm:lead_unassign", args=[w.own_lead.pk]))

    assert response.status_code == 302
    lead = fresh(w.own_lead)
    assert (lead.owner_id, lead.pool_id) == (None, default_pool(w.project).pk)
    assert kinds(lead)[-1] == TimelineKind.LEAD_UNASSIGNED


def test_agent_may_not_unassign_their_lead(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    response = _as(client, w.agent).post(reverse("crm:lead_unassign", args=[w.own_lead.pk]))

    assert response.status_code == 403
    assert lead_snapshot(w.own_lead.pk) == before
    assert kinds(w.own_lead) == [TimelineKind.LEAD_CREATED]


def test_manager_routes_a_lead_now(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.manager).post(reverse("crm:lead_route", args=[lead.pk]))

    assert response.status_code == 302
    assert kinds(lead)[-1] == TimelineKind.LEAD_ROUTED


def test_agent_may_not_route(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.agent).post(reverse("crm:lead_route", args=[lead.pk]))

    assert response.status_code == 403
    assert kinds(lead) == [TimelineKind.LEAD_CREATED]


# --- offers from the lead page -----------------------------------------------------------------


def test_manager_offers_a_lead_in_sequence(client):
    w = World()
    lead = w.own_lead

    response = _as(client, w.manager).post(reverse("crm:lead_offer", args=[lead.pk]), {
        "recipients": [w.other_agent.pk, w.viewer.pk], "mode": "sequence",
        "acceptance_minutes": 15, "keep_original_owner": "on", "note": "Speaks German",
    })

    assert response.status_code == 302
    offer = Offer.objects.get(lead_id=lead.pk)
    assert (offer.mode, offer.acceptance_minutes, offer.keep_original_owner, offer.note) == (
        "sequence", 15, True, "Speaks German")
    assert list(offer.recipients.values_list("user_id", flat=True)) == [
        w.other_agent.pk, w.viewer.pk]
    assert fresh(lead).owner_id == w.agent.pk
    assert kinds(lead)[-1] == TimelineKind.OFFER_MADE


def test_the_offer_dialog_prefills_the_sources_period_and_lists_groups(client):
    w = World()
    lead = unowned(w)
    lead.source.acceptance_minutes = 25
    lead.source.save(update_fields=["acceptance_minutes"])
    Group.objects.create(project=w.project, name="Closers")

    html = html_of(_as(client, w.manager).get(reverse("crm:lead_detail", args=[lead.pk])))

    assert 'name="acceptance_minutes" value="25"' in html
    assert "Closers" in html


def test_an_offer_to_nobody_is_refused_in_the_dialog(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.manager).post(
        reverse("crm:lead_offer", args=[lead.pk]),
        {"mode": "all", "acceptance_minutes": 10}, **HTMX,
    )

    assert response.status_code == 200
    assert "Nobody in the lead&#x27;s pool would receive the offer." in html_of(response)
    assert not Offer.objects.filter(lead_id=lead.pk).exists()


def test_agent_may_not_offer(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    response = _as(client, w.agent).post(reverse("crm:lead_offer", args=[w.own_lead.pk]), {
        "recipients": [w.other_agent.pk], "mode": "all", "acceptance_minutes": 10})

    assert response.status_code == 403
    assert lead_snapshot(w.own_lead.pk) == before
    assert not Offer.objects.exists()


def _offer(w, lead, recipients, mode="all", **kwargs):
    return services.make_offer(lead, actor=Actor(w.manager, "api"),
                               recipients=[u.pk for u in recipients], mode=mode, **kwargs)


def test_the_panel_shows_the_open_offer_with_states_and_note(client):
    w = World()
    lead = unowned(w)
    _offer(w, lead, [w.agent, w.other_agent], mode="sequence", acceptance_minutes=20,
           note="Hot one")

    html = html_of(_as(client, w.manager).get(reverse("crm:lead_detail", args=[lead.pk])))

    assert "Open offer" in html and "One after another" in html and "Hot one" in html
    assert 'class="badge state-pending">pending' in html
    assert 'class="badge state-waiting">waiting' in html
    assert "data-countdown" in html


def test_manager_cancels_an_open_offer(client):
    w = World()
    lead = unowned(w)
    offer = _offer(w, lead, [w.agent])

    response = _as(client, w.manager).post(reverse("work:offer_cancel", args=[offer.pk]))

    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == OfferStatus.CANCELLED
    assert kinds(lead)[-1] == TimelineKind.OFFER_CANCELLED


def test_a_recipient_may_not_cancel_the_offer(client):
    w = World()
    lead = unowned(w)
    offer = _offer(w, lead, [w.agent])

    response = _as(client, w.agent).post(reverse("work:offer_cancel", args=[offer.pk]), **HTMX)

    assert response.status_code == 200
    assert "Only a manager may do this." in html_of(response)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN
    assert kinds(lead)[-1] == TimelineKind.OFFER_MADE


def test_a_recipient_accepts_from_the_lead_page(client):
    w = World()
    lead = unowned(w)
    offer = _offer(w, lead, [w.agent])

    page = html_of(_as(client, w.agent).get(reverse("crm:lead_detail", args=[lead.pk])))
    response = client.post(reverse("work:offer_accept", args=[offer.pk]), **HTMX)

    assert reverse("work:offer_accept", args=[offer.pk]) in page
    assert response.status_code == 200
    assert fresh(lead).owner_id == w.agent.pk
    assert kinds(lead)[-1] == TimelineKind.OFFER_ACCEPTED


# --- claims ---------------------------------------------------------------------------------


def test_pool_member_claims_a_lead(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.agent).post(reverse("crm:lead_claim", args=[lead.pk]))

    assert response.status_code == 302
    lead = fresh(lead)
    assert lead.claimed_by_id == w.agent.pk and lead.owner_id is None
    assert kinds(lead)[-1] == TimelineKind.LEAD_CLAIMED


def test_a_second_claim_is_refused_inline(client):
    w = World()
    lead = unowned(w)
    services.claim(lead, actor=Actor(w.other_agent, "api"))
    before = lead_snapshot(lead.pk)

    response = _as(client, w.agent).post(reverse("crm:lead_claim", args=[lead.pk]),
                                         {"next": "/pools/"})

    assert response.status_code == 302 and response["Location"] == "/pools/"
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["This lead is owned, claimed or offered already."]
    assert lead_snapshot(lead.pk) == before


def test_an_outsider_cannot_claim(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.outsider).post(reverse("crm:lead_claim", args=[lead.pk]))

    assert response.status_code == 404
    assert fresh(lead).claimed_by_id is None
    assert kinds(lead) == [TimelineKind.LEAD_CREATED]


def test_the_claimant_takes_ownership(client):
    w = World()
    lead = unowned(w)
    services.claim(lead, actor=Actor(w.agent, "api"))

    response = _as(client, w.agent).post(reverse("crm:lead_take", args=[lead.pk]), **HTMX)

    assert response.status_code == 200
    assert fresh(lead).owner_id == w.agent.pk
    assert kinds(lead)[-1] == TimelineKind.OWNERSHIP_TAKEN
    assert "You own this lead now." in html_of(response)


def _head_of(html: str) -> str:
    start = html.index('<div id="lead-head"')
    return html[start:html.index("</h1>", start)] + html[html.index('<div class="actions">', start):
                                                         html.index("</div>\n</div>", start)]


def test_taking_ownership_by_htmx_brings_the_edit_button_into_the_header(client):
    w = World()
    lead = unowned(w)
    services.claim(lead, actor=Actor(w.agent, "api"))
    client = _as(client, w.agent)
    edit = f'href="{reverse("crm:lead_edit", args=[lead.pk])}"'
    before = html_of(client.get(reverse("crm:lead_detail", args=[lead.pk])))

    response = client.post(reverse("crm:lead_take", args=[lead.pk]), **HTMX)

    html = html_of(response)
    assert edit not in _head_of(before)
    assert '<div id="lead-head" class="page-head" hx-swap-oob="true">' in html
    assert edit in _head_of(html)


def test_a_refused_take_by_htmx_leaves_the_header_alone(client):
    w = World()
    lead = unowned(w)
    services.claim(lead, actor=Actor(w.agent, "api"))

    response = _as(client, w.viewer).post(reverse("crm:lead_take", args=[lead.pk]), **HTMX)

    html = html_of(response)
    assert response.status_code == 200
    assert "Only the holder of a live claim may take ownership." in html
    assert 'id="lead-head"' not in html
    assert reverse("crm:lead_edit", args=[lead.pk]) not in html
    assert fresh(lead).owner_id is None


def test_someone_else_cannot_take_ownership_of_a_claim(client):
    w = World()
    lead = unowned(w)
    services.claim(lead, actor=Actor(w.agent, "api"))
    before = lead_snapshot(lead.pk)

    response = _as(client, w.other_agent).post(reverse("crm:lead_take", args=[lead.pk]))

    # The claimed lead is out of their sight: back to the list, told why.
    assert response.status_code == 302 and response["Location"] == reverse("crm:lead_list")
    assert [str(m) for m in response.wsgi_request._messages] == [
        "Only the holder of a live claim may take ownership."]
    assert lead_snapshot(lead.pk) == before
    assert kinds(lead)[-1] == TimelineKind.LEAD_CLAIMED


def test_the_owner_releases_the_lead_to_its_pool(client):
    w = World()

    response = _as(client, w.agent).post(reverse("crm:lead_release", args=[w.own_lead.pk]))

    assert response.status_code == 302
    assert fresh(w.own_lead).owner_id is None
    assert kinds(w.own_lead)[-1] == TimelineKind.LEAD_RELEASED


def test_another_agent_cannot_release_someone_elses_lead(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    response = _as(client, w.other_agent).post(
        reverse("crm:lead_release", args=[w.own_lead.pk]))

    assert response.status_code == 404
    assert lead_snapshot(w.own_lead.pk) == before


def test_viewer_who_neither_owns_nor_claims_is_refused_inline(client):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    response = _as(client, w.viewer).post(reverse("crm:lead_release", args=[w.own_lead.pk]),
                                          **HTMX)

    assert response.status_code == 200
    assert "Only the lead&#x27;s owner or claimant may hand it back." in html_of(response)
    assert lead_snapshot(w.own_lead.pk) == before


# --- bulk -----------------------------------------------------------------------------------


def test_manager_assigns_ticked_leads_and_hears_what_happened(client):
    w = World()
    first, second = unowned(w), unowned(w)
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])

    response = _as(client, w.manager).post(reverse("crm:lead_bulk"), {
        "action": "assign", "ids": [first.pk, second.pk, w.own_lead.pk, 999999],
        "pool": vip.pk, "owner": w.viewer.pk, "note": "Spring push",
        "next": "/leads/?q=x",
    })

    assert response.status_code == 302 and response["Location"] == "/leads/?q=x"
    assert {fresh(lead).owner_id for lead in (first, second, w.own_lead)} == {w.viewer.pk}
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Assign: 3 done, 0 skipped, 1 refused.",
                        "Refused — #999999: Lead not found."]
    assert kinds(first)[-1] == TimelineKind.LEAD_ASSIGNED


def test_select_all_on_page_acts_on_the_whole_page(client):
    w = World()
    leads = [unowned(w) for _ in range(3)]
    for lead in leads:
        services.assign(lead, actor=Actor(w.manager, "api"), owner=w.agent)

    response = _as(client, w.manager).post(reverse("crm:lead_bulk"), {
        "action": "unassign", "all_on_page": "1", "page_ids": [lead.pk for lead in leads],
    })

    assert response.status_code == 302
    assert [fresh(lead).owner_id for lead in leads] == [None, None, None]
    assert [str(m) for m in response.wsgi_request._messages] == [
        "Unassign: 3 done, 0 skipped."]


def test_bulk_with_nothing_ticked_says_so(client):
    w = World()

    response = _as(client, w.manager).post(reverse("crm:lead_bulk"), {"action": "route"})

    assert [str(m) for m in response.wsgi_request._messages] == ["Tick at least one lead."]


def test_more_ids_than_the_bulk_limit_are_refused(client, monkeypatch):
    # A page holds 50 leads, so the UI never reaches 1,000; the limit still stands.
    from leadflow.web.views import ownership

    w = World()
    monkeypatch.setattr(ownership, "BULK_LIMIT", 1)
    before = lead_snapshot(w.own_lead.pk)

    response = _as(client, w.manager).post(reverse("crm:lead_bulk"), {
        "action": "unassign", "ids": [w.own_lead.pk, w.other_lead.pk]})

    assert [str(m) for m in response.wsgi_request._messages] == [
        "At most 1,000 leads at once."]
    assert lead_snapshot(w.own_lead.pk) == before


def test_agents_get_no_bulk_bar_and_cannot_post_it(client):
    w = World()
    before = lead_snapshot(w.other_lead.pk)
    client = _as(client, w.agent)

    page = html_of(client.get(reverse("crm:lead_list")))
    response = client.post(reverse("crm:lead_bulk"),
                           {"action": "unassign", "ids": [w.own_lead.pk]})

    assert 'id="bulk-form"' not in page and 'name="ids"' not in page
    assert response.status_code == 403
    assert fresh(w.own_lead).owner_id == w.agent.pk
    assert lead_snapshot(w.other_lead.pk) == before


def test_manager_list_has_row_boxes_and_the_action_bar(client):
    w = World()

    html = html_of(_as(client, w.manager).get(reverse("crm:lead_list")))

    assert 'id="bulk-form"' in html and "Select all on page" in html
    assert f'name="ids" value="{w.own_lead.pk}" form="bulk-form"' in html
    assert f'name="page_ids" value="{w.own_lead.pk}" form="bulk-form"' in html


def test_owner_choices_follow_the_chosen_pool(client):
    w = World()
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])

    response = _as(client, w.manager).get(reverse("work:pool_owner_options"), {"pool": vip.pk})

    html = html_of(response)
    assert f'value="{w.viewer.pk}"' in html
    assert f'value="{w.agent.pk}"' not in html


def test_agents_get_no_owner_choices(client):
    w = World()

    response = _as(client, w.agent).get(reverse("work:pool_owner_options"),
                                        {"pool": default_pool(w.project).pk})

    assert response.status_code == 403


# --- fresh leads ------------------------------------------------------------------------------


def test_fresh_leads_are_mine_and_untouched_since_assignment(client):
    w = World()
    mine = unowned(w)
    services.assign(mine, actor=Actor(w.manager, "api"), owner=w.agent)
    touched = unowned(w)
    services.assign(touched, actor=Actor(w.manager, "api"), owner=w.agent)
    Lead.objects.filter(pk=touched.pk).update(last_activity_at=timezone.now()
                                              + timedelta(minutes=1))
    theirs = unowned(w)
    services.assign(theirs, actor=Actor(w.manager, "api"), owner=w.other_agent)

    response = _as(client, w.agent).get(reverse("crm:lead_list"), {"fresh": "true"})

    shown = {lead.pk for lead in response.context["leads"]}
    assert shown == {mine.pk, w.own_lead.pk}
    assert "<h1>Fresh leads</h1>" in html_of(response)


def test_the_api_filters_fresh_leads(client):
    w = World()
    touched = unowned(w)
    services.assign(touched, actor=Actor(w.manager, "api"), owner=w.agent)
    Lead.objects.filter(pk=touched.pk).update(last_activity_at=timezone.now()
                                              + timedelta(minutes=1))

    fresh_ids = {row["id"] for row in client.get(
        "/api/v1/leads", {"fresh": "true"}, **auth(w.agent)).json()["items"]}
    stale_ids = {row["id"] for row in client.get(
        "/api/v1/leads", {"fresh": "false", "owner": w.agent.pk}, **auth(w.agent)).json()["items"]}

    assert fresh_ids == {w.own_lead.pk}
    assert stale_ids == {touched.pk}


def test_navigation_has_fresh_leads_offers_pools_and_the_bell(client):
    w = World()
    make_user(w.project, "agent")

    html = html_of(_as(client, w.agent).get(reverse("crm:lead_list"), {"fresh": "true"}))

    assert '<a href="/leads/?fresh=true" aria-current="page">Fresh leads</a>' in html
    assert reverse("work:offer_inbox") in html and reverse("work:pool_list") in html
    assert reverse("work:notifications") in html


def test_without_javascript_a_refused_offer_shows_the_whole_page_with_the_dialog_open(client):
    w = World()
    lead = unowned(w)

    response = _as(client, w.manager).post(reverse("crm:lead_offer", args=[lead.pk]),
                                           {"mode": "all", "acceptance_minutes": 0})

    html = html_of(response)
    assert response.status_code == 200
    assert "<html" in html and '<details class="dialog" open>' in html
    assert "Ensure this value is greater than or equal to 1." in html
    assert not Offer.objects.filter(lead_id=lead.pk).exists()
