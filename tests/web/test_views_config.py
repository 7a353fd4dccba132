"""Settings screens and navigation by role."""

import pytest
from django.urls import reverse

from leadflow.accounts.models import Membership, User
from leadflow.projects.models import Pool, Project, Source, Stage, SystemSettings
from tests.factories import make_lead, make_project, make_user


def _logged_in(client, user):
    client.force_login(user)
    return client


def _project_screens(project):
    return [
        reverse("config:members", args=[project.pk]),
        reverse("config:sources", args=[project.pk]),
        reverse("config:pools", args=[project.pk]),
        reverse("config:stages", args=[project.pk]),
        reverse("config:source_edit", args=[project.sources.first().pk]),
        reverse("config:pool_edit", args=[project.pools.first().pk]),
    ]


ADMIN_SCREENS = ["config:project_list", "config:users", "config:system"]


# --- navigation ------------------------------------------------------------------------------


def test_agent_navigation_has_no_configuration_links(client):
    project = make_project()
    agent = make_user(project, "agent")

    html = _logged_in(client, agent).get(reverse("crm:lead_list")).content.decode()

    assert reverse("config:index") not in html
    assert reverse("config:project_list") not in html


def test_manager_navigation_reaches_their_projects_settings(client):
    project = make_project()
    manager = make_user(project, "manager")
    client = _logged_in(client, manager)

    nav = client.get(reverse("crm:lead_list")).content.decode()
    index = client.get(reverse("config:index")).content.decode()

    assert reverse("config:index") in nav
    assert reverse("config:project_list") not in nav
    assert reverse("config:users") not in nav
    assert reverse("config:members", args=[project.pk]) in index


def test_admin_navigation_also_has_projects_users_and_system(client):
    admin = make_user(admin=True)

    html = _logged_in(client, admin).get(reverse("crm:lead_list")).content.decode()

    for name in ["config:index", *ADMIN_SCREENS]:
        assert reverse(name) in html


def test_login_and_logout(client):
    project = make_project()
    agent = make_user(project, "agent", email="agent@example.com")

    bad = client.post(reverse("login"), {"username": "agent@example.com", "password": "wrong"})
    good = client.post(reverse("login"), {"username": "agent@example.com",
                                          "password": "password123"})
    out = client.post(reverse("logout"))

    assert bad.status_code == 200
    assert "Please enter a correct" in bad.content.decode()
    assert good["Location"] == reverse("crm:lead_list")
    assert out["Location"] == reverse("login")
    assert client.get(reverse("crm:lead_list")).status_code == 302
    assert agent.is_active


# --- who reaches what ------------------------------------------------------------------------


def test_agent_gets_403_on_configuration_screens(client):
    project = make_project()
    agent = make_user(project, "agent")
    client = _logged_in(client, agent)

    statuses = [client.get(url).status_code for url in _project_screens(project)]
    index = client.get(reverse("config:index")).status_code
    admin = [client.get(reverse(name)).status_code for name in ADMIN_SCREENS]

    assert statuses == [403] * 6
    assert index == 403
    assert admin == [403, 403, 403]


def test_agent_posting_to_configuration_changes_nothing(client):
    project = make_project()
    agent = make_user(project, "agent")

    response = _logged_in(client, agent).post(
        reverse("config:pools", args=[project.pk]), {"name": "Sneaky"}
    )

    assert response.status_code == 403
    assert not Pool.objects.filter(name="Sneaky").exists()


def test_manager_of_another_project_gets_404(client):
    project, other = make_project(), make_project()
    manager = make_user(other, "manager")
    client = _logged_in(client, manager)

    statuses = [client.get(url).status_code for url in _project_screens(project)]

    assert statuses == [404] * 6


def test_manager_gets_200_on_their_projects_screens(client):
    project = make_project()
    manager = make_user(project, "manager")
    client = _logged_in(client, manager)

    statuses = [client.get(url).status_code for url in _project_screens(project)]
    admin = [client.get(reverse(name)).status_code for name in ADMIN_SCREENS]

    assert statuses == [200] * 6
    assert client.get(reverse("config:index")).status_code == 200
    assert admin == [403, 403, 403]


def test_admin_gets_200_everywhere(client):
    project = make_project()
    admin = make_user(admin=True)
    client = _logged_in(client, admin)

    statuses = [client.get(url).status_code for url in _project_screens(project)]
    admin_statuses = [client.get(reverse(name)).status_code for name in ADMIN_SCREENS]

    assert statuses == [200] * 6
    assert admin_statuses == [200, 200, 200]
    assert client.get(reverse("config:project_edit", args=[project.pk])).status_code == 200


# --- projects --------------------------------------------------------------------------------


def test_admin_creates_and_edits_a_project(client):
    admin = make_user(admin=True)
    client = _logged_in(client, admin)

    created = client.post(reverse("config:project_list"),
                          {"name": "Berlin Desk", "slug": "", "default_region": "de"})
    project = Project.objects.get(slug="berlin-desk")
    edited = client.post(reverse("config:project_edit", args=[project.pk]),
                         {"name": "Berlin", "default_region": "AT"})

    assert created["Location"] == reverse("config:members", args=[project.pk])
    assert project.default_region == "DE"
    assert edited.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.default_region) == ("Berlin", "AT")


def test_project_form_shows_service_errors_inline(client):
    admin = make_user(admin=True)

    response = _logged_in(client, admin).post(
        reverse("config:project_list"), {"name": "", "default_region": "XX"}
    )

    errors = response.context["form"].errors
    assert errors["name"] == ["Name is required."]
    assert errors["default_region"] == ["'XX' is not an ISO 3166 country code."]


def test_duplicate_project_slug_is_a_message(client):
    admin = make_user(admin=True)
    make_project(slug="same")

    response = _logged_in(client, admin).post(
        reverse("config:project_list"), {"name": "Other", "slug": "same"}
    )

    assert response.status_code == 200
    assert "A project with slug &#x27;same&#x27; exists already." in response.content.decode()


# --- members ---------------------------------------------------------------------------------


def test_manager_adds_changes_and_removes_a_member(client):
    project = make_project()
    manager = make_user(project, "manager")
    person = make_user(email="person@example.com")
    client = _logged_in(client, manager)

    added = client.post(reverse("config:members", args=[project.pk]),
                        {"email": "Person@Example.com", "role": "agent"})
    promoted = client.post(reverse("config:member_role", args=[project.pk, person.pk]),
                           {"role": "manager"})
    role = Membership.objects.get(user=person, project=project).role
    removed = client.post(reverse("config:member_remove", args=[project.pk, person.pk]))

    assert added.status_code == promoted.status_code == removed.status_code == 302
    assert role == "manager"
    assert not Membership.objects.filter(user=person, project=project).exists()


def test_adding_an_unknown_email_is_a_field_error(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = _logged_in(client, manager).post(
        reverse("config:members", args=[project.pk]), {"email": "nobody@example.com",
                                                       "role": "agent"}
    )

    assert response.status_code == 200
    assert "email" in response.context["form"].errors


def test_removing_a_non_member_is_404(client):
    project = make_project()
    manager = make_user(project, "manager")
    outsider = make_user()

    response = _logged_in(client, manager).post(
        reverse("config:member_remove", args=[project.pk, outsider.pk])
    )

    assert response.status_code == 404


# --- sources, pools, stages ------------------------------------------------------------------


def test_manager_adds_and_edits_a_source(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    client = _logged_in(client, manager)

    client.post(reverse("config:sources", args=[project.pk]),
                {"name": "Partner", "target_user": agent.pk, "acceptance_minutes": "30"})
    source = Source.objects.get(project=project, name="Partner")
    client.post(reverse("config:source_edit", args=[source.pk]),
                {"name": "Partners", "target_user": "", "form_enabled": "on"})

    source.refresh_from_db()
    assert (source.name, source.target_user_id, source.acceptance_minutes, source.form_enabled) \
        == ("Partners", None, None, True)


def test_existing_source_name_is_a_message(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = _logged_in(client, manager).post(
        reverse("config:sources", args=[project.pk]), {"name": "Website"}
    )

    assert "Source &#x27;Website&#x27; exists already." in response.content.decode()


def test_manager_creates_and_edits_a_pool_with_members(client):
    project = make_project()
    manager = make_user(project, "manager")
    first, second = make_user(project, "agent"), make_user(project, "agent")
    client = _logged_in(client, manager)

    client.post(reverse("config:pools", args=[project.pk]),
                {"name": "Night shift", "members": [first.pk]})
    pool = Pool.objects.get(project=project, name="Night shift")
    client.post(reverse("config:pool_edit", args=[pool.pk]),
                {"name": "Nights", "members": [first.pk, second.pk]})

    pool.refresh_from_db()
    assert pool.name == "Nights"
    assert sorted(pool.members.values_list("pk", flat=True)) == sorted([first.pk, second.pk])


def test_deleting_a_pool_in_use_is_a_message(client):
    project = make_project()
    manager = make_user(project, "manager")
    default = Pool.objects.get(project=project, is_default=True)
    make_lead(project)

    response = _logged_in(client, manager).post(
        reverse("config:pool_delete", args=[default.pk]), follow=True
    )

    assert "The default pool cannot be deleted." in response.content.decode()
    assert Pool.objects.filter(pk=default.pk).exists()


def _open_stage_names(project):
    return list(
        Stage.objects.filter(project=project, position__lt=10_000)
        .order_by("position", "id").values_list("name", flat=True)
    )


@pytest.mark.parametrize(
    ("stage", "direction", "expected"),
    [
        ("Contacted", "up", ["Contacted", "New", "Qualified"]),
        ("Contacted", "down", ["New", "Qualified", "Contacted"]),
        ("New", "up", ["New", "Contacted", "Qualified"]),
    ],
)
def test_manager_moves_a_stage(client, stage, direction, expected):
    project = make_project()
    manager = make_user(project, "manager")
    moved = Stage.objects.get(project=project, name=stage)

    response = _logged_in(client, manager).post(
        reverse("config:stage_move", args=[moved.pk]), {"direction": direction}
    )

    assert response["Location"] == reverse("config:stages", args=[project.pk])
    assert _open_stage_names(project) == expected


def test_manager_adds_renames_and_deletes_a_stage(client):
    project = make_project()
    manager = make_user(project, "manager")
    client = _logged_in(client, manager)

    client.post(reverse("config:stages", args=[project.pk]),
                {"name": "Demo booked", "status": "QUALIFIED"})
    stage = Stage.objects.get(project=project, name="Demo booked")
    client.post(reverse("config:stage_edit", args=[stage.pk]),
                {f"s{stage.pk}-name": "Demo done", f"s{stage.pk}-status": "QUALIFIED"})
    renamed = Stage.objects.get(pk=stage.pk).name
    client.post(reverse("config:stage_delete", args=[stage.pk]))

    assert renamed == "Demo done"
    assert _open_stage_names(project) == ["New", "Contacted", "Qualified"]


def test_stage_rename_errors_show_on_the_row(client):
    project = make_project()
    manager = make_user(project, "manager")
    stage = Stage.objects.get(project=project, name="New")

    response = _logged_in(client, manager).post(
        reverse("config:stage_edit", args=[stage.pk]), {f"s{stage.pk}-name": ""}
    )

    assert response.status_code == 200
    assert "Name is required." in response.content.decode()
    assert Stage.objects.get(pk=stage.pk).name == "New"


def test_deleting_a_stage_with_leads_is_a_message(client):
    project = make_project()
    manager = make_user(project, "manager")
    make_lead(project)
    new = Stage.objects.get(project=project, name="New")

    response = _logged_in(client, manager).post(
        reverse("config:stage_delete", args=[new.pk]), follow=True
    )

    assert "Move the stage&#x27;s leads first, or retire the stage." in response.content.decode()
    assert Stage.objects.filter(pk=new.pk).exists()


# --- system settings and users ---------------------------------------------------------------


def test_admin_changes_system_settings(client):
    admin = make_user(admin=True)

    response = _logged_in(client, admin).post(reverse("config:system"), {
        "retirement_days": "45", "claim_hours": "12", "offer_minutes": "60",
        "duplicate_scope": "global", "email_ignore_plus": "on",
    })

    settings = SystemSettings.load()
    assert response.status_code == 302
    assert (settings.retirement_days, settings.claim_hours, settings.duplicate_scope) == \
        (45, 12, "global")
    assert settings.email_ignore_plus is True
    assert settings.email_ignore_gmail_dots is False


def test_out_of_range_setting_is_a_field_error(client):
    admin = make_user(admin=True)

    response = _logged_in(client, admin).post(reverse("config:system"), {
        "retirement_days": "0", "claim_hours": "12", "offer_minutes": "60",
        "duplicate_scope": "project",
    })

    assert response.context["form"].errors["retirement_days"] == [
        "retirement_days must be 1 to 3650."
    ]
    assert SystemSettings.load().claim_hours == 24


def test_admin_creates_and_edits_a_user(client):
    admin = make_user(admin=True)
    client = _logged_in(client, admin)

    client.post(reverse("config:users"), {"email": "New@Example.com", "name": "New",
                                          "password": "longenough"})
    user = User.objects.get(email="new@example.com")
    client.post(reverse("config:user_edit", args=[user.pk]),
                {"name": "Renamed", "is_active": "on", "is_admin": "on"})

    user.refresh_from_db()
    assert (user.name, user.is_active, user.is_admin) == ("Renamed", True, True)
    assert user.check_password("longenough")


def test_unticking_active_deactivates_a_user(client):
    admin = make_user(admin=True)
    user = make_user()

    _logged_in(client, admin).post(reverse("config:user_edit", args=[user.pk]), {"name": "X"})

    user.refresh_from_db()
    assert user.is_active is False
