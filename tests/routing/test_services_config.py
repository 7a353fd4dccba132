"""Routing configuration services: offices, groups and distribution rules — who may change
them, what they accept, the order of rules and the rotation reset."""

import pytest

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.projects import services as project_services
from leadflow.routing.models import DistributionRule, Group, Office
from leadflow.routing.services import config
from tests.factories import (
    SYSTEM,
    default_pool,
    event_count,
    make_bucket,
    make_group,
    make_office,
    make_project,
    make_rule,
    make_user,
    source_named,
)


def codes(exc: ValidationFailed) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc.errors]


def team():
    project = make_project()
    manager = make_user(project, "manager")
    a, b, c = (make_user(project, "agent") for _ in range(3))
    return project, manager, a, b, c


def member_ids(team_row) -> list[int]:
    return sorted(team_row.members.values_list("pk", flat=True))


# --- offices and groups ------------------------------------------------------------------------


def test_manager_creates_an_office_of_project_members_without_timeline_events():
    project, manager, a, b, _c = team()
    before = event_count()

    office = config.create_office(project, "  Berlin  ", actor=Actor(manager, "api"),
                                  members=[b.pk, a.pk, a.pk])

    assert (office.name, member_ids(office)) == ("Berlin", sorted([a.pk, b.pk]))
    assert event_count() == before


def test_office_members_must_be_members_of_the_project():
    project, manager, a, _b, _c = team()
    stranger = make_user(make_project(), "agent")

    with pytest.raises(ValidationFailed) as caught:
        config.create_office(project, "Berlin", actor=Actor(manager, "api"),
                             members=[a.pk, stranger.pk])

    assert codes(caught.value) == [("members", "not_member")]
    assert not Office.objects.exists()


def test_team_names_are_unique_per_project_only():
    project, manager, *_ = team()
    other = make_project()
    make_group(project, name="Closers")

    with pytest.raises(Conflict) as caught:
        config.create_group(project, "Closers", actor=Actor(manager, "api"))
    elsewhere = config.create_group(other, "Closers", actor=SYSTEM)

    assert caught.value.code == "exists"
    assert Group.objects.filter(project=project).count() == 1
    assert elsewhere.project_id == other.pk


def test_blank_and_overlong_names_are_refused():
    project, manager, *_ = team()

    with pytest.raises(ValidationFailed) as blank:
        config.create_office(project, "   ", actor=Actor(manager, "api"))
    with pytest.raises(ValidationFailed) as long:
        config.create_group(project, "x" * 101, actor=Actor(manager, "api"))

    assert codes(blank.value) == [("name", "required")]
    assert codes(long.value) == [("name", "too_long")]


def test_agents_are_refused_and_other_projects_managers_do_not_see_the_project():
    project, _manager, a, _b, _c = team()
    foreign_manager = make_user(make_project(), "manager")
    office = make_office(project, name="Berlin", members=[a])

    with pytest.raises(PermissionDenied):
        config.create_office(project, "Paris", actor=Actor(a, "api"))
    with pytest.raises(PermissionDenied):
        config.update_office(office, actor=Actor(a, "api"), name="Paris")
    with pytest.raises(NotFound):
        config.delete_office(office, actor=Actor(foreign_manager, "api"))

    office.refresh_from_db()
    assert (office.name, member_ids(office)) == ("Berlin", [a.pk])
    assert Office.objects.count() == 1


def test_update_group_renames_and_replaces_members():
    project, manager, a, b, c = team()
    group = make_group(project, name="Closers", members=[a, b])

    config.update_group(group, actor=Actor(manager, "ui"), name="Hunters", members=[c.pk])

    group.refresh_from_db()
    assert (group.name, member_ids(group)) == ("Hunters", [c.pk])


def test_renaming_to_a_taken_name_keeps_the_old_name():
    project, manager, *_ = team()
    make_office(project, name="Berlin")
    paris = make_office(project, name="Paris")

    with pytest.raises(Conflict):
        config.update_office(paris, actor=Actor(manager, "api"), name="Berlin")

    assert paris.name == "Paris"
    assert Office.objects.get(pk=paris.pk).name == "Paris"


def test_delete_group_and_office():
    project, manager, a, *_ = team()
    group = make_group(project, members=[a])
    office = make_office(project, members=[a])

    config.delete_group(group, actor=Actor(manager, "api"))
    config.delete_office(office, actor=Actor(manager, "api"))

    assert not Group.objects.exists()
    assert not Office.objects.exists()


# --- rules: creating and validating ----------------------------------------------------------


def test_rules_are_appended_at_the_end_of_the_project_order():
    project, *_ = team()
    other = make_project()
    make_rule(other)

    first, second, third = (make_rule(project) for _ in range(3))

    assert [first.position, second.position, third.position] == [1, 2, 3]


def test_a_rule_stores_normalized_conditions_and_per_agent_settings():
    project, manager, a, b, _c = team()
    bucket, _key = make_bucket(project)
    website = source_named(project, "Website")

    rule = config.create_rule(
        project, "Germany", actor=Actor(manager, "api"), pool=default_pool(project).pk,
        method="weighted", sources=[website.pk], buckets=[bucket.pk],
        countries=["de", " AT", "DE"], languages=["DE", "pt-BR"],
        custom={"tier": ["gold", "vip"], "score": 5}, weights={str(a.pk): 3, b.pk: 0},
        caps={str(a.pk): 10, str(b.pk): None}, agent_cap=20, active=False,
    )

    rule.refresh_from_db()
    assert (rule.sources, rule.buckets, rule.countries, rule.languages) == (
        [website.pk], [bucket.pk], ["AT", "DE"], ["de", "pt-br"])
    assert rule.custom == {"tier": ["gold", "vip"], "score": 5}
    assert rule.weights == {str(a.pk): 3, str(b.pk): 0}
    assert rule.caps == {str(a.pk): 10, str(b.pk): None}
    assert (rule.agent_cap, rule.active, rule.method) == (20, False, "weighted")


def test_every_invalid_rule_field_is_reported_with_its_code():
    project, manager, *_ = team()
    other = make_project()
    foreign_bucket, _ = make_bucket(other)

    with pytest.raises(ValidationFailed) as caught:
        config.create_rule(
            project, "", actor=Actor(manager, "api"), pool=default_pool(other).pk,
            method="random", sources=[source_named(other, "Website").pk],
            buckets=[foreign_bucket.pk], countries=["XX"], languages=["x"],
            custom={"tier": []}, agent_cap=-1, active="yes",
        )

    assert codes(caught.value) == [
        ("name", "required"), ("pool", "invalid"), ("method", "invalid"), ("active", "invalid"),
        ("sources", "invalid"), ("buckets", "invalid"), ("countries", "invalid"),
        ("languages", "invalid"), ("custom", "invalid"), ("agent_cap", "out_of_range"),
    ]
    assert not DistributionRule.objects.exists()


def test_weights_and_caps_are_only_for_members_of_the_rules_pool():
    project, manager, a, b, c = team()
    pool = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[a.pk])

    with pytest.raises(ValidationFailed) as caught:
        config.create_rule(project, "Seniors", actor=Actor(manager, "api"), pool=pool.pk,
                           weights={str(a.pk): -1, str(b.pk): 2, "nobody": 1},
                           caps={str(c.pk): 1, str(a.pk): "5"})

    assert codes(caught.value) == [
        ("weights", "out_of_range"), ("weights", "not_in_pool"), ("weights", "invalid"),
        ("caps", "not_in_pool"), ("caps", "out_of_range"),
    ]


def test_rule_names_are_unique_per_project():
    project, manager, *_ = team()
    make_rule(project, name="Catch all")

    with pytest.raises(Conflict):
        make_rule(project, name="Catch all")

    assert DistributionRule.objects.filter(project=project).count() == 1


def test_agents_cannot_create_rules_and_outsiders_get_not_found():
    project, _manager, a, *_ = team()
    outsider = make_user(make_project(), "manager")

    with pytest.raises(PermissionDenied):
        config.create_rule(project, "Mine", actor=Actor(a, "api"), pool=default_pool(project).pk)
    with pytest.raises(NotFound):
        config.create_rule(project, "Mine", actor=Actor(outsider, "api"),
                           pool=default_pool(project).pk)

    assert not DistributionRule.objects.exists()


# --- rules: updating, moving, deleting --------------------------------------------------------


def rotated(rule, cursor, credits):
    DistributionRule.objects.filter(pk=rule.pk).update(cursor=cursor, credits=credits)
    rule.refresh_from_db()
    return rule


def test_changing_the_method_restarts_the_rotation():
    project, manager, a, b, _c = team()
    rule = rotated(make_rule(project, method="weighted"), a.pk, {str(a.pk): -1, str(b.pk): 1})

    config.update_rule(rule, actor=Actor(manager, "api"), method="round_robin")

    rule.refresh_from_db()
    assert (rule.method, rule.cursor, rule.credits) == ("round_robin", None, {})


def test_changing_conditions_or_name_keeps_the_rotation():
    project, manager, a, b, _c = team()
    rule = rotated(make_rule(project, method="weighted"), a.pk, {str(a.pk): -1, str(b.pk): 1})

    config.update_rule(rule, actor=Actor(manager, "api"), name="Renamed", countries=["fr"],
                       method="weighted", weights={str(b.pk): 2})

    rule.refresh_from_db()
    assert (rule.name, rule.countries, rule.weights) == ("Renamed", ["FR"], {str(b.pk): 2})
    assert (rule.cursor, rule.credits) == (a.pk, {str(a.pk): -1, str(b.pk): 1})


def test_a_new_pool_restarts_the_rotation_and_drops_settings_of_people_outside_it():
    project, manager, a, b, _c = team()
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[a.pk])
    rule = rotated(make_rule(project, weights={str(a.pk): 2, str(b.pk): 5},
                             caps={str(b.pk): 1}), b.pk, {})

    config.update_rule(rule, actor=Actor(manager, "api"), pool=seniors.pk)

    rule.refresh_from_db()
    assert (rule.pool_id, rule.cursor, rule.weights, rule.caps) == (
        seniors.pk, None, {str(a.pk): 2}, {})


def test_a_refused_update_changes_nothing():
    project, manager, a, *_ = team()
    rule = make_rule(project, countries=["DE"])

    with pytest.raises(ValidationFailed) as caught:
        config.update_rule(rule, actor=Actor(manager, "api"), countries=["FR"], colour="red")

    assert codes(caught.value) == [("colour", "unknown_field")]
    assert DistributionRule.objects.get(pk=rule.pk).countries == ["DE"]
    with pytest.raises(PermissionDenied):
        config.update_rule(rule, actor=Actor(a, "api"), countries=["FR"])
    assert DistributionRule.objects.get(pk=rule.pk).countries == ["DE"]


def order(project) -> list[tuple[str, int]]:
    return list(DistributionRule.objects.filter(project=project)
                .order_by("position", "id").values_list("name", "position"))


def test_moving_a_rule_swaps_it_with_its_neighbour():
    project, manager, *_ = team()
    first, second, third = (make_rule(project, name=n) for n in ("One", "Two", "Three"))

    config.move_rule(third, actor=Actor(manager, "api"), up=True)
    assert order(project) == [("One", 1), ("Three", 2), ("Two", 3)]
    config.move_rule(first, actor=Actor(manager, "api"), up=False)
    assert order(project) == [("Three", 1), ("One", 2), ("Two", 3)]


def test_moving_the_first_rule_up_or_the_last_down_changes_nothing():
    project, manager, *_ = team()
    first, last = make_rule(project, name="One"), make_rule(project, name="Two")

    config.move_rule(first, actor=Actor(manager, "api"), up=True)
    config.move_rule(last, actor=Actor(manager, "api"), up=False)

    assert order(project) == [("One", 1), ("Two", 2)]


def test_deleting_a_rule_keeps_the_order_of_the_others_and_agents_may_not():
    project, manager, a, *_ = team()
    first, second, third = (make_rule(project, name=n) for n in ("One", "Two", "Three"))

    with pytest.raises(PermissionDenied):
        config.delete_rule(second, actor=Actor(a, "api"))
    config.delete_rule(second, actor=Actor(manager, "api"))
    config.move_rule(third, actor=Actor(manager, "api"), up=True)

    assert order(project) == [("Three", 1), ("One", 2)]


def test_a_pool_a_rule_routes_to_cannot_be_deleted():
    project, manager, a, *_ = team()
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM, members=[a.pk])
    make_rule(project, name="To seniors", pool=seniors)

    with pytest.raises(Conflict) as caught:
        project_services.delete_pool(seniors, actor=Actor(manager, "api"))

    assert caught.value.code == "pool_in_rule"
    assert "To seniors" in caught.value.detail
    assert project.pools.filter(pk=seniors.pk).exists()
