"""create_lead: validation, normalization, ownership, source, duplicates and their timeline."""

import pytest

from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm import services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey
from leadflow.projects.models import Pool
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    as_actor,
    default_pool,
    events_of,
    make_lead,
    make_project,
    make_user,
    source_named,
)


def codes(exc_info) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc_info.value.errors]


def create(project, actor=SYSTEM, owner=None, **fields):
    return services.create_lead(project, LeadInput(**fields), actor=actor, owner=owner)


# --- validation and normalization -------------------------------------------------------------


def test_name_is_required():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="  ", email="ann@example.com")

    assert codes(exc) == [("name", "required")]
    assert not Lead.objects.exists()


def test_missing_name_is_required_too():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, email="ann@example.com")

    assert codes(exc) == [("name", "required")]


def test_a_lead_needs_an_email_or_a_phone():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="Ann")

    assert codes(exc) == [("email", "required")]
    assert not Lead.objects.exists()


def test_a_phone_alone_is_enough():
    project = make_project(default_region="US")

    lead = create(project, name="Ann", phones=["(212) 555-0123"]).lead

    assert (lead.email, lead.phones) == ("", ["+12125550123"])


def test_email_alone_is_enough_and_domain_is_lower_cased():
    project = make_project()

    lead = create(project, name="Ann", email="  Ann.Lee@Example.COM ").lead

    lead.refresh_from_db()
    assert lead.email == "Ann.Lee@example.com"
    assert lead.email_key == "ann.lee@example.com"
    assert DuplicateKey.objects.get(lead=lead).value == "ann.lee@example.com"


def test_national_phones_are_read_with_the_project_region():
    project = make_project(default_region="GB")

    lead = create(project, name="Ann", phones=["020 7946 0018"]).lead

    assert lead.phones == ["+442079460018"]


def test_double_zero_prefix_is_read_as_international():
    project = make_project(default_region="US")

    lead = create(project, name="Ann", phones=["0044 20 7946 0018", "+1 212 555 0100"]).lead

    assert lead.phones == ["+442079460018", "+12125550100"]
    assert sorted(DuplicateKey.objects.filter(lead=lead).values_list("kind", "value")) == [
        ("phone", "+12125550100"),
        ("phone", "+442079460018"),
    ]


def test_the_same_phone_twice_is_kept_once():
    project = make_project(default_region="US")

    lead = create(project, name="Ann", phones=["212-555-0123", "+1 (212) 555 0123"]).lead

    assert lead.phones == ["+12125550123"]


def test_invalid_phone_is_refused_with_its_index():
    project = make_project(default_region="US")

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="Ann", phones=["+1 212 555 0100", "12345"])

    assert codes(exc) == [("phones[1]", "invalid_phone")]
    assert not Lead.objects.exists()


def test_text_that_is_not_a_phone_is_refused():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="Ann", phones=["call me"])

    assert codes(exc) == [("phones[0]", "invalid_phone")]


def test_invalid_email_is_refused():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="Ann", email="ann@@example")

    assert codes(exc) == [("email", "invalid_email")]
    assert not Lead.objects.exists()


def test_at_most_five_phones():
    project = make_project(default_region="US")
    six = [f"+1 212 555 01{n:02d}" for n in range(6)]

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="Ann", phones=six)

    assert codes(exc) == [("phones", "too_many")]


def test_five_phones_are_accepted():
    project = make_project(default_region="US")
    five = [f"+1 212 555 01{n:02d}" for n in range(5)]

    lead = create(project, name="Ann", phones=five).lead

    assert lead.phones == [f"+12125550{100 + n}" for n in range(5)]


def test_length_limits():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="N" * 201, email="ann@example.com", company="C" * 201)

    assert codes(exc) == [("name", "too_long"), ("company", "too_long")]


def test_every_field_error_is_reported_at_once():
    project = make_project()

    with pytest.raises(ValidationFailed) as exc:
        create(project, name="", email="nope", phones=["12"])

    assert sorted(codes(exc)) == [("email", "invalid_email"), ("name", "required"),
                                  ("phones[0]", "invalid_phone")]


# --- source ------------------------------------------------------------------------------------


def test_source_is_manual_by_default():
    project = make_project()

    lead = create(project, name="Ann", email="ann@example.com").lead

    assert lead.source == source_named(project, "Manual")


def test_a_chosen_source_is_stamped():
    project = make_project()
    website = source_named(project, "Website")

    lead = services.create_lead(
        project, LeadInput(name="Ann", email="ann@example.com"), actor=SYSTEM, source=website
    ).lead

    assert Lead.objects.get(pk=lead.pk).source_id == website.pk


def test_a_source_of_another_project_is_refused():
    project, other = make_project(), make_project()

    with pytest.raises(ValidationFailed) as exc:
        services.create_lead(project, LeadInput(name="Ann", email="ann@example.com"),
                             actor=SYSTEM, source=source_named(other, "Website"))

    assert codes(exc) == [("source", "invalid")]


def test_source_cannot_be_changed_afterwards():
    project = make_project()
    lead = make_lead(project)

    with pytest.raises(ValidationFailed) as exc:
        services.update_lead(lead, {"source": source_named(project, "Website").pk}, actor=SYSTEM)

    assert codes(exc) == [("source", "immutable")]
    assert Lead.objects.get(pk=lead.pk).source == source_named(project, "Manual")


# --- ownership ---------------------------------------------------------------------------------


def test_agent_owns_the_lead_they_create():
    project = make_project()
    agent = make_user(project, "agent")

    lead = create(project, actor=as_actor(agent), name="Ann", email="ann@example.com").lead

    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.owner_id, lead.original_owner_id) == (agent.pk, agent.pk)
    assert lead.pool == default_pool(project)
    assert lead.assigned_at == lead.created_at


def test_agent_naming_themselves_owner_is_accepted():
    project = make_project()
    agent = make_user(project, "agent")

    lead = create(project, actor=as_actor(agent), owner=agent, name="Ann",
                  email="ann@example.com").lead

    assert lead.owner_id == agent.pk


def test_agent_choosing_another_owner_is_refused():
    project = make_project()
    agent, colleague = make_user(project, "agent"), make_user(project, "agent")

    with pytest.raises(PermissionDenied):
        create(project, actor=as_actor(agent), owner=colleague, name="Ann",
               email="ann@example.com")

    assert not Lead.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_agent_without_create_lead_is_refused():
    project = make_project()
    agent = make_user(project, "agent", create_lead=False)

    with pytest.raises(PermissionDenied):
        create(project, actor=as_actor(agent), name="Ann", email="ann@example.com")

    assert not Lead.objects.exists()


def test_manager_chooses_an_owner_from_the_pool():
    project = make_project()
    manager, agent = make_user(project, "manager"), make_user(project, "agent")

    lead = create(project, actor=as_actor(manager), owner=agent, name="Ann",
                  email="ann@example.com").lead

    assert Lead.objects.get(pk=lead.pk).owner_id == agent.pk


def test_manager_may_leave_the_lead_unowned():
    project = make_project()
    manager = make_user(project, "manager")

    lead = create(project, actor=as_actor(manager), name="Ann", email="ann@example.com").lead

    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.owner_id, lead.assigned_at, lead.pool_id) == (
        None, None, default_pool(project).pk)


def test_owner_outside_the_pool_is_not_in_pool():
    project = make_project()
    manager = make_user(project, "manager")
    stranger = make_user(make_project(), "agent")

    with pytest.raises(ValidationFailed) as exc:
        create(project, actor=as_actor(manager), owner=stranger, name="Ann",
               email="ann@example.com")

    assert codes(exc) == [("owner", "not_in_pool")]
    assert not Lead.objects.exists()


def test_agent_removed_from_the_pool_cannot_be_made_owner():
    project = make_project()
    manager, agent = make_user(project, "manager"), make_user(project, "agent")
    Pool.members.through.objects.filter(user_id=agent.pk).delete()

    with pytest.raises(ValidationFailed) as exc:
        create(project, actor=as_actor(manager), owner=agent, name="Ann",
               email="ann@example.com")

    assert codes(exc) == [("owner", "not_in_pool")]


def test_non_member_cannot_create_in_a_project():
    project = make_project()
    outsider = make_user(make_project(), "agent")

    with pytest.raises(NotFound):
        create(project, actor=as_actor(outsider), name="Ann", email="ann@example.com")

    assert not Lead.objects.exists()


def test_creation_is_recorded_once_with_its_values():
    project = make_project(default_region="US")
    agent = make_user(project, "agent")

    lead = create(project, actor=as_actor(agent, "ui"), name="Ann Lee",
                  email="ann@example.com", phones=["212 555 0123"], company="Acme").lead

    assert events_of(lead.pk) == [(
        TimelineKind.LEAD_CREATED, agent.pk, "ui", None,
        {"name": "Ann Lee", "email": "ann@example.com", "phones": ["+12125550123"],
         "company": "Acme", "source": "Manual", "pool": "Default", "stage": "New",
         "owner": agent.email},
    )]


def test_new_lead_starts_on_the_first_open_stage():
    project = make_project()

    lead = make_lead(project)

    assert (lead.stage.name, lead.status) == ("New", "NOT_CONTACTED")


# --- duplicates --------------------------------------------------------------------------------


def test_same_email_in_another_case_is_a_duplicate():
    project = make_project()
    first = make_lead(project, email="ann.lee@example.com")

    with pytest.raises(Conflict) as exc:
        create(project, name="Ann", email="ANN.LEE@EXAMPLE.COM")

    assert exc.value.code == "duplicate"
    assert exc.value.extra == {"duplicate_of": first.pk}
    assert Lead.objects.count() == 1
    assert len(events_of(first.pk)) == 1


def test_same_phone_in_another_spelling_is_a_duplicate():
    project = make_project(default_region="US")
    first = make_lead(project, email=None, phones=["+1 212 555 0123"])

    with pytest.raises(Conflict) as exc:
        create(project, name="Ann", phones=["(212) 555-0123"])

    assert (exc.value.code, exc.value.extra) == ("duplicate", {"duplicate_of": first.pk})
    assert Lead.objects.count() == 1


def test_same_person_in_another_project_is_not_a_duplicate():
    first_project, second_project = make_project(), make_project()
    make_lead(first_project, email="ann@example.com")

    lead = create(second_project, name="Ann", email="ann@example.com").lead

    assert lead.project == second_project
    assert Lead.objects.count() == 2


def test_merge_fills_blanks_and_records_duplicate_merged():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    first = make_lead(project, name="Ann", email="ann@example.com", company=None)

    result = services.create_lead(
        project,
        LeadInput(name="Ann Other", email="Ann@Example.com", company="Acme",
                  phones=["212 555 0123"]),
        actor=as_actor(manager), on_duplicate="merge",
    )

    assert (result.lead.pk, result.created, result.merged) == (first.pk, False, True)
    first.refresh_from_db()
    assert (first.name, first.company, first.phones) == ("Ann", "Acme", ["+12125550123"])
    assert Lead.objects.count() == 1
    assert sorted(DuplicateKey.objects.filter(lead=first).values_list(
        "kind", "value", "canonical")) == [
        ("email", "ann@example.com", True), ("phone", "+12125550123", True)]
    event = TimelineEvent.objects.get(kind=TimelineKind.DUPLICATE_MERGED)
    assert (event.lead_id, event.actor_id, event.channel) == (first.pk, manager.pk, "api")
    assert event.before == {"company": "", "phones": []}
    assert event.after == {"company": "Acme", "phones": ["+12125550123"]}
    assert event.reason == "Matched on email ann@example.com"
    assert [e[0] for e in events_of(first.pk)] == [
        TimelineKind.LEAD_CREATED, TimelineKind.DUPLICATE_MERGED]


def test_merge_makes_the_new_words_searchable():
    project = make_project()
    first = make_lead(project, name="Ann", email="ann@example.com", company=None)

    services.create_lead(project, LeadInput(name="Ann", email="ann@example.com",
                                            company="Zephyr"),
                         actor=SYSTEM, on_duplicate="merge")

    from leadflow.crm.models import LeadWord

    assert sorted(LeadWord.objects.filter(lead=first).values_list("word", flat=True)) == [
        "ann", "zephyr"]


def test_keep_both_creates_a_second_lead_with_non_canonical_keys():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    first = make_lead(project, email="ann@example.com", phones=["+1 212 555 0123"])

    result = services.create_lead(
        project,
        LeadInput(name="Ann Two", email="ANN@example.com", phones=["212 555 0123",
                                                                    "212 555 0199"]),
        actor=as_actor(manager), on_duplicate="keep_both",
    )

    second = result.lead
    assert (result.created, result.duplicate_of) == (True, first)
    assert second.pk != first.pk
    assert sorted(DuplicateKey.objects.filter(lead=second).values_list(
        "kind", "value", "canonical")) == [
        ("email", "ann@example.com", False),
        ("phone", "+12125550123", False),
        ("phone", "+12125550199", True),
    ]
    assert DuplicateKey.objects.filter(lead=first, canonical=True).count() == 2
    assert events_of(second.pk)[0][4]["kept_beside"] == first.pk


def test_agent_merging_into_a_lead_not_theirs_is_refused_and_nothing_changes():
    project = make_project()
    agent, colleague = make_user(project, "agent"), make_user(project, "agent")
    first = make_lead(project, email="ann@example.com", company=None,
                      actor=as_actor(colleague))
    before = Lead.objects.filter(pk=first.pk).values().get()

    with pytest.raises(PermissionDenied):
        services.create_lead(project, LeadInput(name="Ann", email="ann@example.com",
                                                company="Acme"),
                             actor=as_actor(agent), on_duplicate="merge")

    assert Lead.objects.filter(pk=first.pk).values().get() == before
    assert Lead.objects.count() == 1
    assert len(events_of(first.pk)) == 1


def test_agent_merging_into_their_own_lead_is_allowed():
    project = make_project()
    agent = make_user(project, "agent")
    first = make_lead(project, email="ann@example.com", company=None, actor=as_actor(agent))

    result = services.create_lead(project, LeadInput(name="Ann", email="ann@example.com",
                                                     company="Acme"),
                                  actor=as_actor(agent), on_duplicate="merge")

    assert result.lead.pk == first.pk
    assert Lead.objects.get(pk=first.pk).company == "Acme"


def test_a_rejected_duplicate_records_nothing():
    project = make_project()
    make_lead(project, email="ann@example.com")

    with pytest.raises(Conflict):
        create(project, name="Ann", email="ann@example.com")

    assert TimelineEvent.objects.count() == 1
