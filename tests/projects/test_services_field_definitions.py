"""Custom field definitions: who configures them, what a definition may be, and what changing
or deleting one does to the values and duplicate keys of the project's leads."""

import pytest

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm.models import Lead
from leadflow.projects import services
from leadflow.projects.models import FieldDefinition
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    World,
    custom_keys_of,
    event_count,
    make_field,
    make_lead,
    make_project,
    make_user,
)


def codes(exc: ValidationFailed) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc.errors]


def definitions(project) -> list[tuple]:
    return list(FieldDefinition.objects.filter(project=project).order_by("position")
                .values_list("name", "label", "type", "nullable", "unique", "primary_key",
                             "position"))


# --- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("_case, who, error", [
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("agent", "agent", PermissionDenied),
    ("agent_view_all", "viewer", PermissionDenied),
    ("manager_of_another_project", "foreign_manager", NotFound),
])
def test_managers_and_admins_create_field_definitions(_case, who, error):
    w = World()
    actor = Actor(w.user(who), "api")
    events = event_count()

    if error is None:
        definition = services.create_field_definition(w.project, "policy_no", actor=actor,
                                                      unique=True)
        assert definitions(w.project) == [
            ("policy_no", "Policy no", "text", True, True, False, 1)]
        assert definition.project_id == w.project.pk
    else:
        with pytest.raises(error):
            services.create_field_definition(w.project, "policy_no", actor=actor)
        assert definitions(w.project) == []
    assert event_count() == events


@pytest.mark.parametrize("_case, who, error", [
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("agent", "agent", PermissionDenied),
    ("manager_of_another_project", "foreign_manager", NotFound),
])
def test_managers_and_admins_change_field_definitions(_case, who, error):
    w = World()
    definition = make_field(w.project, "budget", type="number")
    actor = Actor(w.user(who), "api")

    if error is None:
        services.update_field_definition(definition, actor=actor, label="Budget (EUR)",
                                         nullable=False)
        assert definitions(w.project) == [
            ("budget", "Budget (EUR)", "number", False, False, False, 1)]
    else:
        with pytest.raises(error):
            services.update_field_definition(definition, actor=actor, label="Other")
        assert definitions(w.project) == [("budget", "Budget", "number", True, False, False, 1)]


@pytest.mark.parametrize("_case, who, error", [
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("agent", "agent", PermissionDenied),
    ("agent_view_all", "viewer", PermissionDenied),
    ("manager_of_another_project", "foreign_manager", NotFound),
])
def test_managers_and_admins_delete_field_definitions(_case, who, error):
    w = World()
    definition = make_field(w.project, "budget", type="number")
    actor = Actor(w.user(who), "api")

    if error is None:
        services.delete_field_definition(definition, actor=actor)
        assert definitions(w.project) == []
    else:
        with pytest.raises(error):
            services.delete_field_definition(definition, actor=actor)
        assert len(definitions(w.project)) == 1


@pytest.mark.parametrize("_case, who, error", [
    ("agent", "agent", None),
    ("manager", "manager", None),
    ("admin", "admin", None),
    ("non_member", "outsider", NotFound),
])
def test_every_member_reads_the_projects_field_definitions(_case, who, error):
    w = World()
    make_field(w.project, "budget", type="number")
    make_field(w.project, "segment", type="choice", choices=["SMB", "Enterprise"])
    make_field(w.other_project, "elsewhere")
    actor = Actor(w.user(who), "api")

    if error is None:
        names = [d.name for d in services.list_field_definitions(actor=actor,
                                                                  project=w.project)]
        assert names == ["budget", "segment"]
    else:
        with pytest.raises(error):
            services.list_field_definitions(actor=actor, project=w.project)


def test_without_a_project_the_list_holds_only_the_callers_projects():
    w = World()
    make_field(w.project, "budget", type="number")
    make_field(w.other_project, "elsewhere")

    names = [d.name for d in services.list_field_definitions(actor=Actor(w.agent, "api"))]

    assert names == ["budget"]


# --- what a definition may be ------------------------------------------------------------------


@pytest.mark.parametrize("_case, name, options, expected", [
    ("empty_name", "", {}, [("name", "required")]),
    ("name_with_capitals", "PolicyNo", {}, [("name", "invalid")]),
    ("name_with_a_space", "policy no", {}, [("name", "invalid")]),
    ("name_starting_with_a_digit", "1st", {}, [("name", "invalid")]),
    ("name_of_a_lead_field", "email", {}, [("name", "reserved")]),
    ("unknown_type", "x", {"type": "colour"}, [("type", "invalid")]),
    ("choice_without_choices", "x", {"type": "choice"}, [("choices", "required")]),
    ("choices_on_a_text_field", "x", {"choices": ["a"]}, [("choices", "invalid")]),
    ("a_choice_twice", "x", {"type": "choice", "choices": ["Gold", "gold"]},
     [("choices", "duplicate")]),
    ("unique_boolean", "x", {"type": "boolean", "unique": True}, [("unique", "invalid")]),
    ("label_too_long", "x", {"label": "L" * 101}, [("label", "too_long")]),
    ("flag_not_a_boolean", "x", {"nullable": "no"}, [("nullable", "invalid")]),
])
def test_invalid_definitions_are_refused_with_the_field_named(_case, name, options, expected):
    project = make_project()

    with pytest.raises(ValidationFailed) as caught:
        make_field(project, name, **options)

    assert codes(caught.value) == expected
    assert definitions(project) == []


def test_a_name_is_unique_in_its_project_only():
    project, other = make_project(), make_project()
    make_field(project, "budget")
    make_field(other, "budget")

    with pytest.raises(Conflict) as caught:
        make_field(project, "budget", type="number")

    assert caught.value.code == "exists"
    assert FieldDefinition.objects.filter(name="budget").count() == 2


def test_new_fields_go_last_and_the_label_defaults_to_the_names_words():
    project = make_project()
    make_field(project, "budget", type="decimal")
    make_field(project, "renewal_date", type="date")

    assert definitions(project) == [
        ("budget", "Budget", "decimal", True, False, False, 1),
        ("renewal_date", "Renewal date", "date", True, False, False, 2),
    ]


# --- changing a definition ---------------------------------------------------------------------


def test_the_name_never_changes():
    project = make_project()
    definition = make_field(project, "budget")

    with pytest.raises(ValidationFailed) as caught:
        services.update_field_definition(definition, actor=Actor(None, "cli"), name="money")

    assert codes(caught.value) == [("name", "immutable")]
    assert definitions(project)[0][0] == "budget"


def test_the_type_changes_only_while_no_lead_holds_a_value():
    project = make_project()
    definition = make_field(project, "budget")
    system = Actor(None, "cli")
    services.update_field_definition(definition, actor=system, type="number")
    make_lead(project, custom={"budget": "100"})

    with pytest.raises(Conflict) as caught:
        services.update_field_definition(definition, actor=system, type="text")

    assert caught.value.code == "field_in_use"
    definition.refresh_from_db()
    assert definition.type == "number"


def test_a_choice_a_lead_holds_cannot_be_removed_but_others_can():
    project = make_project()
    definition = make_field(project, "tier", type="choice", choices=["Gold", "Silver", "Bronze"])
    make_lead(project, custom={"tier": "gold"})
    system = Actor(None, "cli")

    with pytest.raises(Conflict) as caught:
        services.update_field_definition(definition, actor=system, choices=["Silver"])
    services.update_field_definition(definition, actor=system, choices=["Gold", "Platinum"])

    assert caught.value.code == "choice_in_use"
    definition.refresh_from_db()
    assert definition.choices == ["Gold", "Platinum"]


def test_making_a_field_unique_gives_existing_values_their_keys():
    project = make_project()
    definition = make_field(project, "policy_no")
    first = make_lead(project, custom={"policy_no": "P-1"})
    second = make_lead(project, custom={"policy_no": "P-2"})
    blank = make_lead(project)
    assert custom_keys_of(project) == []

    services.update_field_definition(definition, actor=Actor(None, "cli"), unique=True)

    assert custom_keys_of(project) == [
        ("custom", "policy_no=p-1", first.pk, True), ("custom", "policy_no=p-2", second.pk, True)]
    assert custom_keys_of(blank) == []


def test_making_a_field_unique_is_refused_when_two_leads_share_a_value():
    project = make_project()
    definition = make_field(project, "policy_no")
    first = make_lead(project, custom={"policy_no": "P-1"})
    second = make_lead(project, custom={"policy_no": "p-1"})
    make_lead(project, custom={"policy_no": "P-2"})

    with pytest.raises(Conflict) as caught:
        services.update_field_definition(definition, actor=Actor(None, "cli"), unique=True)

    assert caught.value.code == "values_collide"
    assert caught.value.extra["collisions"] == [
        {"kind": "custom", "value": "policy_no=p-1", "leads": [first.pk, second.pk]}]
    assert f"#{first.pk} and #{second.pk}" in caught.value.detail
    definition.refresh_from_db()
    assert definition.unique is False
    assert custom_keys_of(project) == []


def test_turning_unique_off_drops_the_fields_keys():
    project = make_project()
    definition = make_field(project, "policy_no", unique=True)
    make_lead(project, custom={"policy_no": "P-1"})

    services.update_field_definition(definition, actor=Actor(None, "cli"), unique=False)

    assert custom_keys_of(project) == []


def test_adding_a_primary_key_field_recomputes_the_composite_key():
    project = make_project()
    account = make_field(project, "account", primary_key=True)
    branch = make_field(project, "branch")
    lead = make_lead(project, custom={"account": "A1", "branch": "North"})
    assert custom_keys_of(lead) == [("composite", '{"account":"a1"}', lead.pk, True)]

    services.update_field_definition(branch, actor=Actor(None, "cli"), primary_key=True)

    assert custom_keys_of(lead) == [
        ("composite", '{"account":"a1","branch":"north"}', lead.pk, True)]
    assert account.primary_key is True


def test_making_a_field_required_changes_no_lead():
    project = make_project()
    definition = make_field(project, "budget", type="number")
    lead = make_lead(project)

    services.update_field_definition(definition, actor=Actor(None, "cli"), nullable=False)

    assert Lead.objects.get(pk=lead.pk).custom == {}


# --- deleting a definition ---------------------------------------------------------------------


def test_deleting_a_field_removes_its_values_and_keys_and_records_it_on_each_lead():
    project = make_project()
    manager = make_user(project, "manager")
    definition = make_field(project, "policy_no", unique=True)
    make_field(project, "budget", type="number")
    holder = make_lead(project, custom={"policy_no": "P-1", "budget": 10})
    other = make_lead(project, custom={"budget": 20})

    changed = services.delete_field_definition(definition, actor=Actor(manager, "ui"))

    assert changed == 1
    assert Lead.objects.get(pk=holder.pk).custom == {"budget": 10}
    assert Lead.objects.get(pk=other.pk).custom == {"budget": 20}
    assert custom_keys_of(project) == []
    event = TimelineEvent.objects.get(lead_id=holder.pk, kind=TimelineKind.LEAD_UPDATED)
    assert (event.actor_id, event.channel, event.before, event.after, event.reason) == (
        manager.pk, "ui", {"custom": {"policy_no": "P-1"}}, {"custom": {"policy_no": None}},
        "Custom field Policy no deleted")
    assert not TimelineEvent.objects.filter(lead_id=other.pk,
                                            kind=TimelineKind.LEAD_UPDATED).exists()


def test_deleting_a_primary_key_field_is_refused_when_the_rest_would_collide():
    project = make_project()
    make_field(project, "account", primary_key=True)
    branch = make_field(project, "branch", primary_key=True)
    first = make_lead(project, custom={"account": "A1", "branch": "North"})
    second = make_lead(project, custom={"account": "A1", "branch": "South"})
    events = event_count()

    with pytest.raises(Conflict) as caught:
        services.delete_field_definition(branch, actor=Actor(None, "cli"))

    assert caught.value.code == "values_collide"
    assert FieldDefinition.objects.filter(pk=branch.pk).exists()
    assert Lead.objects.get(pk=first.pk).custom == {"account": "A1", "branch": "North"}
    assert len(custom_keys_of(second)) == 1
    assert event_count() == events
