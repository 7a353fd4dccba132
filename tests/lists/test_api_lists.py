"""The list and campaign routes, the lead's `list`, the `list` filter and the bulk actions
`add_to_list` / `add_to_campaign` — allowed and refused roles, shapes and codes."""

import json

import pytest

from leadflow.crm.models import Lead
from leadflow.jobs.models import Job
from leadflow.lists.models import Campaign, CampaignList, LeadList
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    World,
    auth,
    event_count,
    make_campaign,
    make_lead,
    make_list,
    put_on_list,
)


def send(client, method, path, user, body=None):
    headers = auth(user) if user is not None else {}
    kwargs = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)(f"/api/v1{path}", **kwargs, **headers)


@pytest.fixture
def w():
    return World()


ROLES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent with view_all", "viewer", 403),
    ("manager", "manager", 201),
    ("admin", "admin", 201),
    ("manager of another project", "foreign_manager", 404),
]


@pytest.mark.parametrize(("_case", "who", "status"), ROLES)
def test_create_list_permissions(client, w, _case, who, status):
    body = {"project": w.project.pk, "name": "Fair", "timezone": "Europe/Paris",
            "owner": w.agent.pk, "description": "From the fair"}

    response = send(client, "post", "/lists", w.user(who), body)

    assert response.status_code == status
    if status == 201:
        found = LeadList.objects.get()
        body = response.json()
        assert set(body) == {"id", "project", "name", "timezone", "owner", "description",
                             "enabled", "campaign", "created_at", "updated_at"}
        assert {k: v for k, v in body.items() if not k.endswith("_at")} == {
            "id": found.pk, "project": w.project.pk, "name": "Fair",
            "timezone": "Europe/Paris", "owner": w.agent.pk, "description": "From the fair",
            "enabled": True, "campaign": None,
        }
    else:
        assert not LeadList.objects.exists()


def test_agent_gets_403_before_any_body_validation(client, w):
    assert send(client, "post", "/lists", w.agent, {"nonsense": 1}).status_code == 403


def test_bad_timezone_is_400_with_field_errors(client, w):
    response = send(client, "post", "/lists", w.manager,
                    {"project": w.project.pk, "name": "X", "timezone": "Nowhere/Land"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "timezone", "code": "invalid",
                                          "message": response.json()["errors"][0]["message"]}]


def test_patch_with_another_project_is_400_immutable(client, w):
    lead_list = make_list(w.project, name="Here")
    response = send(client, "patch", f"/lists/{lead_list.pk}", w.admin,
                    {"project": w.other_project.pk})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "immutable"
    assert LeadList.objects.get().project_id == w.project.pk


def test_patch_a_list(client, w):
    lead_list = make_list(w.project, name="Here")
    response = send(client, "patch", f"/lists/{lead_list.pk}", w.manager,
                    {"name": "There", "enabled": False, "project": w.project.pk})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["enabled"]) == ("There", False)


def test_list_of_lists_is_paged_by_name_and_filtered_by_project(client, w):
    for name in ("b", "a", "c"):
        make_list(w.project, name=name)
    make_list(w.other_project, name="foreign")

    first = send(client, "get", f"/lists?project={w.project.pk}&limit=2", w.manager).json()
    second = send(client, "get", f"/lists?project={w.project.pk}&limit=2&cursor="
                  f"{first['next_cursor']}", w.manager).json()

    assert [i["name"] for i in first["items"]] == ["a", "b"]
    assert ([i["name"] for i in second["items"]], second["next_cursor"]) == (["c"], None)
    everything = send(client, "get", "/lists", w.manager).json()["items"]
    assert [i["name"] for i in everything] == ["a", "b", "c"]


def test_a_list_of_another_project_is_404(client, w):
    foreign = make_list(w.other_project)
    assert send(client, "get", f"/lists/{foreign.pk}", w.manager).status_code == 404
    assert send(client, "delete", f"/lists/{foreign.pk}", w.manager).status_code == 404
    assert LeadList.objects.filter(pk=foreign.pk).exists()


def test_delete_a_list_keeps_its_leads(client, w):
    lead_list = make_list(w.project)
    put_on_list(lead_list, w.own_lead)
    assert send(client, "delete", f"/lists/{lead_list.pk}", w.manager).status_code == 204
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None


@pytest.mark.parametrize(("_case", "who", "status"), [
    ("agent", "agent", 403), ("manager", "manager", 200), ("admin", "admin", 200),
    ("manager of another project", "foreign_manager", 404),
])
def test_add_a_contact_to_a_list_by_hand(client, w, _case, who, status):
    lead_list = make_list(w.project)
    before = event_count()

    response = send(client, "post", f"/lists/{lead_list.pk}/leads", w.user(who),
                    {"lead": w.own_lead.pk})

    assert response.status_code == status
    if status == 200:
        assert response.json()["list"] == lead_list.pk
        assert TimelineEvent.objects.filter(lead_id=w.own_lead.pk).latest("id").kind == (
            TimelineKind.LEAD_ADDED_TO_LIST)
    else:
        assert Lead.objects.get(pk=w.own_lead.pk).list_id is None
        assert event_count() == before


def test_a_lead_of_another_project_is_400(client, w):
    lead_list = make_list(w.project)
    foreign = make_lead(w.other_project)
    response = send(client, "post", f"/lists/{lead_list.pk}/leads", w.admin,
                    {"lead": foreign.pk})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "other_project"


def test_list_leads_and_remove_one(client, w):
    lead_list = make_list(w.project)
    put_on_list(lead_list, w.own_lead, w.other_lead)

    page = send(client, "get", f"/lists/{lead_list.pk}/leads", w.manager).json()
    assert [i["id"] for i in page["items"]] == [w.other_lead.pk, w.own_lead.pk]

    path = f"/lists/{lead_list.pk}/leads/{w.own_lead.pk}"
    assert send(client, "delete", path, w.manager).status_code == 204
    assert send(client, "delete", path, w.manager).status_code == 404
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None


def test_lead_body_carries_its_list_and_the_list_filter_works(client, w):
    lead_list = make_list(w.project)
    put_on_list(lead_list, w.own_lead)

    assert send(client, "get", f"/leads/{w.own_lead.pk}", w.agent).json()["list"] == (
        lead_list.pk)
    assert send(client, "get", f"/leads/{w.other_lead.pk}", w.manager).json()["list"] is None
    page = send(client, "get", f"/leads?list={lead_list.pk}", w.manager).json()
    assert [i["id"] for i in page["items"]] == [w.own_lead.pk]
    page = send(client, "get", f"/leads?list={lead_list.pk}", w.other_agent).json()
    assert page["items"] == []


def test_lead_patch_cannot_set_the_list(client, w):
    lead_list = make_list(w.project)
    response = send(client, "patch", f"/leads/{w.own_lead.pk}", w.manager,
                    {"list": lead_list.pk})
    assert response.status_code == 400


# --- campaigns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("_case", "who", "status"), ROLES)
def test_create_campaign_permissions(client, w, _case, who, status):
    response = send(client, "post", "/campaigns", w.user(who),
                    {"project": w.project.pk, "name": "Calls", "channel": "call"})
    assert response.status_code == status
    if status == 201:
        campaign = Campaign.objects.get()
        body = response.json()
        assert (body["id"], body["name"], body["channel"], body["active"], body["own_list"],
                body["lists"]) == (campaign.pk, "Calls", "call", True, campaign.own_list_id, [])
        own = send(client, "get", f"/lists/{campaign.own_list_id}", w.user(who)).json()
        assert own["campaign"] == campaign.pk
    else:
        assert not Campaign.objects.exists()


def test_campaign_patch_with_another_project_is_400(client, w):
    campaign = make_campaign(w.project)
    response = send(client, "patch", f"/campaigns/{campaign.pk}", w.admin,
                    {"project": w.other_project.pk, "name": "Moved"})
    assert response.status_code == 400
    assert Campaign.objects.get().name != "Moved"


def test_assign_and_unassign_lists_through_the_api(client, w):
    first, second = make_list(w.project), make_list(w.project)
    foreign = make_list(w.other_project)
    campaign = make_campaign(w.project)

    response = send(client, "post", f"/campaigns/{campaign.pk}/lists", w.manager,
                    {"lists": [first.pk, second.pk]})
    assert (response.status_code, response.json()["lists"]) == (200, sorted([first.pk,
                                                                              second.pk]))
    assert send(client, "post", f"/campaigns/{campaign.pk}/lists", w.manager,
                {"lists": [foreign.pk]}).status_code == 400
    assert send(client, "post", f"/campaigns/{campaign.pk}/lists", w.agent,
                {"lists": [first.pk]}).status_code == 403

    response = send(client, "delete", f"/campaigns/{campaign.pk}/lists/{first.pk}", w.manager)
    assert (response.status_code, response.json()["lists"]) == (200, [second.pk])
    assert send(client, "delete", f"/campaigns/{campaign.pk}/lists/{first.pk}",
                w.manager).status_code == 404


def test_campaign_leads_leave_out_disabled_lists(client, w):
    on, off = make_list(w.project), make_list(w.project, enabled=False)
    campaign = make_campaign(w.project, lists=[on, off])
    put_on_list(on, w.own_lead)
    put_on_list(off, w.other_lead)

    page = send(client, "get", f"/campaigns/{campaign.pk}/leads", w.manager).json()

    assert [i["id"] for i in page["items"]] == [w.own_lead.pk]


def test_list_campaigns(client, w):
    lead_list = make_list(w.project)
    campaign = make_campaign(w.project, name="A", lists=[lead_list])
    make_campaign(w.other_project, name="B")
    page = send(client, "get", "/campaigns", w.manager).json()
    assert [(i["id"], i["lists"]) for i in page["items"]] == [(campaign.pk, [lead_list.pk])]


def test_delete_campaign(client, w):
    campaign = make_campaign(w.project)
    assert send(client, "delete", f"/campaigns/{campaign.pk}", w.agent).status_code == 403
    assert send(client, "delete", f"/campaigns/{campaign.pk}", w.manager).status_code == 204
    assert not LeadList.objects.exists()


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_add_to_campaign_by_filter(client, w):
    campaign = make_campaign(w.project, name="Spring")
    tagged = [make_lead(w.project, company="Acme") for _ in range(3)]
    make_lead(w.other_project, company="Acme")
    put_on_list(campaign.own_list, tagged[0])

    response = send(client, "post", "/leads/bulk", w.manager, {
        "action": "add_to_campaign", "filter": {"q": "acme", "project": w.project.pk},
        "params": {"campaign": campaign.pk}})

    assert response.status_code == 200
    assert response.json() == {"done": 2, "skipped": 1, "errors": []}
    assert set(Lead.objects.filter(list_id=campaign.own_list_id)
               .values_list("pk", flat=True)) == {lead.pk for lead in tagged}
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_ADDED_TO_LIST,
                                        lead_id=tagged[1].pk).exists()


def test_bulk_add_to_list_by_ids(client, w):
    lead_list = make_list(w.project)
    foreign = make_lead(w.other_project)
    response = send(client, "post", "/leads/bulk", w.admin, {
        "action": "add_to_list", "ids": [w.own_lead.pk, foreign.pk],
        "params": {"list": lead_list.pk}})
    assert response.status_code == 200
    body = response.json()
    assert (body["done"], body["skipped"]) == (1, 0)
    assert [(e["lead"], e["code"]) for e in body["errors"]] == [(foreign.pk, "other_project")]


@pytest.mark.parametrize(("_case", "params"), [
    ("no list", {}), ("unknown list", {"list": -1}), ("unknown parameter", {"list": 1, "x": 2}),
])
def test_bulk_add_to_list_needs_a_known_list(client, w, _case, params):
    response = send(client, "post", "/leads/bulk", w.manager, {
        "action": "add_to_list", "ids": [w.own_lead.pk], "params": params})
    assert response.status_code == 400
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None


def test_bulk_add_to_a_campaign_of_another_project_is_400(client, w):
    foreign = make_campaign(w.other_project)
    response = send(client, "post", "/leads/bulk", w.manager, {
        "action": "add_to_campaign", "filter": {}, "params": {"campaign": foreign.pk}})
    assert response.status_code == 400


def test_bulk_add_to_campaign_over_the_limit_is_a_job(client, w, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    from leadflow.crm.services import ownership

    monkeypatch.setattr(ownership, "BULK_LIMIT", 2)
    monkeypatch.setattr(ownership, "JOB_CHUNK", 2)
    campaign = make_campaign(w.project)
    leads = [make_lead(w.project) for _ in range(3)] + [w.own_lead, w.other_lead]

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "post", "/leads/bulk", w.manager, {
            "action": "add_to_campaign", "filter": {"project": w.project.pk},
            "params": {"campaign": campaign.pk}})

    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"])
    assert (job.state, job.counts) == ("done", {"done": 5, "skipped": 0, "errors": 0})
    assert Lead.objects.filter(list_id=campaign.own_list_id).count() == len(leads)
    assert not CampaignList.objects.exists()
