"""Routing settings screens: offices, groups and distribution rules — lists, create, edit,
delete, rule order with up-next — for managers and admins; refused to agents and outsiders."""

import pytest
from django.urls import reverse

from leadflow.accounts.services import set_away
from leadflow.projects import services as project_services
from leadflow.routing.models import DistributionRule, Group, Office
from tests.factories import (
    SYSTEM,
    default_pool,
    make_bucket,
    make_group,
    make_office,
    make_project,
    make_rule,
    make_user,
    source_named,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def setting():
    project = make_project()
    manager = make_user(project, "manager")
    a, b = make_user(project, "agent"), make_user(project, "agent")
    return project, manager, a, b


def screens(project, office, group, rule) -> list[str]:
    return [
        reverse("config:offices", args=[project.pk]),
        reverse("config:office_edit", args=[office.pk]),
        reverse("config:groups", args=[project.pk]),
        reverse("config:group_edit", args=[group.pk]),
        reverse("config:rules", args=[project.pk]),
        reverse("config:rule_edit", args=[rule.pk]),
    ]


def rows() -> list:
    return (list(Office.objects.order_by("pk").values())
            + list(Group.objects.order_by("pk").values())
            + list(DistributionRule.objects.order_by("pk").values()))


@pytest.mark.parametrize("_case, who, status", [
    ("manager", "manager", 200),
    ("admin", "admin", 200),
    ("agent", "agent", 403),
    ("manager_of_another_project", "foreign_manager", 404),
])
def test_routing_screens_by_role(client, _case, who, status):
    project, manager, a, _b = setting()
    users = {"manager": manager, "agent": a, "admin": make_user(admin=True),
             "foreign_manager": make_user(make_project(), "manager")}
    urls = screens(project, make_office(project), make_group(project), make_rule(project))
    client.force_login(users[who])

    assert [client.get(url).status_code for url in urls] == [status] * 6


def test_anonymous_is_sent_to_login(client):
    project, *_ = setting()

    response = client.get(reverse("config:rules", args=[project.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_agent_posts_change_nothing(client):
    project, _manager, a, _b = setting()
    office, group, rule = make_office(project), make_group(project), make_rule(project)
    second = make_rule(project)
    before = rows()
    client.force_login(a)

    responses = [
        client.post(reverse("config:offices", args=[project.pk]), {"name": "Sneaky"}),
        client.post(reverse("config:office_delete", args=[office.pk])),
        client.post(reverse("config:group_edit", args=[group.pk]), {"name": "Sneaky"}),
        client.post(reverse("config:rules", args=[project.pk]),
                    {"name": "Sneaky", "pool": default_pool(project).pk,
                     "method": "round_robin"}),
        client.post(reverse("config:rule_move", args=[second.pk]), {"direction": "up"}),
        client.post(reverse("config:rule_delete", args=[rule.pk])),
    ]

    assert [r.status_code for r in responses] == [403] * 6
    assert rows() == before


def test_settings_index_and_tabs_link_the_routing_screens(client):
    project, manager, *_ = setting()
    client.force_login(manager)

    index = client.get(reverse("config:index")).content.decode()
    pools = client.get(reverse("config:pools", args=[project.pk])).content.decode()

    for name in ("config:offices", "config:groups", "config:rules"):
        assert reverse(name, args=[project.pk]) in index
        assert reverse(name, args=[project.pk]) in pools


# --- offices and groups ------------------------------------------------------------------------


def test_manager_adds_edits_and_deletes_an_office(client):
    project, manager, a, b = setting()
    client.force_login(manager)

    added = client.post(reverse("config:offices", args=[project.pk]),
                        {"name": "Berlin", "members": [a.pk]})
    office = Office.objects.get(project=project)
    edited = client.post(reverse("config:office_edit", args=[office.pk]),
                         {"name": "Munich", "members": [a.pk, b.pk]})
    listing = client.get(reverse("config:offices", args=[project.pk])).content.decode()
    deleted = client.post(reverse("config:office_delete", args=[office.pk]))

    assert added["Location"] == reverse("config:offices", args=[project.pk])
    assert edited["Location"] == reverse("config:offices", args=[project.pk])
    assert "Munich" in listing and f"{a.label}, {b.label}" in listing
    assert deleted.status_code == 302
    assert not Office.objects.exists()


def test_group_form_shows_service_errors(client):
    project, manager, *_ = setting()
    make_group(project, name="Closers")
    client.force_login(manager)

    blank = client.post(reverse("config:groups", args=[project.pk]), {"name": ""})
    taken = client.post(reverse("config:groups", args=[project.pk]), {"name": "Closers"})

    assert blank.context["form"].errors == {"name": ["Name is required."]}
    assert "Group &#x27;Closers&#x27; exists already." in taken.content.decode()
    assert Group.objects.count() == 1


# --- distribution rules ------------------------------------------------------------------------


def test_rules_list_shows_order_conditions_method_pool_and_up_next(client):
    project, manager, a, b = setting()
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[b.pk])
    make_rule(project, name="German speakers", pool=seniors, method="least_loaded",
              countries=["DE"], languages=["de"], custom={"tier": ["gold", "vip"]},
              sources=[source_named(project, "Event").pk])
    make_rule(project, name="Everyone else")
    set_away(project.pk, a, True, actor=SYSTEM)
    client.force_login(manager)

    response = client.get(reverse("config:rules", args=[project.pk]))

    rows = response.context["rows"]
    assert [r["rule"].name for r in rows] == ["German speakers", "Everyone else"]
    assert rows[0]["conditions"] == ["Source: Event", "Country: DE", "Language: de",
                                     "tier = gold or vip"]
    assert rows[1]["conditions"] == []
    assert [r["method"] for r in rows] == ["Least loaded", "Round robin"]
    assert [r["up_next"] for r in rows] == [b.label, b.label]
    html = response.content.decode()
    assert "Seniors" in html and "Any lead" in html


def test_manager_adds_a_rule_then_sets_weights_and_caps(client):
    project, manager, a, b = setting()
    bucket, _key = make_bucket(project)
    client.force_login(manager)

    added = client.post(reverse("config:rules", args=[project.pk]), {
        "name": "Germany", "pool": default_pool(project).pk, "method": "weighted",
        "active": "on", "buckets": [bucket.pk], "countries": "de, at",
        "languages": "DE", "custom": "tier = gold | vip\nscore = 5", "agent_cap": "10",
    })
    rule = DistributionRule.objects.get(name="Germany")
    edit_url = reverse("config:rule_edit", args=[rule.pk])
    page = client.get(edit_url).content.decode()
    saved = client.post(edit_url, {
        "name": "Germany", "pool": default_pool(project).pk, "method": "weighted",
        "active": "on", "buckets": [bucket.pk], "countries": "DE, AT", "languages": "de",
        "custom": "tier = gold | vip\nscore = 5", "agent_cap": "10",
        f"weight_{a.pk}": "3", f"weight_{b.pk}": "", f"cap_{a.pk}": "none", f"cap_{b.pk}": "4",
    })

    assert added["Location"] == edit_url
    assert f'name="weight_{a.pk}"' in page and f'name="cap_{b.pk}"' in page
    assert saved["Location"] == reverse("config:rules", args=[project.pk])
    rule.refresh_from_db()
    assert (rule.method, rule.buckets, rule.countries, rule.languages) == (
        "weighted", [bucket.pk], ["AT", "DE"], ["de"])
    assert rule.custom == {"tier": ["gold", "vip"], "score": 5}
    assert (rule.weights, rule.caps, rule.agent_cap) == (
        {str(a.pk): 3}, {str(a.pk): None, str(b.pk): 4}, 10)


def test_edit_form_shows_existing_values_and_unticking_active_deactivates(client):
    project, manager, a, _b = setting()
    rule = make_rule(project, name="VIP", custom={"tier": "gold"}, weights={str(a.pk): 2},
                     caps={str(a.pk): None})
    client.force_login(manager)

    form = client.get(reverse("config:rule_edit", args=[rule.pk])).context["form"]
    client.post(reverse("config:rule_edit", args=[rule.pk]), {
        "name": "VIP", "pool": default_pool(project).pk, "method": "round_robin",
        "custom": "tier = gold", f"weight_{a.pk}": "2", f"cap_{a.pk}": "none"})

    assert (form.initial["custom"], form.initial[f"weight_{a.pk}"],
            form.initial[f"cap_{a.pk}"]) == ("tier = gold", 2, "none")
    rule.refresh_from_db()
    assert (rule.active, rule.custom, rule.caps) == (False, {"tier": "gold"},
                                                     {str(a.pk): None})


def test_rule_form_shows_errors_from_the_form_and_the_service(client):
    project, manager, a, _b = setting()
    rule = make_rule(project)
    client.force_login(manager)

    bad = client.post(reverse("config:rules", args=[project.pk]), {
        "name": "Bad", "pool": default_pool(project).pk, "method": "round_robin",
        "countries": "Germany", "custom": "no equals sign"})
    fixed_custom = client.post(reverse("config:rules", args=[project.pk]), {
        "name": "Bad", "pool": default_pool(project).pk, "method": "round_robin",
        "countries": "Germany", "agent_cap": "-1"})
    bad_cap = client.post(reverse("config:rule_edit", args=[rule.pk]), {
        "name": rule.name, "pool": default_pool(project).pk, "method": "round_robin",
        f"cap_{a.pk}": "lots"})

    assert bad.context["form"].errors == {
        "custom": ["Line 1: write field = value, or field = value | other value."]}
    assert fixed_custom.context["form"].errors == {
        "countries": ["'GERMANY' is not an ISO 3166 country code."],
        "agent_cap": ["A whole number from 0 to 1000000, or empty for no cap."]}
    assert bad_cap.context["form"].errors == {f"cap_{a.pk}": ["A whole number, 'none' or empty."]}
    assert DistributionRule.objects.count() == 1


def test_changing_the_pool_keeps_the_manager_on_the_rule_to_set_the_new_members(client):
    project, manager, a, b = setting()
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[b.pk])
    rule = make_rule(project, weights={str(a.pk): 3})
    client.force_login(manager)

    response = client.post(reverse("config:rule_edit", args=[rule.pk]), {
        "name": rule.name, "pool": seniors.pk, "method": "round_robin", "active": "on",
        f"weight_{a.pk}": "3", f"weight_{b.pk}": "9"})
    page = client.get(reverse("config:rule_edit", args=[rule.pk])).content.decode()

    assert response["Location"] == reverse("config:rule_edit", args=[rule.pk])
    rule.refresh_from_db()
    assert (rule.pool_id, rule.weights) == (seniors.pk, {})
    assert f'name="weight_{b.pk}"' in page and f'name="weight_{a.pk}"' not in page


def test_choosing_another_pool_shows_its_members_rows_without_saving(client):
    project, manager, a, b = setting()
    c = make_user(project, "agent")
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM,
                                           members=[b.pk, c.pk])
    rule = make_rule(project, weights={str(a.pk): 3, str(b.pk): 5})
    client.force_login(manager)
    agents_url = reverse("config:rule_agents", args=[rule.pk])

    page = client.get(reverse("config:rule_edit", args=[rule.pk])).content.decode()
    rows = client.get(agents_url, {"pool": seniors.pk}, **HTMX)

    html = rows.content.decode()
    assert f'hx-get="{agents_url}"' in page and 'hx-target="#per-agent"' in page
    assert rows.status_code == 200
    assert html.startswith('<fieldset id="per-agent"')
    assert "Per agent (Seniors)" in html
    assert f'name="agents_pool" value="{seniors.pk}"' in html
    assert f'name="weight_{a.pk}"' not in html
    assert f'name="weight_{b.pk}" value="5"' in html and f'name="weight_{c.pk}"' in html
    assert "Saving moves the rule to this pool" in html
    rule.refresh_from_db()
    assert (rule.pool_id, rule.weights) == (default_pool(project).pk, {str(a.pk): 3, str(b.pk): 5})


def test_saving_with_the_new_pools_rows_keeps_their_weights_and_caps(client):
    project, manager, a, b = setting()
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[b.pk])
    rule = make_rule(project, weights={str(a.pk): 3})
    client.force_login(manager)

    response = client.post(reverse("config:rule_edit", args=[rule.pk]), {
        "name": rule.name, "pool": seniors.pk, "method": "weighted", "active": "on",
        "agents_pool": seniors.pk, f"weight_{b.pk}": "9", f"cap_{b.pk}": "4"})

    assert response["Location"] == reverse("config:rules", args=[project.pk])
    assert [str(m) for m in response.wsgi_request._messages] == ["Rule saved."]
    rule.refresh_from_db()
    assert (rule.pool_id, rule.weights, rule.caps) == (seniors.pk, {str(b.pk): 9},
                                                       {str(b.pk): 4})


def test_pool_rows_of_another_project_are_never_shown(client):
    project, manager, a, _b = setting()
    foreign = make_project()
    outsider = make_user(foreign, "agent")
    rule = make_rule(project)
    client.force_login(manager)

    rows = client.get(reverse("config:rule_agents", args=[rule.pk]),
                      {"pool": default_pool(foreign).pk}, **HTMX)

    html = rows.content.decode()
    assert f'name="agents_pool" value="{default_pool(project).pk}"' in html
    assert f'name="weight_{a.pk}"' in html and f'name="weight_{outsider.pk}"' not in html


def test_pool_rows_without_htmx_lead_back_to_the_rule(client):
    project, manager, *_ = setting()
    rule = make_rule(project)
    client.force_login(manager)

    response = client.get(reverse("config:rule_agents", args=[rule.pk]))

    assert response["Location"] == reverse("config:rule_edit", args=[rule.pk])


@pytest.mark.parametrize("_case, who, status", [
    ("agent", "agent", 403),
    ("manager_of_another_project", "foreign_manager", 404),
])
def test_pool_rows_are_refused_to_agents_and_outsiders(client, _case, who, status):
    project, _manager, a, b = setting()
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[b.pk])
    rule = make_rule(project)
    users = {"agent": a, "foreign_manager": make_user(make_project(), "manager")}
    client.force_login(users[who])

    response = client.get(reverse("config:rule_agents", args=[rule.pk]),
                          {"pool": seniors.pk}, **HTMX)

    assert response.status_code == status
    assert f'name="weight_{b.pk}"' not in response.content.decode()


def test_moving_rules_up_and_down_with_and_without_htmx(client):
    project, manager, *_ = setting()
    first, second, third = (make_rule(project, name=n) for n in ("One", "Two", "Three"))
    client.force_login(manager)

    full = client.post(reverse("config:rule_move", args=[third.pk]), {"direction": "up"})
    partial = client.post(reverse("config:rule_move", args=[first.pk]), {"direction": "down"},
                          **HTMX)

    assert full["Location"] == reverse("config:rules", args=[project.pk])
    assert partial.status_code == 200
    assert [r["rule"].name for r in partial.context["rows"]] == ["Three", "One", "Two"]
    assert "<html" not in partial.content.decode()
    assert list(DistributionRule.objects.order_by("position").values_list("name", flat=True)) \
        == ["Three", "One", "Two"]


def test_manager_deletes_a_rule(client):
    project, manager, *_ = setting()
    rule = make_rule(project, name="Old")
    client.force_login(manager)

    response = client.post(reverse("config:rule_delete", args=[rule.pk]))
    page = client.get(response["Location"]).content.decode()

    assert not DistributionRule.objects.exists()
    assert "Rule Old deleted." in page


# --- away flag on the members screen ---------------------------------------------------------


def test_manager_marks_a_member_away_and_back_and_an_agent_may_not(client):
    from leadflow.accounts.models import Membership

    project, manager, a, b = setting()
    url = reverse("config:member_away", args=[project.pk, a.pk])

    client.force_login(b)
    refused = client.post(url, {"away": "true"})
    after_refusal = Membership.objects.get(project=project, user=a).away
    client.force_login(manager)
    away = client.post(url, {"away": "true"})
    page = client.get(reverse("config:members", args=[project.pk])).content.decode()
    is_away = Membership.objects.get(project=project, user=a).away
    client.post(url, {"away": "false"})

    assert (refused.status_code, after_refusal) == (403, False)
    assert away["Location"] == reverse("config:members", args=[project.pk])
    assert is_away is True
    assert f'aria-label="Mark {a.email} back"' in page
    assert f'aria-label="Mark {b.email} away"' in page
    assert Membership.objects.get(project=project, user=a).away is False
