"""Lead pages: list (full page and htmx partial), detail, create, edit, stage, delete."""

import pytest
from django.urls import reverse

from leadflow.crm.filters import ORDERINGS
from leadflow.crm.models import Lead
from leadflow.projects.models import Stage, Status
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import make_lead, make_project, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}


def _logged_in(client, user):
    client.force_login(user)
    return client


# --- list ------------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("crm:lead_list"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('crm:lead_list')}"


def test_expired_session_on_htmx_request_redirects_the_whole_page(client):
    response = client.get(reverse("crm:lead_list"), {"q": "x"}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next=%2F"


def test_root_redirects_to_leads(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_list")


def test_leads_list_full_page_shows_filters_and_rows(client):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project, name="Ada Lovelace", company="Analytical")

    response = _logged_in(client, manager).get(reverse("crm:lead_list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert 'name="q"' in html and 'name="status"' in html and 'name="ordering"' in html
    assert 'hx-push-url="true"' in html
    assert reverse("crm:lead_detail", args=[lead.pk]) in html
    assert "Ada Lovelace" in html
    assert response["Vary"].count("HX-Request") == 1


def test_leads_list_htmx_request_gets_only_the_table_partial(client):
    project = make_project()
    manager = make_user(project, "manager")
    make_lead(project, name="Grace Hopper")
    make_lead(project, name="Alan Turing")

    response = _logged_in(client, manager).get(reverse("crm:lead_list"), {"q": "grace"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="lead-results"')
    assert "Grace Hopper" in html
    assert "Alan Turing" not in html


def test_history_restore_gets_the_full_page(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = _logged_in(client, manager).get(
        reverse("crm:lead_list"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )

    assert "<html" in response.content.decode()


def test_agent_sees_only_own_leads_in_list(client):
    project = make_project()
    agent = make_user(project, "agent")
    other = make_user(project, "agent")
    make_lead(project, owner=agent, name="Mine Lead")
    make_lead(project, owner=other, name="Theirs Lead")

    response = _logged_in(client, agent).get(reverse("crm:lead_list"))

    html = response.content.decode()
    assert "Mine Lead" in html
    assert "Theirs Lead" not in html


def test_leads_list_filters_by_status_and_unassigned(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    make_lead(project, owner=agent, name="Owned Person")
    make_lead(project, name="Free Person")

    client = _logged_in(client, manager)
    unassigned = client.get(reverse("crm:lead_list"), {"unassigned": "on"}).content.decode()
    lost = client.get(reverse("crm:lead_list"), {"status": Status.LOST}).content.decode()

    assert "Free Person" in unassigned and "Owned Person" not in unassigned
    assert "Free Person" not in lost and "Owned Person" not in lost
    assert "No leads match" in lost


def test_leads_list_pages_with_a_cursor_link(client):
    project = make_project()
    manager = make_user(project, "manager")
    leads = [make_lead(project, name=f"Person {i:02d}") for i in range(52)]

    client = _logged_in(client, manager)
    first = client.get(reverse("crm:lead_list"), {"ordering": "name"})
    cursor = first.context["next_cursor"]
    second = client.get(reverse("crm:lead_list"), {"ordering": "name", "cursor": cursor})

    assert [lead.pk for lead in first.context["leads"]] == [lead.pk for lead in leads[:50]]
    assert "Next page" in first.content.decode()
    assert [lead.pk for lead in second.context["leads"]] == [leads[50].pk, leads[51].pk]
    assert second.context["next_cursor"] is None
    assert "First page" in second.content.decode()


@pytest.mark.parametrize("ordering", list(ORDERINGS))
def test_following_next_page_links_shows_every_lead_once(client, ordering):
    project = make_project()
    manager = make_user(project, "manager")
    ids = {make_lead(project, name=f"Person {i % 7}").pk for i in range(53)}
    client = _logged_in(client, manager)

    seen, pages, params = [], 0, {"ordering": ordering}
    while True:
        response = client.get(reverse("crm:lead_list"), params, **HTMX)
        seen += [lead.pk for lead in response.context["leads"]]
        pages += 1
        if response.context["next_cursor"] is None or pages == 5:
            break
        params["cursor"] = response.context["next_cursor"]

    assert pages == 2
    assert sorted(seen) == sorted(ids)


def test_leads_list_shows_a_bad_cursor_as_an_error_not_a_crash(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = _logged_in(client, manager).get(reverse("crm:lead_list"), {"cursor": "%%%"})

    assert response.status_code == 200
    assert "Cursor is not valid." in response.content.decode()


def test_leads_list_query_count_does_not_grow_with_rows(client, django_assert_max_num_queries):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    for i in range(30):
        make_lead(project, owner=agent if i % 2 else None, phones=[f"+1202555{i:04d}"])
    client = _logged_in(client, manager)

    # + the bell's unread count and the bulk bar's pools and owners (managers only),
    # the page's tags and the approvals badge; the list filter's and the bulk bar's lists and
    # campaigns.
    with django_assert_max_num_queries(17):
        full = client.get(reverse("crm:lead_list"))
    with django_assert_max_num_queries(7):
        partial = client.get(reverse("crm:lead_list"), {"q": "lead"}, **HTMX)

    assert len(full.context["leads"]) == 30
    assert len(partial.context["leads"]) == 30


# --- lead page -------------------------------------------------------------------------------


def test_lead_page_shows_contact_pipeline_and_timeline(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent, name="Ada Lovelace", phones=["+12025550123"])

    response = _logged_in(client, agent).get(reverse("crm:lead_detail", args=[lead.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "+12025550123" in html
    assert 'data-kind="LEAD_CREATED"' in html
    assert 'name="stage"' in html
    assert reverse("crm:lead_edit", args=[lead.pk]) in html
    assert reverse("crm:lead_delete", args=[lead.pk]) not in html


def test_agent_gets_404_for_other_agents_lead(client):
    project = make_project()
    agent = make_user(project, "agent")
    other = make_user(project, "agent")
    lead = make_lead(project, owner=other)

    response = _logged_in(client, agent).get(reverse("crm:lead_detail", args=[lead.pk]))

    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_missing_lead_is_404(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = _logged_in(client, manager).get(reverse("crm:lead_detail", args=[999999]))

    assert response.status_code == 404


def test_lead_page_query_count_is_bounded(client, django_assert_max_num_queries):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project)
    client = _logged_in(client, manager)

    # + the ownership panel: pool membership, the assign and offer dialogs' choices (pools,
    # members, offices, groups, default period) and the bell's unread count; the stage form's
    # lost reasons, the activity panel's activities and call outcomes. The tags panel adds the
    # lead's tags, the project's tags and its change requests; the nav the approvals badge;
    # the details panel the project's custom fields.
    with django_assert_max_num_queries(24):
        response = client.get(reverse("crm:lead_detail", args=[lead.pk]))

    assert response.status_code == 200


def test_timeline_pages_older_events(client):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project)
    stages = list(Stage.objects.filter(project=project, status__in=["NOT_CONTACTED", "CONTACTED"]))
    from leadflow.core.actor import Actor
    from leadflow.crm import services

    for i in range(22):
        services.set_stage(lead, stages[(i + 1) % 2], actor=Actor(manager, "ui"))
    client = _logged_in(client, manager)

    first = client.get(reverse("crm:lead_detail", args=[lead.pk]))
    older = client.get(
        reverse("crm:lead_timeline", args=[lead.pk]), {"cursor": first.context["next_events"]},
        **HTMX,
    )

    assert len(first.context["events"]) == 20
    assert first.context["events"][0].kind == TimelineKind.STAGE_CHANGED
    assert [e.kind for e in older.context["events"]] == [
        TimelineKind.STAGE_CHANGED, TimelineKind.STAGE_CHANGED, TimelineKind.LEAD_CREATED
    ]
    assert "<html" not in older.content.decode()


# --- stage -----------------------------------------------------------------------------------


def test_stage_change_records_stage_changed_event(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent)
    contacted = Stage.objects.get(project=project, name="Contacted")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_stage", args=[lead.pk]), {"stage": contacted.pk, "reason": "Called"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_detail", args=[lead.pk])
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.STAGE_CHANGED)
    assert event.before == {"stage": "New", "status": "NOT_CONTACTED"}
    assert event.after == {"stage": "Contacted", "status": "CONTACTED"}
    assert event.channel == "ui"
    assert event.actor_id == agent.pk
    assert event.reason == "Called"


def test_stage_change_by_htmx_returns_pipeline_and_fresh_timeline(client):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project)
    qualified = Stage.objects.get(project=project, name="Qualified")

    response = _logged_in(client, manager).post(
        reverse("crm:lead_stage", args=[lead.pk]), {"stage": qualified.pk}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="pipeline"')
    assert 'id="timeline" class="card" hx-swap-oob="true"' in html
    assert 'data-kind="STAGE_CHANGED"' in html
    assert Lead.objects.get(pk=lead.pk).stage_id == qualified.pk


def test_lost_without_reason_shows_inline_error_and_changes_nothing(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent)
    lost = Stage.objects.get(project=project, status=Status.LOST)

    response = _logged_in(client, agent).post(
        reverse("crm:lead_stage", args=[lead.pk]), {"stage": lost.pk}
    )

    assert response.status_code == 200
    assert "Say why the lead was lost." in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).status == Status.NOT_CONTACTED
    assert not TimelineEvent.objects.filter(lead_id=lead.pk, kind="STAGE_CHANGED").exists()


def test_agent_moving_backwards_sees_the_refusal_inline(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent)
    new, contacted = (Stage.objects.get(project=project, name=n) for n in ("New", "Contacted"))
    client = _logged_in(client, agent)
    client.post(reverse("crm:lead_stage", args=[lead.pk]), {"stage": contacted.pk})

    response = client.post(reverse("crm:lead_stage", args=[lead.pk]), {"stage": new.pk}, **HTMX)

    assert response.status_code == 200
    assert "Agents move a lead forward" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage_id == contacted.pk


# --- create ----------------------------------------------------------------------------------


def test_create_form_shows_inline_field_errors(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_create"),
        {"project": project.pk, "name": "", "email": "not-an-email", "phones": "12\n+12025550123"},
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["Name is required."]
    assert "email" in form.errors
    assert form.errors["phones"][0].startswith("Phone 1: ")
    html = response.content.decode()
    assert "Name is required." in html
    assert 'aria-invalid="true"' in html
    assert not Lead.objects.exists()


def test_agent_creates_a_lead_they_own(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_create"), {"name": "New Person", "email": "new@example.com"}
    )

    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_detail", args=[lead.pk])
    assert lead.owner_id == agent.pk
    assert lead.source.name == "Manual"
    assert TimelineEvent.objects.get(lead_id=lead.pk).kind == TimelineKind.LEAD_CREATED


def test_owner_field_is_for_lead_managers_only(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")

    agent_form = _logged_in(client, agent).get(reverse("crm:lead_create")).content.decode()
    manager_form = _logged_in(client, manager).get(reverse("crm:lead_create")).content.decode()

    assert 'name="owner"' not in agent_form
    assert 'name="owner"' in manager_form
    assert f'<option value="{agent.pk}">{agent.label}</option>' in manager_form


def test_member_without_create_lead_grant_gets_403_on_the_form(client):
    project = make_project()
    agent = make_user(project, "agent", create_lead=False)

    response = _logged_in(client, agent).get(reverse("crm:lead_create"))

    assert response.status_code == 403


def test_manager_creates_a_lead_for_an_agent(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")

    _logged_in(client, manager).post(
        reverse("crm:lead_create"), {"name": "Routed", "email": "r@example.com", "owner": agent.pk}
    )

    assert Lead.objects.get().owner_id == agent.pk


def test_user_of_several_projects_first_chooses_one(client):
    first, second = make_project(), make_project()
    agent = make_user(first, "agent")
    from leadflow.accounts import services as account_services
    from tests.factories import SYSTEM

    account_services.set_membership(agent, second, "agent", actor=SYSTEM)
    client = _logged_in(client, agent)

    choice = client.get(reverse("crm:lead_create"))
    form = client.get(reverse("crm:lead_create"), {"project": second.pk})

    assert "Continue" in choice.content.decode()
    assert form.context["project"] == second


def test_duplicate_shows_merge_or_keep_both_prompt(client):
    project = make_project()
    agent = make_user(project, "agent")
    existing = make_lead(project, owner=agent, email="dup@example.com")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_create"), {"name": "Dup Again", "email": "DUP@example.com"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["duplicate_of"] == existing.pk
    assert f'href="{reverse("crm:lead_detail", args=[existing.pk])}"' in html
    assert 'name="on_duplicate" value="merge"' in html
    assert 'name="on_duplicate" value="keep_both"' in html
    assert Lead.objects.count() == 1


def test_keep_both_creates_a_second_lead(client):
    project = make_project()
    agent = make_user(project, "agent")
    existing = make_lead(project, owner=agent, email="dup@example.com")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_create"),
        {"name": "Second", "email": "dup@example.com", "on_duplicate": "keep_both"},
    )

    second = Lead.objects.exclude(pk=existing.pk).get()
    assert response["Location"] == reverse("crm:lead_detail", args=[second.pk])
    assert second.name == "Second"


def test_merge_fills_the_existing_lead(client):
    project = make_project()
    agent = make_user(project, "agent")
    existing = make_lead(project, owner=agent, email="dup@example.com")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_create"),
        {"name": "Whatever", "email": "dup@example.com", "company": "Acme",
         "on_duplicate": "merge"},
    )

    assert response["Location"] == reverse("crm:lead_detail", args=[existing.pk])
    existing.refresh_from_db()
    assert existing.company == "Acme"
    assert Lead.objects.count() == 1
    assert TimelineEvent.objects.filter(
        lead_id=existing.pk, kind=TimelineKind.DUPLICATE_MERGED
    ).count() == 1


def test_merge_into_a_lead_you_may_not_change_is_a_message(client):
    project = make_project()
    agent = make_user(project, "agent")
    other = make_user(project, "agent")
    existing = make_lead(project, owner=other, email="theirs@example.com")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_create"),
        {"name": "Mine", "email": "theirs@example.com", "on_duplicate": "merge",
         "duplicate_of": existing.pk},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Only the lead&#x27;s owner or a manager may change it." in html
    assert 'name="on_duplicate" value="keep_both"' in html
    assert Lead.objects.count() == 1


# --- edit and delete -------------------------------------------------------------------------


def test_edit_form_saves_contact_fields(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent, name="Old Name")

    response = _logged_in(client, agent).post(
        reverse("crm:lead_edit", args=[lead.pk]),
        {"name": "New Name", "email": lead.email, "phones": "+12025550199"},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.name, lead.phones) == ("New Name", ["+12025550199"])
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_UPDATED)
    assert event.after == {"name": "New Name", "phones": ["+12025550199"]}


def test_edit_form_shows_inline_errors(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent)

    response = _logged_in(client, agent).post(
        reverse("crm:lead_edit", args=[lead.pk]), {"name": "", "email": "", "country": "ZZ"}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["name"] == ["Name is required."]
    assert errors["country"] == ["'ZZ' is not an ISO 3166 country code."]


def test_agent_cannot_edit_an_unowned_pool_lead(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project)

    page = _logged_in(client, agent).get(reverse("crm:lead_detail", args=[lead.pk]))
    edit = client.get(reverse("crm:lead_edit", args=[lead.pk]))

    assert page.status_code == 200
    assert edit.status_code == 403


def test_manager_deletes_a_lead_after_confirming(client):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project)
    client = _logged_in(client, manager)

    confirm = client.get(reverse("crm:lead_delete", args=[lead.pk]))
    response = client.post(reverse("crm:lead_delete", args=[lead.pk]))

    assert confirm.status_code == 200
    assert "Delete for good" in confirm.content.decode()
    assert response["Location"] == reverse("crm:lead_list")
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert TimelineEvent.objects.filter(lead_id=lead.pk, kind=TimelineKind.LEAD_DELETED).exists()


def test_agent_cannot_delete_own_lead(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, owner=agent)

    response = _logged_in(client, agent).post(reverse("crm:lead_delete", args=[lead.pk]))

    assert response.status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()
