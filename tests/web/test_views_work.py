"""Where agents pick up work: the offers inbox (accept, decline), pool views ("give me the next
lead", claims) and notifications with the header bell."""

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from leadflow.accounts.models import Notification
from leadflow.core.actor import Actor
from leadflow.crm import services
from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.routing.models import OfferStatus
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import SYSTEM, World, default_pool, lead_snapshot, make_lead


def _as(client, user):
    client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


def kinds(lead) -> list[str]:
    return list(TimelineEvent.objects.filter(lead_id=lead.pk).order_by("id")
                .values_list("kind", flat=True))


def _offer(w, lead, recipients, mode="all", **kwargs):
    return services.make_offer(lead, actor=Actor(w.manager, "api"),
                               recipients=[u.pk for u in recipients], mode=mode, **kwargs)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


# --- offers inbox -----------------------------------------------------------------------------


def test_inbox_lists_live_offers_with_countdown_and_waiting_ones_with_their_start(client):
    w = World()
    live_lead = make_lead(w.project, name="Live Lead")
    later_lead = make_lead(w.project, name="Later Lead")
    _offer(w, live_lead, [w.agent], acceptance_minutes=30, note="Call after lunch")
    _offer(w, later_lead, [w.other_agent, w.agent], mode="sequence", acceptance_minutes=30)

    response = _as(client, w.agent).get(reverse("work:offer_inbox"))

    html = html_of(response)
    assert response.status_code == 200
    assert [row.offer.lead_id for row in response.context["live"]] == [live_lead.pk]
    assert [row.offer.lead_id for row in response.context["waiting"]] == [later_lead.pk]
    assert "Call after lunch" in html and "data-countdown" in html
    assert "your turn from" in html
    assert "managed_offers" not in response.context


def test_inbox_shows_recent_closed_offers(client):
    w = World()
    lead = make_lead(w.project, name="Gone Lead")
    offer = _offer(w, lead, [w.agent])
    services.cancel_offer(offer, actor=Actor(w.manager, "api"))

    response = _as(client, w.agent).get(reverse("work:offer_inbox"))

    assert [row.shown_state for row in response.context["closed"]] == ["closed"]
    assert "Gone Lead" in html_of(response)


def test_manager_sees_open_offers_of_their_projects(client):
    w = World()
    lead = make_lead(w.project, name="Offered Lead")
    offer = _offer(w, lead, [w.agent])

    response = _as(client, w.manager).get(reverse("work:offer_inbox"))

    assert [o.pk for o in response.context["managed_offers"]] == [offer.pk]
    assert reverse("work:offer_cancel", args=[offer.pk]) in html_of(response)


def test_foreign_manager_does_not_see_the_projects_offers(client):
    w = World()
    _offer(w, make_lead(w.project), [w.agent])

    response = _as(client, w.foreign_manager).get(reverse("work:offer_inbox"))

    assert response.context["managed_offers"] == []


def test_recipient_accepts_from_the_inbox_and_lands_on_the_lead(client):
    w = World()
    lead = make_lead(w.project)
    offer = _offer(w, lead, [w.agent, w.other_agent])

    response = _as(client, w.agent).post(reverse("work:offer_accept", args=[offer.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_detail", args=[lead.pk])
    assert Lead.objects.get(pk=lead.pk).owner_id == w.agent.pk
    assert kinds(lead)[-1] == TimelineKind.OFFER_ACCEPTED


def test_a_late_accept_is_a_message_not_an_error_page(client):
    w = World()
    lead = make_lead(w.project)
    offer = _offer(w, lead, [w.agent, w.other_agent])
    services.accept_offer(offer, actor=Actor(w.other_agent, "api"))
    before = lead_snapshot(lead.pk)

    response = _as(client, w.agent).post(reverse("work:offer_accept", args=[offer.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("work:offer_inbox")
    assert messages_of(response) == [
        "This offer cannot be accepted now (the offer is accepted)."]
    assert lead_snapshot(lead.pk) == before


def test_someone_not_offered_the_lead_gets_404(client):
    w = World()
    lead = make_lead(w.project)
    offer = _offer(w, lead, [w.agent])

    response = _as(client, w.other_agent).post(reverse("work:offer_accept", args=[offer.pk]))

    assert response.status_code == 404
    assert Lead.objects.get(pk=lead.pk).owner_id is None
    assert kinds(lead)[-1] == TimelineKind.OFFER_MADE


def test_decline_in_a_sequence_passes_the_lead_to_the_next_recipient(client):
    w = World()
    lead = make_lead(w.project)
    offer = _offer(w, lead, [w.agent, w.other_agent], mode="sequence", acceptance_minutes=30)

    response = _as(client, w.agent).post(reverse("work:offer_decline", args=[offer.pk]),
                                         {"next": reverse("work:offer_inbox")})

    assert response.status_code == 302
    assert response["Location"] == reverse("work:offer_inbox")
    assert messages_of(response) == ["Offer declined."]
    assert kinds(lead)[-1] == TimelineKind.OFFER_DECLINED
    client.force_login(w.other_agent)
    live = client.get(reverse("work:offer_inbox")).context["live"]
    assert [row.offer_id for row in live] == [offer.pk]


def test_a_waiting_recipient_cannot_decline_yet(client):
    w = World()
    lead = make_lead(w.project)
    offer = _offer(w, lead, [w.agent, w.other_agent], mode="sequence")

    response = _as(client, w.other_agent).post(reverse("work:offer_decline", args=[offer.pk]))

    assert response.status_code == 302
    assert messages_of(response) == [
        "This offer cannot be declined now (your turn has not come yet)."]
    offer.refresh_from_db()
    assert offer.status == OfferStatus.OPEN
    assert kinds(lead)[-1] == TimelineKind.OFFER_MADE


# --- pools ----------------------------------------------------------------------------------


def test_pool_view_lists_waiting_leads_oldest_first_with_claim_buttons(client):
    w = World()
    t0 = timezone.now() - timedelta(hours=3)
    with time_machine.travel(t0, tick=False):
        older = make_lead(w.project, name="Older")
    with time_machine.travel(t0 + timedelta(hours=1), tick=False):
        newer = make_lead(w.project, name="Newer")
    pool = default_pool(w.project)

    response = _as(client, w.agent).get(reverse("work:pool_detail", args=[pool.pk]))

    assert response.status_code == 200
    assert [lead.pk for lead in response.context["leads"]] == [older.pk, newer.pk]
    html = html_of(response)
    assert reverse("crm:lead_claim", args=[older.pk]) in html
    assert "Give me the next lead" in html


def test_pool_view_pages_with_a_cursor(client, monkeypatch):
    from leadflow.web.views import work

    w = World()
    monkeypatch.setattr(work, "POOL_PAGE", 1)
    first, second = make_lead(w.project), make_lead(w.project)
    pool = default_pool(w.project)
    client = _as(client, w.agent)

    page_one = client.get(reverse("work:pool_detail", args=[pool.pk]))
    page_two = client.get(reverse("work:pool_detail", args=[pool.pk]),
                          {"cursor": page_one.context["next_cursor"]})

    assert [lead.pk for lead in page_one.context["leads"]] == [first.pk]
    assert [lead.pk for lead in page_two.context["leads"]] == [second.pk]


def test_pool_view_is_refused_to_non_members_and_hidden_from_outsiders(client):
    w = World()
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])

    refused = _as(client, w.agent).get(reverse("work:pool_detail", args=[vip.pk]))
    hidden = _as(client, w.outsider).get(reverse("work:pool_detail", args=[vip.pk]))

    assert refused.status_code == 403
    assert hidden.status_code == 404


def test_manager_sees_any_pool_of_their_project_without_claim_buttons(client):
    w = World()
    lead = make_lead(w.project)
    pool = default_pool(w.project)

    response = _as(client, w.manager).get(reverse("work:pool_detail", args=[pool.pk]))

    assert response.status_code == 200
    assert [row.pk for row in response.context["leads"]] == [lead.pk]
    assert reverse("crm:lead_claim", args=[lead.pk]) not in html_of(response)


def test_pool_list_shows_my_pools(client):
    w = World()
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])

    agent_pools = list(_as(client, w.agent).get(reverse("work:pool_list")).context["pools"])
    manager_pools = list(_as(client, w.manager).get(reverse("work:pool_list")).context["pools"])

    assert agent_pools == [default_pool(w.project)]
    assert manager_pools == [default_pool(w.project), vip]


def test_give_me_the_next_lead_claims_the_oldest(client):
    w = World()
    oldest = make_lead(w.project)
    make_lead(w.project)
    pool = default_pool(w.project)

    response = _as(client, w.agent).post(reverse("work:pool_next", args=[pool.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_detail", args=[oldest.pk])
    assert Lead.objects.get(pk=oldest.pk).claimed_by_id == w.agent.pk
    assert kinds(oldest)[-1] == TimelineKind.LEAD_CLAIMED


def test_next_from_an_empty_pool_says_no_lead_is_waiting(client):
    w = World()
    pool = default_pool(w.project)

    response = _as(client, w.agent).post(reverse("work:pool_next", args=[pool.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("work:pool_detail", args=[pool.pk])
    assert messages_of(response) == ["No lead is waiting in this pool."]


def test_next_is_refused_outside_ones_pools(client):
    w = World()
    lead = make_lead(w.project)
    vip = project_services.create_pool(w.project, "VIP", actor=SYSTEM, members=[w.viewer.pk])
    before = lead_snapshot(lead.pk)

    response = _as(client, w.agent).post(reverse("work:pool_next", args=[vip.pk]))

    assert response.status_code == 403
    assert lead_snapshot(lead.pk) == before


def test_my_claims_offer_take_ownership_and_release(client):
    w = World()
    lead = make_lead(w.project)
    services.claim(lead, actor=Actor(w.agent, "api"))
    pool = default_pool(w.project)
    client = _as(client, w.agent)
    pool_url = reverse("work:pool_detail", args=[pool.pk])

    page = client.get(pool_url)
    taken = client.post(reverse("crm:lead_take", args=[lead.pk]), {"next": pool_url})

    assert [row.pk for row in page.context["claims"]] == [lead.pk]
    assert reverse("crm:lead_release", args=[lead.pk]) in html_of(page)
    assert taken["Location"] == pool_url
    assert Lead.objects.get(pk=lead.pk).owner_id == w.agent.pk


# --- notifications ----------------------------------------------------------------------------


def test_bell_counts_unread_notifications_and_the_page_lists_them(client):
    w = World()
    lead = make_lead(w.project, name="Bell Lead")
    services.assign(lead, actor=Actor(w.manager, "api"), owner=w.agent)
    client = _as(client, w.agent)

    page = client.get(reverse("work:notifications"))

    html = html_of(page)
    assert 'class="bell-count" data-unread="1"' in html
    assert "Lead Bell Lead was assigned to you." in html
    note = Notification.objects.get(user=w.agent)
    assert f'href="{reverse("work:notification_open", args=[note.pk])}"' in html


def test_mark_all_read_clears_the_bell(client):
    w = World()
    services.assign(make_lead(w.project), actor=Actor(w.manager, "api"), owner=w.agent)
    services.assign(make_lead(w.project), actor=Actor(w.manager, "api"), owner=w.other_agent)
    client = _as(client, w.agent)

    response = client.post(reverse("work:notifications_read"))
    after = html_of(client.get(reverse("work:notifications")))

    assert response.status_code == 302
    assert messages_of(response) == ["1 notification marked read."]
    assert "bell-count" not in after
    assert Notification.objects.filter(user=w.other_agent, read_at__isnull=True).count() == 1


def test_opening_a_notification_marks_it_read_and_goes_to_its_lead(client):
    w = World()
    lead = make_lead(w.project, name="Opened Lead")
    services.assign(lead, actor=Actor(w.manager, "api"), owner=w.agent)
    services.assign(make_lead(w.project), actor=Actor(w.manager, "api"), owner=w.agent)
    opened, other = Notification.objects.filter(user=w.agent).order_by("lead_id")
    client = _as(client, w.agent)

    response = client.get(reverse("work:notification_open", args=[opened.pk]))
    page = html_of(client.get(reverse("work:notifications")))

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_detail", args=[lead.pk])
    assert Notification.objects.get(pk=opened.pk).read_at is not None
    assert Notification.objects.get(pk=other.pk).read_at is None
    assert 'class="bell-count" data-unread="1"' in page


def test_an_offer_notification_opens_the_inbox_and_its_lead_link_the_lead(client):
    w = World()
    lead = make_lead(w.project, name="Offered Lead")
    _offer(w, lead, [w.agent])
    note = Notification.objects.get(user=w.agent, kind="offer")
    client = _as(client, w.agent)
    url = reverse("work:notification_open", args=[note.pk])

    to_inbox = client.get(url)
    to_lead = client.get(f"{url}?to=lead")
    elsewhere = client.get(f"{url}?to=https://evil.example/")

    assert to_inbox["Location"] == reverse("work:offer_inbox")
    assert to_lead["Location"] == reverse("crm:lead_detail", args=[lead.pk])
    assert elsewhere["Location"] == reverse("work:offer_inbox")
    assert Notification.objects.filter(user=w.agent, read_at__isnull=True).exists() is False


def test_opening_a_notification_keeps_the_first_read_time(client):
    w = World()
    services.assign(make_lead(w.project), actor=Actor(w.manager, "api"), owner=w.agent)
    note = Notification.objects.get(user=w.agent)
    client = _as(client, w.agent)
    url = reverse("work:notification_open", args=[note.pk])
    with time_machine.travel(timezone.now(), tick=False):
        client.get(url)
        first = Notification.objects.get(pk=note.pk).read_at

    with time_machine.travel(first + timedelta(hours=1), tick=False):
        client.get(url)

    assert Notification.objects.get(pk=note.pk).read_at == first


def test_another_users_notification_cannot_be_opened(client):
    w = World()
    services.assign(make_lead(w.project), actor=Actor(w.manager, "api"), owner=w.other_agent)
    theirs = Notification.objects.get(user=w.other_agent)

    response = _as(client, w.agent).get(reverse("work:notification_open", args=[theirs.pk]))
    missing = client.get(reverse("work:notification_open", args=[theirs.pk + 1000]))

    assert response.status_code == 404
    assert missing.status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_opening_a_notification_needs_a_login(client):
    w = World()
    services.assign(make_lead(w.project), actor=Actor(w.manager, "api"), owner=w.agent)
    note = Notification.objects.get(user=w.agent)

    response = client.get(reverse("work:notification_open", args=[note.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Notification.objects.get(pk=note.pk).read_at is None


def test_notifications_of_others_are_not_listed(client):
    w = World()
    services.assign(make_lead(w.project, name="Theirs"), actor=Actor(w.manager, "api"),
                    owner=w.other_agent)

    response = _as(client, w.agent).get(reverse("work:notifications"))

    assert list(response.context["notifications"]) == []


def test_bell_counting_is_one_query(client, django_assert_num_queries):
    from leadflow.accounts.selectors import unread_count

    w = World()

    with django_assert_num_queries(1):
        assert unread_count(w.agent) == 0


def test_inbox_and_pool_view_query_counts_do_not_grow_with_rows(
    client, django_assert_max_num_queries
):
    w = World()
    for _ in range(12):
        _offer(w, make_lead(w.project), [w.agent, w.other_agent], mode="sequence")
    for _ in range(12):
        services.claim(make_lead(w.project), actor=Actor(w.agent, "api"))
        make_lead(w.project)
    pool = default_pool(w.project)
    client = _as(client, w.agent)

    with django_assert_max_num_queries(10):
        inbox = client.get(reverse("work:offer_inbox"))
    with django_assert_max_num_queries(10):
        pool_page = client.get(reverse("work:pool_detail", args=[pool.pk]))
    client.force_login(w.manager)
    with django_assert_max_num_queries(12):
        managed = client.get(reverse("work:offer_inbox"))

    assert len(inbox.context["live"]) == 12
    assert len(pool_page.context["claims"]) == 12 and len(pool_page.context["leads"]) == 12
    assert len(managed.context["managed_offers"]) == 12


# --- availability (away flag) -------------------------------------------------------------------


def _away(user, project) -> bool:
    from leadflow.accounts.models import Membership

    return Membership.objects.get(user=user, project=project).away


def test_pools_page_shows_the_agents_availability_and_what_away_means(client):
    w = World()

    html = html_of(_as(client, w.agent).get(reverse("work:pool_list")))

    assert "Available" in html and "Mark me away" in html
    assert "automatic routing skips you" in html
    assert reverse("work:my_away", args=[w.project.pk]) in html
    assert 'class="away-flag"' not in html


def test_agent_marks_themselves_away_then_back(client):
    w = World()
    client = _as(client, w.agent)
    url = reverse("work:my_away", args=[w.project.pk])

    response = client.post(url, {"away": "true"})
    page = html_of(client.get(reverse("work:pool_list")))

    assert response.status_code == 302 and response["Location"] == reverse("work:pool_list")
    assert messages_of(response) == [
        f"You are away in {w.project.name}: automatic routing skips you."]
    assert _away(w.agent, w.project) is True
    assert _away(w.other_agent, w.project) is False
    assert "I'm back" in page and 'class="away-flag"' in page

    client.post(url, {"away": "false"})

    assert _away(w.agent, w.project) is False


def test_away_toggle_answers_the_availability_card_for_htmx(client):
    w = World()

    response = _as(client, w.agent).post(reverse("work:my_away", args=[w.project.pk]),
                                         {"away": "true"}, HTTP_HX_REQUEST="true")

    html = html_of(response)
    assert response.status_code == 200
    assert html.startswith('<section id="availability"')
    assert "state-away" in html and "I'm back" in html
    assert "automatic routing skips you." in html
    # the header's flag follows out of band
    assert '<span id="away-flag" hx-swap-oob="true"><a class="away-flag"' in html


def test_coming_back_by_htmx_clears_the_header_flag(client):
    w = World()
    client = _as(client, w.agent)
    url = reverse("work:my_away", args=[w.project.pk])
    client.post(url, {"away": "true"})

    response = client.post(url, {"away": "false"}, HTTP_HX_REQUEST="true")

    html = html_of(response)
    assert '<span id="away-flag" hx-swap-oob="true"></span>' in html
    assert "state-available" in html


def test_an_away_agent_is_skipped_by_routing(client):
    from tests.factories import make_rule

    w = World()
    make_rule(w.project)
    _as(client, w.agent).post(reverse("work:my_away", args=[w.project.pk]), {"away": "true"})

    owners = {services.route_lead(make_lead(w.project), actor=Actor(w.manager, "api")).owner_id
              for _ in range(4)}

    assert w.agent.pk not in owners
    assert owners <= {w.other_agent.pk, w.viewer.pk}


def test_a_non_member_cannot_set_away_in_a_project(client):
    w = World()

    response = _as(client, w.outsider).post(reverse("work:my_away", args=[w.project.pk]),
                                            {"away": "true"})

    assert response.status_code == 404
    assert _away(w.outsider, w.other_project) is False
    assert _away(w.agent, w.project) is False


def test_away_toggle_needs_a_login_and_a_post(client):
    w = World()
    url = reverse("work:my_away", args=[w.project.pk])

    anonymous = client.post(url, {"away": "true"})
    get = _as(client, w.agent).get(url)

    assert anonymous.status_code == 302
    assert get.status_code == 405
    assert _away(w.agent, w.project) is False
