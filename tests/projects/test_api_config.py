"""Configuration routes: projects, members, sources, pools, stages and system settings.

Agents never change configuration; managers change their own projects'; admins everything.
Denied cases check that no row changed."""

import json

import pytest

from leadflow.accounts.models import Membership
from leadflow.crm.models import Lead
from leadflow.projects.models import Pool, Project, Source, Stage, SystemSettings
from tests.factories import World, auth, make_lead, make_user, stage_named


def call(client, w, who, method, path, body=None):
    headers = auth(w.user(who)) if who != "anonymous" else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **headers)


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def rows(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


def pool_rows() -> list:
    return rows(Pool) + sorted(Pool.members.through.objects.values_list("pool_id", "user_id"))


MANAGER_WRITE_CASES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent_view_all", "viewer", 403),
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("non_member_agent", "outsider", 403),
    ("non_member_manager_of_another_project", "foreign_manager", 404),
]

ADMIN_ONLY_CASES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent_view_all", "viewer", 403),
    ("manager", "manager", 403),
    ("admin", "admin", None),
    ("non_member", "outsider", 403),
    ("manager_of_another_project", "foreign_manager", 403),
]


# --- projects ----------------------------------------------------------------------------------


def test_projects_lists_only_the_callers_projects(client):
    w = World(region="GB")

    response = call(client, w, "agent", "get", "/api/v1/projects")

    assert response.status_code == 200
    assert response.json() == [{"id": w.project.pk, "name": w.project.name,
                                "slug": w.project.slug, "default_region": "GB"}]
    assert {p["id"] for p in call(client, w, "admin", "get", "/api/v1/projects").json()} == {
        w.project.pk, w.other_project.pk}


def test_get_project_of_another_team_is_404(client):
    w = World()

    assert call(client, w, "agent", "get", f"/api/v1/projects/{w.project.pk}").status_code == 200
    assert call(client, w, "outsider", "get",
                f"/api/v1/projects/{w.project.pk}").status_code == 404


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("manager", "manager", 403),
    ("admin", "admin", 201),
    ("non_member", "outsider", 403),
])
def test_create_project_matrix(client, _case, who, status):
    w = World()
    before = rows(Project)

    response = call(client, w, who, "post", "/api/v1/projects",
                    {"name": "Berlin Desk", "default_region": "de"})

    assert response.status_code == status
    if status == 201:
        project = Project.objects.get(slug="berlin-desk")
        assert response.json() == {"id": project.pk, "name": "Berlin Desk",
                                   "slug": "berlin-desk", "default_region": "DE"}
        assert sorted(project.sources.values_list("name", flat=True)) == sorted(
            ["Website", "Referral", "LinkedIn", "Cold Call", "Email", "Event", "Other",
             "Manual", "Import"])
        assert list(project.stages.values_list("name", "status", "position")) == [
            ("New", "NOT_CONTACTED", 1), ("Contacted", "CONTACTED", 2),
            ("Qualified", "QUALIFIED", 3), ("Converted", "CONVERTED", 10000),
            ("Lost", "LOST", 10001)]
        assert list(project.pools.values_list("name", "is_default")) == [("Default", True)]
    else:
        assert rows(Project) == before


def test_create_project_validates(client):
    w = World()

    bad_region = call(client, w, "admin", "post", "/api/v1/projects",
                      {"name": "X", "default_region": "ZZ"})
    taken = call(client, w, "admin", "post", "/api/v1/projects",
                 {"name": "Other", "slug": w.project.slug})
    unknown = call(client, w, "admin", "post", "/api/v1/projects", {"name": "X", "colour": 1})

    assert (bad_region.status_code, error_codes(bad_region)) == (
        400, [("default_region", "invalid")])
    assert taken.status_code == 409
    assert (unknown.status_code, error_codes(unknown)) == (400, [("colour", "unknown_field")])


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("manager", "manager", 403),
    ("admin", "admin", 200),
    ("non_member", "outsider", 403),
])
def test_update_project_matrix(client, _case, who, status):
    w = World()
    before = rows(Project)

    response = call(client, w, who, "patch", f"/api/v1/projects/{w.project.pk}",
                    {"name": "Renamed", "default_region": "FR"})

    assert response.status_code == status
    if status == 200:
        project = Project.objects.get(pk=w.project.pk)
        assert (project.name, project.default_region, project.slug) == (
            "Renamed", "FR", w.project.slug)
    else:
        assert rows(Project) == before


# --- members -----------------------------------------------------------------------------------


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 200),
    ("manager", "manager", 200),
    ("admin", "admin", 200),
    ("non_member", "outsider", 404),
])
def test_list_members_matrix(client, _case, who, status):
    w = World()

    response = call(client, w, who, "get", f"/api/v1/projects/{w.project.pk}/members")

    assert response.status_code == status
    if status == 200:
        assert {m["user"] for m in response.json()} == {
            w.agent.pk, w.other_agent.pk, w.viewer.pk, w.manager.pk}


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_add_member_matrix(client, _case, who, status):
    w = World()
    newcomer = make_user()
    before = rows(Membership), pool_rows()

    response = call(client, w, who, "post", f"/api/v1/projects/{w.project.pk}/members",
                    {"user": newcomer.pk, "role": "agent", "view_all_leads": True})

    assert response.status_code == (status or 200)
    if status is None:
        assert response.json() == {"user": newcomer.pk, "project": w.project.pk,
                                   "role": "agent", "create_lead": True,
                                   "manage_leads": False, "view_all_leads": True}
        assert Pool.objects.get(project=w.project, is_default=True).members.filter(
            pk=newcomer.pk).exists()
    else:
        assert (rows(Membership), pool_rows()) == before


def test_member_role_must_be_manager_or_agent(client):
    w = World()

    response = call(client, w, "manager", "post", f"/api/v1/projects/{w.project.pk}/members",
                    {"user": make_user().pk, "role": "admin"})

    assert response.status_code == 400
    assert error_codes(response)[0][0] == "role"


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_remove_member_matrix(client, _case, who, status):
    w = World()
    before = rows(Membership), pool_rows()

    response = call(client, w, who, "delete",
                    f"/api/v1/projects/{w.project.pk}/members/{w.other_agent.pk}")

    assert response.status_code == (status or 204)
    if status is None:
        assert not Membership.objects.filter(user=w.other_agent, project=w.project).exists()
        assert not Pool.members.through.objects.filter(user_id=w.other_agent.pk).exists()
        assert Lead.objects.get(pk=w.other_lead.pk).owner_id == w.other_agent.pk
    else:
        assert (rows(Membership), pool_rows()) == before


# --- sources -----------------------------------------------------------------------------------


def test_sources_list_is_scoped_to_visible_projects(client):
    w = World()

    mine = call(client, w, "agent", "get", "/api/v1/sources").json()
    filtered = call(client, w, "admin", "get", f"/api/v1/sources?project={w.project.pk}").json()

    assert {s["project"] for s in mine} == {w.project.pk}
    assert len(mine) == 9
    assert filtered == mine
    assert set(mine[0]) == {"id", "project", "name", "target_user", "acceptance_minutes",
                            "form_bucket",
                            "form_enabled"}


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_create_source_matrix(client, _case, who, status):
    w = World()
    before = rows(Source)

    response = call(client, w, who, "post", "/api/v1/sources", {
        "project": w.project.pk, "name": "Trade fair", "target_user": w.agent.pk,
        "acceptance_minutes": 30})

    assert response.status_code == (status or 201)
    if status is None:
        source = Source.objects.get(project=w.project, name="Trade fair")
        assert response.json() == {"id": source.pk, "project": w.project.pk,
                                   "name": "Trade fair", "target_user": w.agent.pk,
                                   "acceptance_minutes": 30, "form_enabled": False,
                                   "form_bucket": None}
    else:
        assert rows(Source) == before


def test_source_rules(client):
    w = World()

    duplicate = call(client, w, "manager", "post", "/api/v1/sources",
                     {"project": w.project.pk, "name": "Website"})
    stranger = call(client, w, "manager", "post", "/api/v1/sources",
                    {"project": w.project.pk, "name": "X", "target_user": w.outsider.pk})
    too_long = call(client, w, "manager", "post", "/api/v1/sources",
                    {"project": w.project.pk, "name": "X", "acceptance_minutes": 0})

    assert duplicate.status_code == 409
    assert (stranger.status_code, error_codes(stranger)) == (400, [("target_user", "not_member")])
    assert (too_long.status_code, error_codes(too_long)) == (
        400, [("acceptance_minutes", "out_of_range")])


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_update_source_matrix(client, _case, who, status):
    w = World()
    website = Source.objects.get(project=w.project, name="Website")
    before = rows(Source)

    response = call(client, w, who, "patch", f"/api/v1/sources/{website.pk}",
                    {"form_enabled": True})

    assert response.status_code == (status or 200)
    if status is None:
        assert Source.objects.get(pk=website.pk).form_enabled is True
    else:
        assert rows(Source) == before


# --- pools -------------------------------------------------------------------------------------


def test_pools_list(client):
    w = World()

    response = call(client, w, "manager", "get", "/api/v1/pools")

    assert response.json() == [{
        "id": Pool.objects.get(project=w.project).pk, "project": w.project.pk,
        "name": "Default", "is_default": True,
        "members": sorted([w.agent.pk, w.other_agent.pk, w.viewer.pk]),
    }]


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_create_pool_matrix(client, _case, who, status):
    w = World()
    before = pool_rows()

    response = call(client, w, who, "post", "/api/v1/pools",
                    {"project": w.project.pk, "name": "Night shift", "members": [w.agent.pk]})

    assert response.status_code == (status or 201)
    if status is None:
        pool = Pool.objects.get(project=w.project, name="Night shift")
        assert response.json() == {"id": pool.pk, "project": w.project.pk,
                                   "name": "Night shift", "is_default": False,
                                   "members": [w.agent.pk]}
    else:
        assert pool_rows() == before


def test_pool_members_must_belong_to_the_project(client):
    w = World()

    response = call(client, w, "manager", "post", "/api/v1/pools",
                    {"project": w.project.pk, "name": "P", "members": [w.outsider.pk]})

    assert response.status_code == 400
    assert error_codes(response) == [("members", "not_member")]


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_update_pool_matrix(client, _case, who, status):
    w = World()
    pool = Pool.objects.get(project=w.project)
    before = pool_rows()

    response = call(client, w, who, "patch", f"/api/v1/pools/{pool.pk}",
                    {"members": [w.agent.pk]})

    assert response.status_code == (status or 200)
    if status is None:
        assert list(pool.members.values_list("pk", flat=True)) == [w.agent.pk]
    else:
        assert pool_rows() == before


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_delete_pool_matrix(client, _case, who, status):
    w = World()
    spare = Pool.objects.create(project=w.project, name="Spare")
    before = pool_rows()

    response = call(client, w, who, "delete", f"/api/v1/pools/{spare.pk}")

    assert response.status_code == (status or 204)
    if status is None:
        assert not Pool.objects.filter(pk=spare.pk).exists()
    else:
        assert pool_rows() == before


def test_default_pool_and_pool_with_leads_cannot_be_deleted(client):
    w = World()
    default = Pool.objects.get(project=w.project, is_default=True)
    busy = Pool.objects.create(project=w.project, name="Busy")
    Lead.objects.filter(pk=w.own_lead.pk).update(pool=busy)

    assert call(client, w, "manager", "delete", f"/api/v1/pools/{default.pk}").status_code == 409
    assert call(client, w, "manager", "delete", f"/api/v1/pools/{busy.pk}").status_code == 409
    assert Pool.objects.filter(project=w.project).count() == 2


# --- stages ------------------------------------------------------------------------------------


def test_stages_list_in_pipeline_order(client):
    w = World()

    response = call(client, w, "agent", "get", f"/api/v1/stages?project={w.project.pk}")

    assert [(s["name"], s["status"], s["position"]) for s in response.json()] == [
        ("New", "NOT_CONTACTED", 1), ("Contacted", "CONTACTED", 2),
        ("Qualified", "QUALIFIED", 3), ("Converted", "CONVERTED", 10000),
        ("Lost", "LOST", 10001)]


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_create_stage_matrix(client, _case, who, status):
    w = World()
    before = rows(Stage)

    response = call(client, w, who, "post", "/api/v1/stages",
                    {"project": w.project.pk, "name": "Demo", "status": "QUALIFIED"})

    assert response.status_code == (status or 201)
    if status is None:
        stage = Stage.objects.get(project=w.project, name="Demo")
        assert response.json() == {"id": stage.pk, "project": w.project.pk, "name": "Demo",
                                   "status": "QUALIFIED", "position": 4, "retired": False}
    else:
        assert rows(Stage) == before


def test_a_second_terminal_stage_is_refused(client):
    w = World()

    response = call(client, w, "manager", "post", "/api/v1/stages",
                    {"project": w.project.pk, "name": "Won", "status": "CONVERTED"})

    assert response.status_code == 400
    assert error_codes(response) == [("status", "invalid")]


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_update_stage_matrix(client, _case, who, status):
    w = World()
    new = stage_named(w.project, "New")
    before = rows(Stage), list(Lead.objects.order_by("pk").values("status"))

    response = call(client, w, who, "patch", f"/api/v1/stages/{new.pk}",
                    {"name": "Fresh", "status": "CONTACTED"})

    assert response.status_code == (status or 200)
    if status is None:
        assert Stage.objects.get(pk=new.pk).name == "Fresh"
        assert set(Lead.objects.values_list("status", flat=True)) == {"CONTACTED"}
    else:
        assert (rows(Stage), list(Lead.objects.order_by("pk").values("status"))) == before


@pytest.mark.parametrize("_case, who, status", MANAGER_WRITE_CASES)
def test_delete_stage_matrix(client, _case, who, status):
    w = World()
    qualified = stage_named(w.project, "Qualified")
    before = rows(Stage)

    response = call(client, w, who, "delete", f"/api/v1/stages/{qualified.pk}")

    assert response.status_code == (status or 204)
    if status is None:
        assert not Stage.objects.filter(pk=qualified.pk).exists()
    else:
        assert rows(Stage) == before


def test_stage_in_use_or_terminal_cannot_be_deleted(client):
    w = World()

    in_use = call(client, w, "manager", "delete",
                  f"/api/v1/stages/{stage_named(w.project, 'New').pk}")
    terminal = call(client, w, "manager", "delete",
                    f"/api/v1/stages/{stage_named(w.project, 'Lost').pk}")

    assert (in_use.status_code, terminal.status_code) == (409, 409)
    assert Stage.objects.filter(project=w.project).count() == 5


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("_case, who, status", ADMIN_ONLY_CASES)
def test_get_settings_matrix(client, _case, who, status):
    w = World()

    response = call(client, w, who, "get", "/api/v1/settings")

    assert response.status_code == (status or 200)
    if status is None:
        assert response.json() == {"retirement_days": 30, "claim_hours": 24,
                                   "offer_minutes": 60, "duplicate_scope": "project",
                                   "email_ignore_plus": False, "email_ignore_gmail_dots": False}


@pytest.mark.parametrize("_case, who, status", ADMIN_ONLY_CASES)
def test_update_settings_matrix(client, _case, who, status):
    w = World()
    before = rows(SystemSettings)

    response = call(client, w, who, "patch", "/api/v1/settings",
                    {"claim_hours": 48, "duplicate_scope": "global"})

    assert response.status_code == (status or 200)
    if status is None:
        settings = SystemSettings.load()
        assert (settings.claim_hours, settings.duplicate_scope) == (48, "global")
        assert response.json()["claim_hours"] == 48
    else:
        assert rows(SystemSettings) == before


def test_settings_are_validated(client):
    w = World()

    out_of_range = call(client, w, "admin", "patch", "/api/v1/settings",
                        {"claim_hours": 0, "retirement_days": 4000})
    not_a_choice = call(client, w, "admin", "patch", "/api/v1/settings",
                        {"duplicate_scope": "planet"})

    assert out_of_range.status_code == 400
    assert sorted(error_codes(out_of_range)) == [("claim_hours", "out_of_range"),
                                                 ("retirement_days", "out_of_range")]
    assert (not_a_choice.status_code, error_codes(not_a_choice)) == (
        400, [("duplicate_scope", "invalid")])
    assert SystemSettings.load().claim_hours == 24


def test_global_duplicate_scope_matches_across_projects(client):
    w = World()
    call(client, w, "admin", "patch", "/api/v1/settings", {"duplicate_scope": "global"})
    first = make_lead(w.other_project, email="ann@example.com")

    response = call(client, w, "agent", "post", "/api/v1/leads",
                    {"name": "Ann", "email": "ann@example.com"})

    assert (response.status_code, response.json()["duplicate_of"]) == (409, first.pk)


def test_a_projects_default_region_is_used_after_a_change(client):
    w = World(region="US")
    call(client, w, "admin", "patch", f"/api/v1/projects/{w.project.pk}",
         {"default_region": "GB"})

    response = call(client, w, "agent", "post", "/api/v1/leads",
                    {"name": "Ann", "phone": "020 7946 0018"})

    assert response.json()["phones"] == ["+442079460018"]



@pytest.mark.parametrize("_case, who, method, path", [
    ("agent_creates_project", "agent", "post", "/api/v1/projects"),
    ("manager_creates_project", "manager", "post", "/api/v1/projects"),
    ("manager_changes_settings", "manager", "patch", "/api/v1/settings"),
    ("agent_creates_source", "agent", "post", "/api/v1/sources"),
    ("agent_creates_pool", "agent", "post", "/api/v1/pools"),
    ("agent_creates_stage", "agent", "post", "/api/v1/stages"),
    ("agent_adds_member", "agent", "post", "/api/v1/projects/{project}/members"),
    ("agent_renames_stage", "agent", "patch", "/api/v1/stages/{stage}"),
    ("agent_creates_user", "agent", "post", "/api/v1/users"),
])
def test_a_caller_who_may_not_use_a_route_gets_403_before_body_validation(
        client, _case, who, method, path):
    w = World()
    path = path.format(project=w.project.pk, stage=stage_named(w.project, "New").pk)

    response = call(client, w, who, method, path, {"not_a_field": True})

    assert response.status_code == 403


@pytest.mark.parametrize("_case, method, path, body, field", [
    ("project_name", "post", "/api/v1/projects", {"name": "Desk\x00"}, "name"),
    ("source_name", "post", "/api/v1/sources", {"project": "{project}", "name": "Fair\x00"},
     "name"),
    ("pool_name", "post", "/api/v1/pools", {"project": "{project}", "name": "P\x00"}, "name"),
    ("stage_name", "post", "/api/v1/stages",
     {"project": "{project}", "name": "S\x00", "status": "CONTACTED"}, "name"),
    ("user_name", "post", "/api/v1/users", {"email": "n@example.com", "name": "N\x00"},
     "name"),
])
def test_a_nul_character_in_a_name_is_400(client, _case, method, path, body, field):
    w = World()
    body = {k: (w.project.pk if v == "{project}" else v) for k, v in body.items()}

    response = call(client, w, "admin", method, path, body)

    assert response.status_code == 400
    assert error_codes(response) == [(field, "invalid")]
