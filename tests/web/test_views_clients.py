"""Clients screens: the list, a client's page, edit, and converting from the lead page."""

from django.urls import reverse

from leadflow.clients.models import Client
from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, as_actor, convert, make_lead


def _logged_in(client, user):
    client.force_login(user)
    return client


def test_the_lead_page_offers_conversion_to_its_owner_only(client):
    w = World()

    own = _logged_in(client, w.agent).get(reverse("crm:lead_detail", args=[w.own_lead.pk]))
    viewer = _logged_in(client, w.viewer).get(reverse("crm:lead_detail", args=[w.own_lead.pk]))

    convert_url = reverse("clients:lead_convert", args=[w.own_lead.pk])
    assert convert_url in own.content.decode()
    assert convert_url not in viewer.content.decode()
    assert 'href="/clients/"' in own.content.decode()


def test_an_agent_converts_from_the_lead_page_and_lands_on_the_client(client):
    w = World()
    url = reverse("clients:lead_convert", args=[w.own_lead.pk])

    page = _logged_in(client, w.agent).get(url)
    response = client.post(url, {"into": ""})

    assert page.status_code == 200 and "a new client is created" in page.content.decode()
    customer = Client.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("clients:client_detail", args=[customer.pk])
    shown = client.get(response["Location"]).content.decode()
    assert reverse("crm:lead_detail", args=[w.own_lead.pk]) in shown
    assert 'data-kind="CLIENT_CREATED"' in shown
    again = client.post(url, {"into": ""})
    assert again["Location"] == reverse("clients:client_detail", args=[customer.pk])
    assert Client.objects.count() == 1


def test_the_convert_page_offers_a_matching_client_and_merges_into_it(client):
    w = World()
    existing = convert(w.other_lead)
    returning = make_lead(w.project, owner=w.agent, name="Returning", email="r@example.com")
    from leadflow.crm import services as crm_services
    from leadflow.crm.contact import LeadInput

    twin = crm_services.create_lead(w.project, LeadInput(name="Twin", email=w.other_lead.email),
                                    actor=as_actor(w.manager), on_duplicate="keep_both").lead
    url = reverse("clients:lead_convert", args=[twin.pk])

    page = _logged_in(client, w.manager).get(url).content.decode()
    response = client.post(url, {"into": str(existing.pk)})

    assert f"Existing client #{existing.pk}" in page
    assert response["Location"] == reverse("clients:client_detail", args=[existing.pk])
    assert Lead.objects.get(pk=twin.pk).client_id == existing.pk
    assert Lead.objects.get(pk=returning.pk).client_id is None
    assert Client.objects.count() == 1


def test_someone_elses_lead_cannot_be_converted_from_the_ui(client):
    w = World()

    response = _logged_in(client, w.viewer).post(
        reverse("clients:lead_convert", args=[w.own_lead.pk]), {"into": ""})

    assert response.status_code == 403
    assert not Client.objects.exists()


def test_clients_list_shows_what_the_user_may_see_and_searches(client):
    w = World()
    mine = convert(make_lead(w.project, owner=w.agent, name="Ada Lovelace"))
    theirs = convert(make_lead(w.project, owner=w.other_agent, name="Grace Hopper"))

    agent_page = _logged_in(client, w.agent).get(reverse("clients:client_list")).content.decode()
    manager = _logged_in(client, w.manager)
    searched = manager.get(reverse("clients:client_list"), {"q": "grace"},
                           HTTP_HX_REQUEST="true").content.decode()

    assert "Ada Lovelace" in agent_page and "Grace Hopper" not in agent_page
    assert "<html" not in searched
    assert reverse("clients:client_detail", args=[theirs.pk]) in searched
    assert reverse("clients:client_detail", args=[mine.pk]) not in searched


def test_a_client_page_is_404_for_an_agent_who_does_not_own_it(client):
    w = World()
    theirs = convert(w.other_lead)

    response = _logged_in(client, w.agent).get(
        reverse("clients:client_detail", args=[theirs.pk]))

    assert response.status_code == 404


def test_the_owner_edits_contact_fields_and_a_manager_the_owner(client):
    w = World()
    mine = convert(w.own_lead)
    url = reverse("clients:client_edit", args=[mine.pk])

    form = _logged_in(client, w.agent).get(url).content.decode()
    saved = client.post(url, {"name": "Ada King", "email": w.own_lead.email, "phones": "",
                              "company": "Engines"})
    assert 'name="owner"' not in form
    assert saved.status_code == 302
    mine.refresh_from_db()
    assert (mine.name, mine.company) == ("Ada King", "Engines")

    _logged_in(client, w.manager).post(url, {
        "name": "Ada King", "email": w.own_lead.email, "phones": "", "company": "Engines",
        "owner": str(w.other_agent.pk)})
    mine.refresh_from_db()
    assert mine.owner_id == w.other_agent.pk
    kinds = list(TimelineEvent.objects.filter(client_id=mine.pk).order_by("id")
                 .values_list("kind", flat=True))
    assert kinds == [TimelineKind.CLIENT_CREATED, TimelineKind.CLIENT_UPDATED,
                     TimelineKind.CLIENT_OWNER_CHANGED]


def test_edit_errors_stay_on_the_form(client):
    w = World()
    mine = convert(w.own_lead)

    response = _logged_in(client, w.agent).post(
        reverse("clients:client_edit", args=[mine.pk]),
        {"name": "", "email": "", "phones": "", "company": ""})

    assert response.status_code == 200
    assert "field-error" in response.content.decode()
    mine.refresh_from_db()
    assert mine.name == w.own_lead.name


def test_viewer_may_not_edit_a_client(client):
    w = World()
    mine = convert(w.own_lead)

    response = _logged_in(client, w.viewer).get(reverse("clients:client_edit", args=[mine.pk]))

    assert response.status_code == 403


def test_a_new_lead_for_a_client_from_its_page_is_an_upsell_lead(client):
    w = World()
    mine = convert(w.own_lead)
    create_url = reverse("crm:lead_create")

    page = _logged_in(client, w.agent).get(reverse("clients:client_detail", args=[mine.pk]))
    form = client.get(create_url, {"project": w.project.pk, "client": mine.pk})
    response = client.post(create_url, {"project": w.project.pk, "client": mine.pk,
                                        "name": mine.name, "email": mine.email})

    assert f"client={mine.pk}" in page.content.decode()
    assert 'name="client"' in form.content.decode()
    upsell = Lead.objects.exclude(pk__in=[w.own_lead.pk, w.other_lead.pk]).get()
    assert response["Location"] == reverse("crm:lead_detail", args=[upsell.pk])
    assert (upsell.client_id, upsell.owner_id) == (mine.pk, w.agent.pk)


def test_a_new_lead_for_a_client_one_cannot_see_is_404(client):
    w = World()
    theirs = convert(w.other_lead)

    response = _logged_in(client, w.agent).get(
        reverse("crm:lead_create"), {"project": w.project.pk, "client": theirs.pk})

    assert response.status_code == 404
