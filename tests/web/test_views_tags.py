"""Tag screens: the lead page's tags panel, the approvals queue and its nav badge, the tag and
tag rule settings, and the bulk bar's tag action."""

import pytest
from django.urls import reverse

from leadflow.tags.models import ChangeRequest, Tag, TagRule
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, event_count, make_lead
from tests.tags.helpers import make_tag, make_tag_rule, tag_names_of

HTMX = {"HTTP_HX_REQUEST": "true"}


def _as(client, user):
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


@pytest.fixture
def w():
    world = World()
    world.hot = make_tag(world.project, "Hot")
    world.vip = make_tag(world.project, "VIP", modifiable=False)
    return world


# --- the lead page ----------------------------------------------------------------------------


def test_owner_sees_the_tags_panel_with_what_needs_approval(client, w):
    page = _as(client, w.agent).get(reverse("crm:lead_detail", args=[w.own_lead.pk]))
    html = page.content.decode()
    assert 'id="tags"' in html
    assert '<option value="Hot">Hot</option>' in html
    assert '<option value="VIP">VIP (needs approval)</option>' in html


def test_viewer_of_someone_elses_lead_sees_tags_but_no_controls(client, w):
    page = _as(client, w.viewer).get(reverse("crm:lead_detail", args=[w.own_lead.pk]))
    html = page.content.decode()
    assert 'id="tags"' in html and 'name="add"' not in html


def test_owner_adds_a_modifiable_tag_with_htmx(client, w):
    response = _as(client, w.agent).post(
        reverse("tags:lead_tags", args=[w.own_lead.pk]), {"add": "Hot"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Added Hot." in html
    assert 'id="timeline"' in html and 'hx-swap-oob="true"' in html
    assert tag_names_of(w.own_lead) == ["Hot"]


def test_owner_asking_for_a_non_modifiable_tag_sees_it_pending(client, w):
    response = _as(client, w.agent).post(
        reverse("tags:lead_tags", args=[w.own_lead.pk]), {"add": "VIP"}, **HTMX)
    html = response.content.decode()
    assert "Asked a manager to add VIP." in html
    assert 'data-state="pending"' in html
    assert tag_names_of(w.own_lead) == []


def test_refused_tag_change_is_shown_in_the_panel(client, w):
    before = event_count()
    response = _as(client, w.viewer).post(
        reverse("tags:lead_tags", args=[w.own_lead.pk]), {"add": "Hot"}, **HTMX)
    assert "Only the lead&#x27;s owner or a manager may change it." in response.content.decode()
    assert event_count() == before


def test_without_javascript_the_change_redirects_with_a_message(client, w):
    response = _as(client, w.manager).post(
        reverse("tags:lead_tags", args=[w.own_lead.pk]), {"add": "VIP"})
    assert response.status_code == 302
    assert messages_of(response) == ["Added VIP."]


def test_a_rule_that_moves_the_lead_refreshes_the_page(client, w):
    make_tag_rule(w.project, w.hot, "unassign")
    response = _as(client, w.agent).post(
        reverse("tags:lead_tags", args=[w.own_lead.pk]), {"add": "Hot"}, **HTMX)
    assert response["HX-Refresh"] == "true"


def test_invisible_lead_is_404(client, w):
    response = _as(client, w.outsider).post(
        reverse("tags:lead_tags", args=[w.own_lead.pk]), {"add": "Hot"})
    assert response.status_code == 404


# --- approvals --------------------------------------------------------------------------------


def ask(w):
    from leadflow.core.actor import Actor
    from leadflow.tags import services

    return services.change_lead_tags(w.own_lead, actor=Actor(w.agent),
                                     add=["VIP"]).change_requests[0]


def test_managers_see_the_queue_and_a_nav_badge(client, w):
    request = ask(w)
    page = _as(client, w.manager).get(reverse("tags:approvals"))
    html = page.content.decode()
    assert f'id="change-request-{request.pk}"' in html
    assert 'data-pending="1"' in html


def test_agents_have_no_approvals(client, w):
    ask(w)
    page = _as(client, w.agent).get(reverse("crm:lead_list"))
    assert reverse("tags:approvals") not in page.content.decode()
    assert _as(client, w.agent).get(reverse("tags:approvals")).status_code == 403


def test_approving_in_the_queue_with_htmx_answers_the_decided_row(client, w):
    request = ask(w)
    response = _as(client, w.manager).post(reverse("tags:decide", args=[request.pk]),
                                           {"decision": "approve"}, **HTMX)
    html = response.content.decode()
    assert 'data-state="approved"' in html
    assert tag_names_of(w.own_lead) == ["VIP"]


def test_rejecting_without_a_reason_is_refused_in_the_row(client, w):
    request = ask(w)
    response = _as(client, w.manager).post(reverse("tags:decide", args=[request.pk]),
                                           {"decision": "reject"}, **HTMX)
    assert "Say why the change is rejected." in response.content.decode()
    assert ChangeRequest.objects.get().state == "pending"
    response = _as(client, w.manager).post(reverse("tags:decide", args=[request.pk]),
                                           {"decision": "reject", "reason": "No"})
    assert response.status_code == 302
    assert messages_of(response) == ["Change request rejected."]
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_CHANGE_REJECTED).count() == 1


def test_agents_cannot_decide_from_the_ui(client, w):
    request = ask(w)
    response = _as(client, w.agent).post(reverse("tags:decide", args=[request.pk]),
                                         {"decision": "approve"})
    assert messages_of(response) == ["Only a manager of the project decides change requests."]
    assert ChangeRequest.objects.get().state == "pending"


# --- settings ---------------------------------------------------------------------------------


def test_manager_adds_edits_and_deletes_tags(client, w):
    _as(client, w.manager)
    url = reverse("config:tags", args=[w.project.pk])
    response = client.post(url, {"name": "Callback"})
    assert response.status_code == 302
    tag = Tag.objects.get(name="Callback")
    assert tag.is_modifiable is False  # an unticked box
    response = client.post(reverse("config:tag_edit", args=[tag.pk]),
                           {f"t{tag.pk}-name": "Call back", f"t{tag.pk}-is_modifiable": "on"})
    tag.refresh_from_db()
    assert (tag.name, tag.is_modifiable) == ("Call back", True)
    response = client.post(url, {"name": "hot"})
    assert "A tag with this name exists in the project already." in response.content.decode()
    client.post(reverse("config:tag_delete", args=[tag.pk]))
    assert not Tag.objects.filter(pk=tag.pk).exists()


def test_agents_never_reach_tag_settings(client, w):
    _as(client, w.agent)
    assert client.get(reverse("config:tags", args=[w.project.pk])).status_code == 403
    assert client.get(reverse("config:tag_rules", args=[w.project.pk])).status_code == 403
    assert client.post(reverse("config:tag_delete", args=[w.hot.pk])).status_code == 403
    assert Tag.objects.filter(pk=w.hot.pk).exists()


def test_manager_adds_edits_and_deletes_tag_rules(client, w):
    _as(client, w.manager)
    url = reverse("config:tag_rules", args=[w.project.pk])
    response = client.post(url, {"tag": w.vip.pk, "action": "notify", "notify_managers": "on",
                                 "message": "VIP!", "active": "on"})
    assert response.status_code == 302
    rule = TagRule.objects.get()
    assert (rule.tag_id, rule.action, rule.notify_managers, rule.message) == (
        w.vip.pk, "notify", True, "VIP!")
    page = client.get(url, {"edit": rule.pk})
    assert f"Edit rule #{rule.pk}" in page.content.decode()
    client.post(reverse("config:tag_rule_edit", args=[rule.pk]),
                {"tag": w.hot.pk, "action": "unassign", "active": "on"})
    rule.refresh_from_db()
    assert (rule.tag_id, rule.action) == (w.hot.pk, "unassign")
    response = client.post(url, {"tag": w.hot.pk, "action": "notify", "active": "on"})
    assert "Say whom to notify" in response.content.decode()
    client.post(reverse("config:tag_rule_delete", args=[rule.pk]))
    assert not TagRule.objects.exists()


# --- bulk -------------------------------------------------------------------------------------


def test_bulk_bar_tags_the_ticked_leads(client, w):
    third = make_lead(w.project)
    response = _as(client, w.manager).post(reverse("crm:lead_bulk"), {
        "action": "tag", "ids": [w.own_lead.pk, third.pk], "add_tags": "Hot, VIP",
        "remove_tags": ""})
    assert messages_of(response) == ["Tag: 2 done, 0 skipped."]
    assert tag_names_of(third) == ["Hot", "VIP"]


def test_leads_list_filters_by_tag_and_shows_tags(client, w):
    from leadflow.core.actor import Actor
    from leadflow.tags import services

    services.change_lead_tags(w.other_lead, actor=Actor(w.manager), add=["Hot"])
    page = _as(client, w.manager).get(reverse("crm:lead_list"), {"tag": "hot"})
    assert [lead.pk for lead in page.context["leads"]] == [w.other_lead.pk]
    assert '<span class="tag-chip small">Hot</span>' in page.content.decode()
