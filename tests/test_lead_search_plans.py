"""Name search picks its plan by how many leads match; every plan answers the same leads in
the same order as the plain subquery formulation, through the API, for each ordering."""

from __future__ import annotations

import pytest

from leadflow.crm import filters
from leadflow.crm.models import Lead
from leadflow.crm.search import word_prefix_q
from tests.factories import auth, make_lead, make_project, make_user

NAMES = [
    ("Anna Smith", "Smith & Sons"), ("John Smith", ""), ("Joan Smithers", "Blue River LLC"),
    ("Jo Smythe", ""), ("Anna Jones", "Smith Holdings"), ("John Jones", "Blue Lake Inc"),
    ("Renée Müller", ""), ("Zoë Smith", "Müller GmbH"), ("Sam O'Brien", "Smith LLC"),
    ("Smith Johnson", ""), ("Bob Brown", "Jo Co"), ("Anna Smithson", ""),
]
QUERIES = ["smith", "SMI", "jo smi", "smith jo", "anna smith", "smith smith", "mül", "o'brien",
           "zz", "jo", "blue lake", "a b c d e f"]


@pytest.fixture
def world():
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    leads = []
    for i, (name, company) in enumerate(NAMES):
        owner = agent if i % 3 == 0 else None
        leads.append(make_lead(project, name=name, company=company or None, owner=owner))
    return manager, agent, leads


def api_ids(client, user, **params):
    """Every id of the list, page after page of 2."""
    headers = auth(user)
    ids, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/leads", query, **headers)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


def expected_ids(user, q, ordering, **extra):
    fields = {
        "-created_at": ["-created_at", "-id"], "created_at": ["created_at", "id"],
        "name": ["name", "id"],
    }[ordering]
    qs = Lead.objects.visible_to(user).filter(word_prefix_q(q), **extra).order_by(*fields)
    return list(qs.values_list("id", flat=True))


PLANS = {
    # name: (WORD_SEARCH_FETCH and _PARTIAL_VIEW, WORD_SEARCH_SET); the fixture's words match
    # 0 to 8 leads.
    "fetch": (1000, 1000),
    "walk-with-ids": (2, 1000),
    "walk-with-exists": (0, 2),
    "walk-with-exists-always": (0, 0),
}


@pytest.fixture(params=list(PLANS))
def plan(request, monkeypatch):
    fetch, walk_set = PLANS[request.param]
    monkeypatch.setattr(filters, "WORD_SEARCH_FETCH", fetch)
    monkeypatch.setattr(filters, "WORD_SEARCH_FETCH_PARTIAL_VIEW", fetch)
    monkeypatch.setattr(filters, "WORD_SEARCH_SET", walk_set)
    return request.param


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "name"])
@pytest.mark.parametrize("extra", ["", "status", "owner"])
def test_every_plan_answers_like_the_subqueries(client, world, plan, ordering, extra):
    manager, agent, _ = world
    filters_ = {"": {}, "status": {"status": "NOT_CONTACTED"}, "owner": {"owner": agent.pk}}
    params = filters_[extra]
    where = {f"{k}_id" if k == "owner" else k: v for k, v in params.items()}
    for user in (manager, agent):
        for q in QUERIES:
            assert api_ids(client, user, q=q, ordering=ordering, **params) == expected_ids(
                user, q, ordering, **where
            ), (user, q, ordering, extra)


def test_name_search_finds_words_of_name_and_company(client, world):
    manager, _, leads = world
    by_name = {lead.name: lead.pk for lead in leads}
    found = set(api_ids(client, manager, q="smith"))
    assert by_name["Anna Jones"] in found  # company "Smith Holdings"
    assert by_name["Anna Smithson"] in found
    assert by_name["Jo Smythe"] not in found
    assert set(api_ids(client, manager, q="zz")) == set()


@pytest.mark.parametrize("q", [None, "smith", "jo smi", "ann@", "+1202"])
def test_queries_per_page_do_not_grow_with_its_size(client, world, plan,
                                                     django_assert_max_num_queries, q):
    manager, agent, _ = world
    for user in (manager, agent):
        headers = auth(user)
        for limit in (1, 200):
            params = {"limit": limit, **({"q": q} if q else {})}
            with django_assert_max_num_queries(6):
                response = client.get("/api/v1/leads", params, **headers)
            assert response.status_code == 200
