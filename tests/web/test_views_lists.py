"""List, campaign and export screens: settings pages by role, adding a contact by hand, the
dual-list picker without JavaScript (search, select all, assign, unassign) and its htmx
search, the leads list's list filter and bulk add by filter, and the export screens."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from leadflow.crm.models import Lead
from leadflow.jobs.models import Job
from leadflow.lists.models import Campaign, CampaignList, LeadList
from tests.factories import World, make_campaign, make_lead, make_list, put_on_list

HTMX = {"HTTP_HX_REQUEST": "true"}


def _as(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def w():
    return World()


@pytest.mark.parametrize(("_case", "who", "status"), [
    ("agent", "agent", 403), ("manager", "manager", 200), ("admin", "admin", 200),
    ("manager of another project", "foreign_manager", 404),
])
def test_lists_screen_is_for_managers(client, w, _case, who, status):
    make_list(w.project, name="Spring fair")
    response = _as(client, w.user(who)).get(reverse("config:lists", args=[w.project.pk]))
    assert response.status_code == status
    if status == 200:
        assert "Spring fair" in response.content.decode()


def test_manager_creates_edits_and_deletes_a_list(client, w):
    _as(client, w.manager)
    response = client.post(reverse("config:lists", args=[w.project.pk]), {
        "name": "Fair", "timezone": "Europe/Rome", "owner": w.agent.pk, "enabled": "on"})
    assert response.status_code == 302
    lead_list = LeadList.objects.get()
    assert (lead_list.timezone, lead_list.owner_id, lead_list.enabled) == ("Europe/Rome",
                                                                           w.agent.pk, True)

    response = client.post(reverse("config:list_detail", args=[lead_list.pk]),
                           {"name": "Fair 2", "timezone": "Bad/Zone"})
    assert response.status_code == 200
    assert "IANA" in response.content.decode()
    client.post(reverse("config:list_detail", args=[lead_list.pk]), {"name": "Fair 2"})
    assert (LeadList.objects.get().name, LeadList.objects.get().enabled) == ("Fair 2", False)

    put_on_list(lead_list, w.own_lead)
    client.post(reverse("config:list_delete", args=[lead_list.pk]))
    assert not LeadList.objects.exists()
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None


def test_add_a_contact_by_hand_by_email_or_number_and_remove_it(client, w):
    lead_list = make_list(w.project)
    _as(client, w.manager)

    client.post(reverse("config:list_add_lead", args=[lead_list.pk]),
                {"lead": w.own_lead.email.upper()})
    client.post(reverse("config:list_add_lead", args=[lead_list.pk]),
                {"lead": f"#{w.other_lead.pk}"})

    assert set(Lead.objects.filter(list=lead_list).values_list("pk", flat=True)) == {
        w.own_lead.pk, w.other_lead.pk}
    page = client.get(reverse("config:list_detail", args=[lead_list.pk])).content.decode()
    assert f'data-lead="{w.own_lead.pk}"' in page

    client.post(reverse("config:list_remove_lead", args=[lead_list.pk, w.own_lead.pk]))
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None


def test_agent_cannot_add_a_contact_to_a_list(client, w):
    lead_list = make_list(w.project)
    response = _as(client, w.agent).post(reverse("config:list_add_lead", args=[lead_list.pk]),
                                         {"lead": str(w.own_lead.pk)})
    assert response.status_code == 403
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None


def test_manager_creates_a_campaign_on_the_screen(client, w):
    response = _as(client, w.manager).post(reverse("config:campaigns", args=[w.project.pk]),
                                           {"name": "Autumn", "channel": "mail",
                                            "active": "on"})
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.channel, campaign.own_list.name) == (
        "Autumn", "mail", "Autumn (campaign)")


def test_dual_list_picker_without_javascript(client, w):
    fair, fall, other = (make_list(w.project, name="Fair north"),
                         make_list(w.project, name="Fair south"), make_list(w.project, name="Web"))
    campaign = make_campaign(w.project)
    _as(client, w.manager)
    url = reverse("config:campaign_lists", args=[campaign.pk])

    # Search: the boxes show what matches.
    response = client.post(url, {"action": "search", "available_q": "fair"})
    page = client.get(response.url).content.decode()
    assert "Fair north" in page and "Fair south" in page
    assert f'<option value="{other.pk}">' not in page

    # Select all shown and assign.
    client.post(url, {"action": "assign", "available_q": "fair", "available_all": "1"})
    assert set(CampaignList.objects.values_list("list_id", flat=True)) == {fair.pk, fall.pk}

    # Assign one ticked list, then unassign one.
    client.post(url, {"action": "assign", "available": [other.pk]})
    client.post(url, {"action": "unassign", "assigned": [fair.pk]})
    assert set(CampaignList.objects.values_list("list_id", flat=True)) == {fall.pk, other.pk}
    # A campaign's own list is never offered.
    page = client.get(reverse("config:campaign_detail", args=[campaign.pk])).content.decode()
    assert f'<option value="{campaign.own_list_id}">' not in page


def test_picker_search_with_htmx_answers_only_the_box(client, w):
    make_list(w.project, name="Alpha")
    make_list(w.project, name="Beta")
    campaign = make_campaign(w.project)
    response = _as(client, w.manager).get(
        reverse("config:campaign_detail", args=[campaign.pk]),
        {"box": "available", "available_q": "alp"}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<select multiple size="10" name="available"')
    assert "Alpha" in html and "Beta" not in html


def test_campaign_screen_lists_the_campaigns_leads(client, w):
    lead_list = make_list(w.project)
    campaign = make_campaign(w.project, lists=[lead_list])
    put_on_list(lead_list, w.own_lead)
    page = _as(client, w.manager).get(reverse("config:campaign_detail", args=[campaign.pk]))
    assert f'data-lead="{w.own_lead.pk}"' in page.content.decode()
    assert f'data-lead="{w.other_lead.pk}"' not in page.content.decode()


# --- the leads list -----------------------------------------------------------------------------


def test_leads_list_filters_by_list(client, w):
    lead_list = make_list(w.project, name="Only these")
    put_on_list(lead_list, w.other_lead)
    response = _as(client, w.manager).get(reverse("crm:lead_list"), {"list": lead_list.pk})
    assert [lead.pk for lead in response.context["leads"]] == [w.other_lead.pk]
    assert "Only these" in response.content.decode()


def test_bulk_add_to_campaign_by_the_lists_filter(client, w):
    campaign = make_campaign(w.project)
    acme = [make_lead(w.project, company="Acme") for _ in range(2)]
    _as(client, w.manager)
    response = client.post(reverse("crm:lead_bulk"), {
        "action": "add_to_campaign", "campaign": campaign.pk, "all_matching": "1",
        "next": reverse("crm:lead_list") + "?q=acme"})
    assert response.status_code == 302
    assert set(Lead.objects.filter(list_id=campaign.own_list_id)
               .values_list("pk", flat=True)) == {lead.pk for lead in acme}


def test_bulk_add_to_list_by_ticked_leads(client, w):
    lead_list = make_list(w.project)
    _as(client, w.manager).post(reverse("crm:lead_bulk"), {
        "action": "add_to_list", "list": lead_list.pk, "ids": [w.own_lead.pk]})
    assert list(Lead.objects.filter(list=lead_list).values_list("pk", flat=True)) == [
        w.own_lead.pk]


# --- exports ------------------------------------------------------------------------------------


def test_export_from_the_leads_list_filter(client, w, django_capture_on_commit_callbacks):
    make_lead(w.project, name="=evil", company="Acme")
    _as(client, w.manager)
    listing = client.get(reverse("crm:lead_list"), {"q": "acme"}).content.decode()
    assert reverse("exports:export_new") + "?q=acme" in listing

    form = client.get(reverse("exports:export_new"), {"q": "acme"})
    assert form.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("exports:export_new"), {
            "filter": "q=acme", "format": "xlsx", "columns": ["name", "company"]})
    assert response.status_code == 302
    job = Job.objects.get()
    listing = client.get(reverse("exports:export_list")).content.decode()
    assert reverse("exports:export_download", args=[job.pk]) in listing

    download = client.get(reverse("exports:export_download", args=[job.pk]))
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
        ["name", "company"], ["'=evil", "Acme"]]


def test_someone_elses_export_is_404(client, w, django_capture_on_commit_callbacks):
    _as(client, w.manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports:export_new"), {"filter": "", "format": "csv",
                                                    "columns": ["id"]})
    job = Job.objects.get()
    response = _as(client, w.agent).get(reverse("exports:export_download", args=[job.pk]))
    assert response.status_code == 404
