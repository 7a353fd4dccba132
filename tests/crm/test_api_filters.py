"""GET /leads: filters, the `q` rules, orderings, keyset cursors and limits."""

import base64
import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
import time_machine

from leadflow.crm import services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.projects.models import Pool
from tests.factories import (
    SYSTEM,
    as_actor,
    auth,
    make_lead,
    make_project,
    make_user,
    set_claim,
    source_named,
    stage_named,
)

T0 = datetime.fromisoformat("2030-03-01T12:00:00+00:00")


def listing(client, user, **params):
    response = client.get(f"/api/v1/leads?{urlencode(params)}", **auth(user))
    assert response.status_code == 200, response.content
    return response.json()


def ids(client, user, **params) -> list[int]:
    return [lead["id"] for lead in listing(client, user, **params)["items"]]


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def team():
    project = make_project(default_region="GB")
    return project, make_user(project, "manager"), make_user(project, "agent")


# --- filters -----------------------------------------------------------------------------------


def test_list_answers_items_and_next_cursor(client, team):
    project, manager, _agent = team
    lead = make_lead(project)

    body = listing(client, manager)

    assert set(body) == {"items", "next_cursor"}
    assert [i["id"] for i in body["items"]] == [lead.pk]
    assert body["next_cursor"] is None


def test_filter_by_status_and_stage(client, team):
    project, manager, _agent = team
    new, contacted = make_lead(project), make_lead(project)
    services.set_stage(contacted, stage_named(project, "Contacted"), actor=SYSTEM)

    assert ids(client, manager, status="CONTACTED") == [contacted.pk]
    assert ids(client, manager, status="NOT_CONTACTED") == [new.pk]
    assert ids(client, manager, stage=stage_named(project, "New").pk) == [new.pk]
    assert ids(client, manager, stage=stage_named(project, "Qualified").pk) == []


def test_unknown_status_is_400(client, team):
    _project, manager, _agent = team

    response = client.get("/api/v1/leads?status=HOT", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [("status", "invalid")]


def test_filter_by_source(client, team):
    project, manager, _agent = team
    website = source_named(project, "Website")
    manual = make_lead(project)
    web = services.create_lead(project, LeadInput(name="W", email="w@example.com"),
                               actor=SYSTEM, source=website).lead

    assert ids(client, manager, source=website.pk) == [web.pk]
    assert ids(client, manager, source=source_named(project, "Manual").pk) == [manual.pk]


def test_filter_by_owner(client, team):
    project, manager, agent = team
    mine = make_lead(project, owner=agent)
    make_lead(project)

    assert ids(client, manager, owner=agent.pk) == [mine.pk]


def test_filter_by_pool(client, team):
    project, manager, agent = team
    second = Pool.objects.create(project=project, name="Second")
    moved, stayed = make_lead(project), make_lead(project)
    Lead.objects.filter(pk=moved.pk).update(pool=second)

    assert ids(client, manager, pool=second.pk) == [moved.pk]
    assert ids(client, manager, pool=stayed.pool_id) == [stayed.pk]


def test_filter_unassigned_uses_owner_and_live_claims(client, team):
    project, manager, agent = team
    with time_machine.travel(T0, tick=False):
        owned = make_lead(project, owner=agent)
        free = make_lead(project)
        claimed = make_lead(project)
        lapsed = make_lead(project)
        set_claim(claimed, agent, T0 + timedelta(hours=1))
        set_claim(lapsed, agent, T0 - timedelta(seconds=1))

        assert ids(client, manager, unassigned="true") == [lapsed.pk, free.pk]
        assert ids(client, manager, unassigned="false") == [claimed.pk, owned.pk]

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert ids(client, manager, unassigned="true") == [lapsed.pk, claimed.pk, free.pk]


def test_filter_retired(client, team):
    project, manager, _agent = team
    retired, active = make_lead(project), make_lead(project)
    Lead.objects.filter(pk=retired.pk).update(retired_at=T0)

    assert ids(client, manager, retired="true") == [retired.pk]
    assert ids(client, manager, retired="false") == [active.pk]
    assert listing(client, manager, retired="true")["items"][0]["retired"] is True


def test_filter_created_after_and_before(client, team):
    project, manager, _agent = team
    leads = []
    for day in range(3):
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            leads.append(make_lead(project))

    after = (T0 + timedelta(days=1)).isoformat()
    assert ids(client, manager, created_after=after) == [leads[2].pk, leads[1].pk]
    assert ids(client, manager, created_before=after) == [leads[0].pk]
    assert ids(client, manager, created_after=T0.isoformat(), created_before=after) == [
        leads[0].pk]


def test_filters_combine(client, team):
    project, manager, agent = team
    target = make_lead(project, owner=agent)
    services.set_stage(target, stage_named(project, "Contacted"), actor=SYSTEM)
    make_lead(project, owner=agent)
    other = make_lead(project)
    services.set_stage(other, stage_named(project, "Contacted"), actor=SYSTEM)

    assert ids(client, manager, owner=agent.pk, status="CONTACTED") == [target.pk]


def test_filter_project(client):
    first, second = make_project(), make_project()
    admin = make_user(admin=True)
    a, b = make_lead(first), make_lead(second)

    assert ids(client, admin, project=first.pk) == [a.pk]
    assert ids(client, admin) == [b.pk, a.pk]


def test_list_and_bucket_filters_match_nothing_yet(client, team):
    project, manager, _agent = team
    make_lead(project)

    assert ids(client, manager, list=1) == []
    assert ids(client, manager, bucket=1) == []


def test_filters_never_widen_visibility(client, team):
    project, _manager, agent = team
    colleague = make_user(project, "agent")
    theirs = make_lead(project, owner=colleague)

    assert ids(client, agent, owner=colleague.pk) == []
    assert ids(client, agent, q=str(theirs.pk)) == []


# --- q -----------------------------------------------------------------------------------------


def test_q_digits_find_by_id(client, team):
    project, manager, _agent = team
    leads = [make_lead(project) for _ in range(3)]

    assert ids(client, manager, q=str(leads[1].pk)) == [leads[1].pk]
    assert ids(client, manager, q="999999") == []


def test_q_plus_is_a_phone_prefix(client, team):
    project, manager, _agent = team
    london = make_lead(project, phones=["+44 20 7946 0018"])
    make_lead(project, phones=["+1 212 555 0100"])

    assert ids(client, manager, q="+44 20 79") == [london.pk]
    assert ids(client, manager, q="+4420") == [london.pk]
    assert ids(client, manager, q="+49") == []


def test_q_double_zero_is_an_international_prefix(client, team):
    project, manager, _agent = team
    london = make_lead(project, phones=["+44 20 7946 0018"])

    assert ids(client, manager, q="0044 20 79") == [london.pk]


def test_q_leading_zero_reads_a_national_number_in_the_project_region(client, team):
    project, manager, _agent = team
    london = make_lead(project, phones=["020 7946 0018"])
    make_lead(project, phones=["+1 212 555 0100"])

    assert ids(client, manager, q="020 7946") == [london.pk]
    assert ids(client, manager, q="020-7946-0018") == [london.pk]
    assert ids(client, manager, q="0212") == []


def test_q_national_number_with_an_explicit_project(client):
    london_project, new_york = make_project(default_region="GB"), make_project(default_region="US")
    admin = make_user(admin=True)
    london = make_lead(london_project, phones=["020 7946 0018"])
    ny = make_lead(new_york, phones=["(212) 555-0100"])

    assert ids(client, admin, q="020 79", project=london_project.pk) == [london.pk]
    assert ids(client, admin, q="0212", project=new_york.pk) == []
    assert ids(client, admin, q="+1212555", project=new_york.pk) == [ny.pk]


def test_q_keeps_the_leading_zero_where_it_is_part_of_the_number(client):
    rome = make_project(default_region="IT")
    manager = make_user(rome, "manager")
    lead = make_lead(rome, phones=["06 6982 1234"])

    assert lead.phones == ["+390669821234"]
    assert ids(client, manager, q="06 6982") == [lead.pk]


def test_q_at_sign_is_an_email_prefix(client, team):
    project, manager, _agent = team
    ann = make_lead(project, email="ann@example.com")
    make_lead(project, email="annie@example.com")
    make_lead(project, email="bob@ann.example.com")

    assert ids(client, manager, q="ANN@EX") == [ann.pk]
    assert ids(client, manager, q="ann@example.com") == [ann.pk]
    assert ids(client, manager, q="@example") == []


def test_q_words_are_prefixes_of_name_and_company_words(client, team):
    project, manager, _agent = team
    ann = make_lead(project, name="Ann Lee", company="Acme Corp")
    bob = make_lead(project, name="Bob Acheson", company="Zenith")
    make_lead(project, name="Carla Ma", company="Globex")

    assert ids(client, manager, q="ac") == [bob.pk, ann.pk]
    assert ids(client, manager, q="acm") == [ann.pk]
    assert ids(client, manager, q="LEE") == [ann.pk]
    assert ids(client, manager, q="ann corp") == [ann.pk]
    assert ids(client, manager, q="ann zen") == []
    assert ids(client, manager, q="nn") == []


def test_q_is_accent_insensitive_both_ways(client, team):
    project, manager, _agent = team
    jose = make_lead(project, name="José Müller")
    zoe = make_lead(project, name="Zoe Lindqvist")

    assert ids(client, manager, q="jose") == [jose.pk]
    assert ids(client, manager, q="MÜLL") == [jose.pk]
    assert ids(client, manager, q="mull") == [jose.pk]
    assert ids(client, manager, q="zoë") == [zoe.pk]


def test_q_follows_contact_changes(client, team):
    project, manager, _agent = team
    lead = make_lead(project, name="Ann Lee")
    services.update_lead(lead, {"name": "Beatrix Kiddo"}, actor=SYSTEM)

    assert ids(client, manager, q="ann") == []
    assert ids(client, manager, q="kid") == [lead.pk]


def test_q_longer_than_200_characters_is_400(client, team):
    _project, manager, _agent = team

    response = client.get(f"/api/v1/leads?q={'a' * 201}", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [("q", "too_long")]


# --- ordering and cursors ----------------------------------------------------------------------


def _sort_key(ordering: str):
    far = datetime.max.replace(tzinfo=T0.tzinfo)

    def key(lead):
        if ordering == "-created_at":
            return (-lead.created_at.timestamp(), -lead.pk)
        if ordering == "created_at":
            return (lead.created_at.timestamp(), lead.pk)
        if ordering == "next_call_at":
            return (lead.next_call_at is None, lead.next_call_at or far, lead.pk)
        if ordering == "-last_activity_at":
            value = lead.last_activity_at
            return (value is None, -(value.timestamp() if value else 0), -lead.pk)
        return (lead.name, lead.pk)

    return key


@pytest.fixture
def many_leads(team):
    """Nine leads with ties and gaps in every ordering column."""
    project, manager, _agent = team
    names = ["Mia", "Ann", "Zed", "Ann", "Bob", "Mia", "Cy", "Ann", "Dee"]
    leads = []
    for index, name in enumerate(names):
        # Three leads share each creation instant.
        with time_machine.travel(T0 + timedelta(minutes=index // 3), tick=False):
            leads.append(make_lead(project, name=name))
    next_calls = [None, 5, 1, None, 5, 3, None, 1, 9]
    activities = [2, None, 2, 7, None, 1, 7, None, 4]
    for lead, call, activity in zip(leads, next_calls, activities, strict=True):
        Lead.objects.filter(pk=lead.pk).update(
            next_call_at=None if call is None else T0 + timedelta(hours=call),
            last_activity_at=None if activity is None else T0 - timedelta(hours=activity),
        )
    return manager, list(Lead.objects.filter(pk__in=[lead.pk for lead in leads]))


@pytest.mark.parametrize(
    "ordering", ["-created_at", "created_at", "next_call_at", "-last_activity_at", "name"]
)
def test_cursor_walk_returns_every_lead_once_in_order(client, many_leads, ordering):
    manager, leads = many_leads
    expected = [lead.pk for lead in sorted(leads, key=_sort_key(ordering))]

    seen, cursor, pages = [], None, 0
    while True:
        params = {"ordering": ordering, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = listing(client, manager, **params)
        pages += 1
        assert len(body["items"]) <= 2
        seen.extend(lead["id"] for lead in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 20

    assert seen == expected
    assert pages == 5


def test_default_ordering_is_newest_first(client, many_leads):
    manager, leads = many_leads

    assert ids(client, manager) == [
        lead.pk for lead in sorted(leads, key=_sort_key("-created_at"))]


def test_cursor_with_a_filter(client, team):
    project, manager, agent = team
    owned = [make_lead(project, owner=agent) for _ in range(5)]
    for _ in range(3):
        make_lead(project)

    first = listing(client, manager, owner=agent.pk, limit=3)
    second = listing(client, manager, owner=agent.pk, limit=3, cursor=first["next_cursor"])

    assert [i["id"] for i in first["items"] + second["items"]] == [
        lead.pk for lead in reversed(owned)]
    assert second["next_cursor"] is None


def test_exact_page_has_no_next_cursor(client, team):
    project, manager, _agent = team
    for _ in range(2):
        make_lead(project)

    assert listing(client, manager, limit=2)["next_cursor"] is None


def test_unknown_ordering_is_400(client, team):
    _project, manager, _agent = team

    response = client.get("/api/v1/leads?ordering=-name", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [("ordering", "invalid")]


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_limit_out_of_range_is_400(client, team, limit):
    _project, manager, _agent = team

    response = client.get(f"/api/v1/leads?limit={limit}", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [("limit", "out_of_range")]


def test_limit_defaults_to_50_and_reaches_200(client, team):
    project, manager, _agent = team
    for n in range(51):
        make_lead(project, email=f"bulk{n}@example.com")

    default = listing(client, manager)
    widest = listing(client, manager, limit=200)

    assert (len(default["items"]), default["next_cursor"] is None) == (50, False)
    assert (len(widest["items"]), widest["next_cursor"]) == (51, None)


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "%%%",
    "bm90IGpzb24",
    _cursor({"a": 1}),
    _cursor([False, "2030-01-01T00:00:00+00:00"]),
    _cursor([False, "yesterday", 5]),
    _cursor([False, "2030-01-01T00:00:00+00:00", "5"]),
])
def test_invalid_cursor_is_400(client, team, cursor):
    _project, manager, _agent = team

    response = client.get(f"/api/v1/leads?{urlencode({'cursor': cursor})}", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [("cursor", "invalid")]


def test_non_string_cursor_value_for_name_ordering_is_400(client, team):
    _project, manager, _agent = team

    response = client.get(
        f"/api/v1/leads?{urlencode({'ordering': 'name', 'cursor': _cursor([False, 7, 1])})}",
        **auth(manager))

    assert response.status_code == 400


def test_list_query_count_does_not_grow_with_rows(client, team, django_assert_max_num_queries):
    project, manager, agent = team
    for _ in range(20):
        make_lead(project, actor=as_actor(agent))
    client.get("/api/v1/leads", **auth(manager))  # first call touches the token

    headers = auth(manager)
    client.get("/api/v1/leads?limit=1", **headers)
    # One of them reads the tags of the whole page.
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/leads?limit=50&q=lead", **headers)

    assert len(response.json()["items"]) == 20


@pytest.mark.parametrize("name", ["project", "stage", "source", "owner", "pool", "list",
                                  "bucket"])
def test_an_id_filter_beyond_64_bits_is_400(client, team, name):
    _project, manager, _agent = team

    response = client.get(f"/api/v1/leads?{name}={10**20}", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [(name, "invalid")]


@pytest.mark.parametrize("q", ["ann\x00", "a\x00@example.com", "+44\x00"])
def test_q_with_a_nul_character_is_400(client, team, q):
    project, manager, _agent = team
    make_lead(project, name="Ann", email="ann@example.com")

    response = client.get(f"/api/v1/leads?{urlencode({'q': q})}", **auth(manager))

    assert response.status_code == 400
    assert error_codes(response) == [("q", "invalid")]


def test_q_national_number_for_an_admin_reads_the_region_all_projects_share(client):
    london, manchester = make_project(default_region="GB"), make_project(default_region="GB")
    admin = make_user(admin=True)
    lead = make_lead(manchester, phones=["0161 496 0000"])
    make_lead(london, phones=["020 7946 0018"])

    assert ids(client, admin, q="0161 496") == [lead.pk]


def test_q_national_number_for_an_agent_of_several_projects_of_one_region(client):
    first, second = make_project(default_region="GB"), make_project(default_region="GB")
    agent = make_user(first, "agent")
    from leadflow.accounts.services import set_membership

    set_membership(agent, second, "agent", actor=SYSTEM)
    lead = make_lead(second, phones=["0161 496 0000"], owner=agent)

    assert ids(client, agent, q="0161") == [lead.pk]
