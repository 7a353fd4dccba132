"""The custom fields screens of a project's settings, and custom fields on the lead forms, the
lead page and the public web form."""

from django.urls import reverse

from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.projects.models import FieldDefinition
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    make_bucket,
    make_field,
    make_lead,
    make_project,
    make_user,
    source_named,
)


def _logged_in(client, user):
    client.force_login(user)
    return client


# --- settings ----------------------------------------------------------------------------------


def test_manager_lists_and_adds_custom_fields(client):
    project = make_project()
    manager = make_user(project, "manager")
    make_field(project, "budget", type="number", nullable=False)
    client = _logged_in(client, manager)
    url = reverse("config:field_definitions", args=[project.pk])

    page = client.get(url).content.decode()
    response = client.post(url, {"name": "tier", "label": "Tier", "type": "choice",
                                 "choices": "Gold\nSilver\n", "unique": "on"})

    assert "Budget" in page and "required" in page
    assert response.status_code == 302
    assert FieldDefinition.objects.filter(project=project).order_by("position").values_list(
        "name", "type", "choices", "nullable", "unique")[1] == (
        "tier", "choice", ["Gold", "Silver"], True, True)


def test_a_refused_field_shows_the_error_on_the_form(client):
    project = make_project()
    manager = make_user(project, "manager")
    url = reverse("config:field_definitions", args=[project.pk])

    response = _logged_in(client, manager).post(url, {"name": "Email", "type": "text"})

    assert response.status_code == 200
    assert "lower-case letters" in response.content.decode()
    assert not FieldDefinition.objects.exists()


def test_manager_edits_a_field_and_a_collision_is_shown_not_saved(client):
    project = make_project()
    manager = make_user(project, "manager")
    definition = make_field(project, "policy_no")
    make_lead(project, custom={"policy_no": "P-1"})
    make_lead(project, custom={"policy_no": "P-1"})
    client = _logged_in(client, manager)
    url = reverse("config:field_definition_edit", args=[definition.pk])

    saved = client.post(url, {"label": "Policy number", "type": "text"})
    refused = client.post(url, {"label": "Policy number", "type": "text", "unique": "on"})

    assert saved.status_code == 302
    assert refused.status_code == 200
    assert "share custom policy_no=p-1" in refused.content.decode()
    definition.refresh_from_db()
    assert (definition.label, definition.unique) == ("Policy number", False)


def test_manager_deletes_a_field(client):
    project = make_project()
    manager = make_user(project, "manager")
    definition = make_field(project, "budget", type="number")
    lead = make_lead(project, custom={"budget": 3})

    response = _logged_in(client, manager).post(
        reverse("config:field_definition_delete", args=[definition.pk]))

    assert response.status_code == 302
    assert not FieldDefinition.objects.exists()
    assert Lead.objects.get(pk=lead.pk).custom == {}


def test_agents_never_reach_the_custom_fields_screens(client):
    project = make_project()
    agent = make_user(project, "agent")
    definition = make_field(project, "budget")
    client = _logged_in(client, agent)

    listing = client.get(reverse("config:field_definitions", args=[project.pk]))
    edit = client.get(reverse("config:field_definition_edit", args=[definition.pk]))
    delete = client.post(reverse("config:field_definition_delete", args=[definition.pk]))

    assert (listing.status_code, edit.status_code, delete.status_code) == (403, 403, 403)
    assert FieldDefinition.objects.filter(pk=definition.pk).exists()


# --- lead forms and page -----------------------------------------------------------------------


def test_the_new_lead_form_has_typed_inputs_and_stores_typed_values(client):
    project = make_project()
    agent = make_user(project, "agent")
    make_field(project, "budget", type="number")
    make_field(project, "renewal", type="date")
    make_field(project, "vip", type="boolean")
    make_field(project, "tier", type="choice", choices=["Gold", "Silver"])
    client = _logged_in(client, agent)
    url = reverse("crm:lead_create")

    form = client.get(url).content.decode()
    response = client.post(url, {"project": project.pk, "name": "Ann", "email": "a@example.com",
                                 "custom__budget": "12", "custom__renewal": "2026-03-01",
                                 "custom__vip": "true", "custom__tier": "Silver"})

    assert 'name="custom__budget"' in form and 'type="number"' in form
    assert 'name="custom__renewal"' in form and 'type="date"' in form
    assert '<option value="Gold">Gold</option>' in form
    assert response.status_code == 302
    assert Lead.objects.get().custom == {"budget": 12, "renewal": "2026-03-01", "vip": True,
                                         "tier": "Silver"}


def test_a_bad_custom_value_shows_on_its_input(client):
    project = make_project()
    agent = make_user(project, "agent")
    make_field(project, "budget", label="Budget", type="number", nullable=False)

    response = _logged_in(client, agent).post(reverse("crm:lead_create"), {
        "project": project.pk, "name": "Ann", "email": "a@example.com", "custom__budget": ""})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["custom__budget"] == ["Budget is required."]
    assert not Lead.objects.exists()


def test_editing_a_lead_changes_only_the_custom_fields_touched(client):
    project = make_project()
    manager = make_user(project, "manager")
    make_field(project, "budget", type="number")
    make_field(project, "segment", type="choice", choices=["SMB"])
    lead = make_lead(project, name="Ann", email="a@example.com", custom={"budget": 5})
    # Added later as required: editing the lead without touching it stays possible.
    project_services.update_field_definition(
        FieldDefinition.objects.get(name="segment"), actor=SYSTEM, nullable=False)
    client = _logged_in(client, manager)
    url = reverse("crm:lead_edit", args=[lead.pk])

    page = client.get(url).content.decode()
    response = client.post(url, {"name": "Ann", "email": "a@example.com", "custom__budget": "6",
                                 "custom__segment": ""})

    assert 'name="custom__budget"' in page and 'value="5"' in page
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 6}
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_UPDATED)
    assert (event.before, event.after) == ({"custom": {"budget": 5}}, {"custom": {"budget": 6}})


def test_the_lead_page_shows_custom_fields_by_their_labels(client):
    project = make_project()
    manager = make_user(project, "manager")
    make_field(project, "budget", label="Yearly budget", type="decimal")
    make_field(project, "vip", label="VIP", type="boolean")
    make_field(project, "note", label="Note")
    lead = make_lead(project, custom={"budget": "1200.50", "vip": False})

    html = _logged_in(client, manager).get(
        reverse("crm:lead_detail", args=[lead.pk])).content.decode()

    assert "<dt>Yearly budget</dt><dd>1200.5</dd>" in html
    assert "<dt>VIP</dt><dd>No</dd>" in html
    assert "<dt>Note</dt><dd>—</dd>" in html


def test_the_public_form_shows_custom_fields_and_their_errors(client):
    project = make_project()
    make_field(project, "budget", label="Budget", type="number")
    bucket, _ = make_bucket(project)
    source = project_services.update_source(source_named(project, "Website"), actor=SYSTEM,
                                            form_enabled=True, form_bucket=bucket.pk)
    url = reverse("webforms:form", args=[project.slug, source.pk])

    form = client.get(url).content.decode()
    refused = client.post(url, {"name": "Ann", "email": "a@example.com",
                                "custom__budget": "lots"})
    accepted = client.post(url, {"name": "Ann", "email": "a@example.com",
                                 "custom__budget": "3"})

    assert 'name="custom__budget"' in form
    assert refused.context["form"].errors["custom__budget"] == [
        "Budget: 'lots' is not a whole number."]
    assert accepted.status_code == 302
    assert Lead.objects.get().custom == {"budget": 3}
