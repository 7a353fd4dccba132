"""Custom field values of leads created and edited by hand (service and API): typed values
checked and normalized against the project's field definitions, required fields, and unique
and primary-key fields as duplicate keys (DESIGN §2, identity and duplicates)."""

import json

import pytest

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ValidationFailed
from leadflow.crm import services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    auth,
    custom_keys_of,
    events_of,
    lead_snapshot,
    make_field,
    make_lead,
    make_project,
    make_user,
)


def create(project, custom, **contact):
    contact.setdefault("name", "Ann Lee")
    contact.setdefault("email", None)
    if contact["email"] is None and "phones" not in contact:
        contact["email"] = f"ann{len(str(custom))}.{id(custom)}@example.com"
    return services.create_lead(project, LeadInput(custom=custom, **contact), actor=SYSTEM)


def codes(exc: ValidationFailed) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc.errors]


# --- typed values ------------------------------------------------------------------------------


@pytest.mark.parametrize("_case, options, given, stored", [
    ("text_trimmed", {"type": "text"}, "  Blue  ", "Blue"),
    ("number_from_text", {"type": "number"}, " 42 ", 42),
    ("number_from_json", {"type": "number"}, 42, 42),
    ("number_from_whole_float", {"type": "number"}, 42.0, 42),
    ("negative_number", {"type": "number"}, "-7", -7),
    ("decimal_from_text", {"type": "decimal"}, "12.50", "12.5"),
    ("decimal_from_json", {"type": "decimal"}, 0.1, "0.1"),
    ("decimal_whole", {"type": "decimal"}, "100", "100"),
    ("date", {"type": "date"}, "2025-02-28", "2025-02-28"),
    ("boolean_true", {"type": "boolean"}, True, True),
    ("boolean_from_yes", {"type": "boolean"}, "Yes", True),
    ("boolean_from_zero", {"type": "boolean"}, 0, False),
    ("email_domain_lowered", {"type": "email"}, " Ann@Example.COM ", "Ann@example.com"),
    ("national_phone_in_the_projects_region", {"type": "phone"}, "020 7946 0958",
     "+442079460958"),
    ("international_phone", {"type": "phone"}, "0033 1 42 68 53 00", "+33142685300"),
    ("choice_as_spelled_in_the_definition", {"type": "choice", "choices": ["SMB", "Enterprise"]},
     "enterprise", "Enterprise"),
])
def test_custom_values_are_stored_normalized(_case, options, given, stored):
    project = make_project(default_region="GB")
    make_field(project, "value", **options)

    lead = create(project, {"value": given}).lead

    assert Lead.objects.get(pk=lead.pk).custom == {"value": stored}


@pytest.mark.parametrize("_case, options, given, code", [
    ("number_with_a_fraction", {"type": "number"}, "4.5", "invalid_number"),
    ("number_of_words", {"type": "number"}, "forty", "invalid_number"),
    ("number_from_boolean", {"type": "number"}, True, "invalid_number"),
    ("huge_number", {"type": "number"}, 2**70, "out_of_range"),
    ("decimal_of_words", {"type": "decimal"}, "a lot", "invalid_decimal"),
    ("decimal_infinity", {"type": "decimal"}, "Infinity", "invalid_decimal"),
    ("date_in_another_format", {"type": "date"}, "28/02/2025", "invalid_date"),
    ("date_that_does_not_exist", {"type": "date"}, "2025-02-30", "invalid_date"),
    ("boolean_of_another_word", {"type": "boolean"}, "maybe", "invalid_boolean"),
    ("email_without_domain", {"type": "email"}, "ann@", "invalid_email"),
    ("phone_too_short", {"type": "phone"}, "12", "invalid_phone"),
    ("choice_not_offered", {"type": "choice", "choices": ["SMB"]}, "Huge", "invalid_choice"),
    ("text_too_long", {"type": "text"}, "x" * 1001, "too_long"),
    ("object_value", {"type": "text"}, {"a": 1}, "invalid"),
])
def test_bad_custom_values_are_refused_naming_the_field(_case, options, given, code):
    project = make_project(default_region="GB")
    make_field(project, "value", label="Value", **options)

    with pytest.raises(ValidationFailed) as caught:
        create(project, {"value": given})

    assert codes(caught.value) == [("custom.value", code)]
    assert caught.value.errors[0].message.startswith("Value: ")
    assert not Lead.objects.exists()


def test_an_unknown_custom_field_is_refused():
    project = make_project()

    with pytest.raises(ValidationFailed) as caught:
        create(project, {"colour": "blue"})

    assert codes(caught.value) == [("custom.colour", "unknown_field")]


def test_a_required_field_must_have_a_value_at_creation():
    project = make_project()
    make_field(project, "budget", type="number", nullable=False)

    for missing in ({}, {"budget": ""}, {"budget": None}):
        with pytest.raises(ValidationFailed) as caught:
            create(project, missing)
        assert codes(caught.value) == [("custom.budget", "required")]
    lead = create(project, {"budget": "0"}).lead

    assert lead.custom == {"budget": 0}


def test_blank_optional_values_are_not_stored():
    project = make_project()
    make_field(project, "budget", type="number")

    lead = create(project, {"budget": "  "}).lead

    assert Lead.objects.get(pk=lead.pk).custom == {}


def test_the_creation_event_holds_the_custom_values():
    project = make_project()
    make_field(project, "budget", type="number")

    lead = create(project, {"budget": "12"}).lead

    [(kind, _actor, _channel, _before, after)] = events_of(lead.pk)
    assert (kind, after["custom"]) == (TimelineKind.LEAD_CREATED, {"budget": 12})


# --- duplicate keys ----------------------------------------------------------------------------


def test_a_unique_value_of_another_lead_is_a_duplicate():
    project = make_project()
    make_field(project, "policy_no", unique=True)
    first = create(project, {"policy_no": "P-100"}, email="ann@example.com").lead

    with pytest.raises(Conflict) as caught:
        create(project, {"policy_no": "p-100"}, email="bob@example.com")

    assert (caught.value.code, caught.value.extra["duplicate_of"]) == ("duplicate", first.pk)
    assert Lead.objects.count() == 1
    assert custom_keys_of(project) == [("custom", "policy_no=p-100", first.pk, True)]


def test_blank_unique_values_never_collide():
    project = make_project()
    make_field(project, "policy_no", unique=True)

    first = create(project, {}, email="ann@example.com").lead
    second = create(project, {"policy_no": ""}, email="bob@example.com").lead

    assert Lead.objects.count() == 2
    assert custom_keys_of(first) == custom_keys_of(second) == []


def test_the_primary_key_fields_together_are_one_key():
    project = make_project()
    make_field(project, "account", primary_key=True)
    make_field(project, "branch", type="number", primary_key=True)
    first = create(project, {"account": "A1", "branch": 1}, email="a@example.com").lead
    create(project, {"account": "A1", "branch": 2}, email="b@example.com")
    create(project, {"account": "A2", "branch": 1}, email="c@example.com")

    with pytest.raises(Conflict) as caught:
        create(project, {"account": "a1", "branch": "1"}, email="d@example.com")

    assert caught.value.extra["duplicate_of"] == first.pk
    assert Lead.objects.count() == 3
    assert custom_keys_of(first) == [("composite", '{"account":"a1","branch":"1"}', first.pk,
                                      True)]


def test_a_partial_primary_key_makes_no_key():
    project = make_project()
    make_field(project, "account", primary_key=True)
    make_field(project, "branch", primary_key=True)

    first = create(project, {"account": "A1"}, email="a@example.com").lead
    second = create(project, {"account": "A1"}, email="b@example.com").lead

    assert custom_keys_of(first) == custom_keys_of(second) == []


def test_matches_come_in_order_email_phones_then_custom_keys():
    project = make_project(default_region="US")
    make_field(project, "policy_no", unique=True)
    by_policy = create(project, {"policy_no": "P-1"}, email="first@example.com").lead
    by_email = create(project, {}, email="second@example.com").lead

    result = services.create_lead(
        project, LeadInput(name="Ann", email="second@example.com", custom={"policy_no": "P-1"}),
        actor=SYSTEM, on_duplicate="keep_both")

    assert result.matches == [
        {"kind": "email", "value": "second@example.com", "lead": by_email.pk},
        {"kind": "custom", "value": "policy_no=p-1", "lead": by_policy.pk},
    ]
    assert custom_keys_of(result.lead) == [("custom", "policy_no=p-1", result.lead.pk, False)]


def test_a_merged_duplicate_fills_blank_custom_values_and_takes_their_keys():
    project = make_project()
    make_field(project, "policy_no", unique=True)
    make_field(project, "budget", type="number")
    lead = create(project, {"budget": 5}, email="ann@example.com").lead

    result = services.create_lead(
        project, LeadInput(name="Ann", email="ann@example.com",
                           custom={"policy_no": "P-9", "budget": 7}),
        actor=SYSTEM, on_duplicate="merge")

    assert result.merged is True
    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 5, "policy_no": "P-9"}
    assert custom_keys_of(lead) == [("custom", "policy_no=p-9", lead.pk, True)]


def test_merging_leads_gives_the_survivor_the_custom_values_it_lacks():
    project = make_project()
    manager = make_user(project, "manager")
    make_field(project, "budget", type="number")
    make_field(project, "policy_no", unique=True)
    survivor = create(project, {"budget": 1}, email="a@example.com").lead
    merged = create(project, {"budget": 2, "policy_no": "P-3"}, email="b@example.com").lead

    services.merge_leads(merged, survivor, actor=Actor(manager, "api"))

    assert Lead.objects.get(pk=survivor.pk).custom == {"budget": 1, "policy_no": "P-3"}
    assert custom_keys_of(survivor) == [("custom", "policy_no=p-3", survivor.pk, True)]


# --- editing -----------------------------------------------------------------------------------


def test_editing_custom_fields_changes_only_the_named_ones_and_records_them():
    project = make_project()
    manager = make_user(project, "manager")
    make_field(project, "budget", type="number")
    make_field(project, "tier", type="choice", choices=["Gold", "Silver"])
    make_field(project, "note")
    lead = make_lead(project, custom={"budget": 5, "tier": "Gold", "note": "x"})

    services.update_lead(lead, {"custom": {"budget": "6", "tier": "gold", "note": None}},
                         actor=Actor(manager, "ui"))

    assert Lead.objects.get(pk=lead.pk).custom == {"budget": 6, "tier": "Gold"}
    event = TimelineEvent.objects.get(lead_id=lead.pk, kind=TimelineKind.LEAD_UPDATED)
    assert (event.actor_id, event.before, event.after) == (
        manager.pk, {"custom": {"budget": 5, "note": "x"}},
        {"custom": {"budget": 6, "note": None}})


def test_the_same_custom_values_again_record_nothing():
    project = make_project()
    make_field(project, "budget", type="number")
    lead = make_lead(project, custom={"budget": 5})

    services.update_lead(lead, {"custom": {"budget": "5"}}, actor=SYSTEM)

    assert not TimelineEvent.objects.filter(lead_id=lead.pk,
                                            kind=TimelineKind.LEAD_UPDATED).exists()


def test_a_required_field_cannot_be_cleared():
    project = make_project()
    make_field(project, "budget", type="number", nullable=False)
    lead = make_lead(project, custom={"budget": 5})
    before = lead_snapshot(lead.pk)

    with pytest.raises(ValidationFailed) as caught:
        services.update_lead(lead, {"custom": {"budget": ""}}, actor=SYSTEM)

    assert codes(caught.value) == [("custom.budget", "required")]
    assert lead_snapshot(lead.pk) == before


def test_editing_a_unique_value_moves_its_key_and_another_leads_value_is_a_conflict():
    project = make_project()
    make_field(project, "policy_no", unique=True)
    first = make_lead(project, custom={"policy_no": "P-1"})
    second = make_lead(project, custom={"policy_no": "P-2"})

    services.update_lead(second, {"custom": {"policy_no": "P-3"}}, actor=SYSTEM)
    with pytest.raises(Conflict) as caught:
        services.update_lead(second, {"custom": {"policy_no": "p-1"}}, actor=SYSTEM)

    assert caught.value.extra["duplicate_of"] == first.pk
    assert Lead.objects.get(pk=second.pk).custom == {"policy_no": "P-3"}
    assert custom_keys_of(project) == [
        ("custom", "policy_no=p-1", first.pk, True), ("custom", "policy_no=p-3", second.pk, True)]
    services.update_lead(second, {"custom": {"policy_no": None}}, actor=SYSTEM)
    assert custom_keys_of(second) == []


# --- API ---------------------------------------------------------------------------------------


def post(client, user, body, path="/api/v1/leads", method="post"):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **auth(user))


def test_api_creates_a_lead_with_typed_custom_values(client):
    project = make_project()
    agent = make_user(project, "agent")
    make_field(project, "budget", type="decimal")
    make_field(project, "renewal", type="date")
    make_field(project, "vip", type="boolean")

    response = post(client, agent, {"name": "Ann", "email": "ann@example.com",
                                    "custom": {"budget": 1999.9, "renewal": "2026-01-31",
                                               "vip": "no"}})

    assert response.status_code == 201
    assert response.json()["custom"] == {"budget": "1999.9", "renewal": "2026-01-31",
                                         "vip": False}


def test_api_names_every_bad_custom_field_in_the_error_shape(client):
    project = make_project()
    agent = make_user(project, "agent")
    make_field(project, "budget", type="number")
    make_field(project, "segment", type="choice", choices=["SMB"], nullable=False)

    response = post(client, agent, {"name": "Ann", "email": "ann@example.com",
                                    "custom": {"budget": "lots", "colour": "red"}})

    assert response.status_code == 400
    body = response.json()
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("custom.budget", "invalid_number"), ("custom.colour", "unknown_field"),
        ("custom.segment", "required")]
    assert set(body) == {"detail", "code", "errors"}
    assert not Lead.objects.exists()


def test_api_duplicate_by_unique_field_is_409_with_the_lead(client):
    project = make_project()
    agent = make_user(project, "agent")
    make_field(project, "policy_no", unique=True)
    first = post(client, agent, {"name": "Ann", "email": "a@example.com",
                                 "custom": {"policy_no": "X"}}).json()

    response = post(client, agent, {"name": "Bob", "email": "b@example.com",
                                    "custom": {"policy_no": "x"}})

    assert response.status_code == 409
    assert response.json()["duplicate_of"] == first["id"]


def test_api_patch_changes_custom_fields_and_checks_them(client):
    project = make_project()
    agent = make_user(project, "agent")
    make_field(project, "budget", type="number")
    lead_id = post(client, agent, {"name": "Ann", "email": "a@example.com",
                                   "custom": {"budget": 1}}).json()["id"]

    bad = post(client, agent, {"custom": {"budget": "x"}}, f"/api/v1/leads/{lead_id}", "patch")
    good = post(client, agent, {"custom": {"budget": "2"}}, f"/api/v1/leads/{lead_id}", "patch")

    assert bad.status_code == 400
    assert [(e["field"], e["code"]) for e in bad.json()["errors"]] == [
        ("custom.budget", "invalid_number")]
    assert (good.status_code, good.json()["custom"]) == (200, {"budget": 2})
