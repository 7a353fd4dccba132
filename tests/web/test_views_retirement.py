"""The Retired leads screen: who reaches it, what it lists and filters, and reassigning from it
one by one or in bulk."""

from django.urls import reverse

from leadflow.core.actor import Actor
from leadflow.crm import services as crm_services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.crm.services.retirement import retire_lead
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    World,
    default_pool,
    event_count,
    lead_snapshot,
    make_lead,
    source_named,
)

URL = reverse("retirement:retired_list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def _as(client, user):
    client.force_login(user)
    return client


def retired(w, owner, *, source=None, **fields) -> Lead:
    if source is not None:
        data = LeadInput(name=fields.pop("name", "Referred Lead"), email=f"{source}@example.com")
        lead = crm_services.create_lead(w.project, data, actor=Actor(w.manager, "ui"),
                                        owner=owner, source=source_named(w.project, source)).lead
    else:
        lead = make_lead(w.project, owner=owner, actor=Actor(w.manager, "ui"), **fields)
    return retire_lead(lead, actor=Actor(None, "job"), reason="Idle")


def test_a_manager_sees_retired_leads_with_who_had_them(client, django_assert_max_num_queries):
    w = World()
    lead = retired(w, w.agent, name="Dora Idle")
    make_lead(w.project, name="Still Worked", owner=w.agent)

    _as(client, w.manager).get(URL)  # the first request of a session reads more once
    # (16: the bulk bar's lists and campaigns are two of them)
    with django_assert_max_num_queries(16):
        response = client.get(URL)

    assert response.status_code == 200
    assert [row.pk for row in response.context["leads"]] == [lead.pk]
    body = response.content.decode()
    assert "Dora Idle" in body and "Still Worked" not in body
    assert response.context["leads"][0].had_it == w.agent.email
    assert f'href="{URL}"' in body  # the nav link


def test_filters_by_who_had_it_and_source(client):
    w = World()
    mine = retired(w, w.agent)
    theirs = retired(w, w.other_agent, source="Referral")
    c = _as(client, w.manager)

    def listed(**params):
        return [row.pk for row in c.get(URL, params, **HTMX).context["leads"]]

    assert sorted(listed()) == sorted([mine.pk, theirs.pk])
    assert listed(had_it=w.agent.pk) == [mine.pk]
    assert listed(had_it=w.other_agent.pk) == [theirs.pk]
    assert listed(source=source_named(w.project, "Referral").pk) == [theirs.pk]


def test_an_agent_cannot_see_the_retired_screen_nor_its_link(client):
    w = World()
    retired(w, w.agent)

    response = _as(client, w.agent).get(URL)
    page = client.get(reverse("crm:lead_list"))

    assert response.status_code == 403
    assert f'href="{URL}"' not in page.content.decode()


def test_a_foreign_manager_sees_none_of_the_projects_retired_leads(client):
    w = World()
    retired(w, w.agent)

    response = _as(client, w.foreign_manager).get(URL)

    assert (response.status_code, list(response.context["leads"])) == (200, [])


def test_a_manager_reassigns_one_retired_lead_from_the_screen(client):
    w = World()
    lead = retired(w, w.agent)

    response = _as(client, w.manager).post(
        reverse("crm:lead_assign", args=[lead.pk]),
        {"pool": default_pool(w.project).pk, "owner": w.other_agent.pk, "next": URL})

    assert response.status_code == 302 and response["Location"] == URL
    row = Lead.objects.get(pk=lead.pk)
    assert (row.owner_id, row.retired_at) == (w.other_agent.pk, None)
    event = TimelineEvent.objects.filter(lead_id=lead.pk).latest("id")
    assert (event.kind, event.actor_id, event.before["retired"], event.after["retired"]) == (
        TimelineKind.LEAD_ASSIGNED, w.manager.pk, True, False)
    assert list(_as(client, w.manager).get(URL).context["leads"]) == []


def test_a_manager_reassigns_the_whole_page_in_bulk(client):
    w = World()
    leads = [retired(w, w.agent) for _ in range(3)]

    response = _as(client, w.manager).post(reverse("crm:lead_bulk"), {
        "action": "assign", "all_on_page": "1", "page_ids": [lead.pk for lead in leads],
        "owner": w.other_agent.pk, "next": URL})

    assert response.status_code == 302
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads])
               .values_list("owner_id", "retired_at")) == {(w.other_agent.pk, None)}


def test_an_agent_cannot_reassign_a_retired_lead_from_the_screen(client):
    w = World()
    lead = retired(w, w.agent)
    before, events = lead_snapshot(lead.pk), event_count()

    response = _as(client, w.agent).post(
        reverse("crm:lead_assign", args=[lead.pk]),
        {"pool": default_pool(w.project).pk, "owner": w.agent.pk, "next": URL})

    assert response.status_code in (403, 404)
    assert (lead_snapshot(lead.pk), event_count()) == (before, events)


def test_the_lead_page_says_the_lead_is_retired_until_it_is_reassigned(client):
    w = World()
    lead = retired(w, w.agent)
    c = _as(client, w.manager)

    assert "second chance" in c.get(reverse("crm:lead_detail", args=[lead.pk])).content.decode()
    c.post(reverse("crm:lead_assign", args=[lead.pk]),
           {"pool": default_pool(w.project).pk, "owner": w.agent.pk})
    assert "second chance" not in c.get(
        reverse("crm:lead_detail", args=[lead.pk])).content.decode()
