"""update_lead and delete_lead: keys, words, timeline rows and scrubbing."""

import pytest

from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm import services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead, LeadWord
from leadflow.intake.models import DuplicateKey
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    as_actor,
    events_of,
    lead_snapshot,
    make_lead,
    make_project,
    make_user,
    stage_named,
)


def keys_of(lead) -> list[tuple[str, str, bool]]:
    return sorted(DuplicateKey.objects.filter(lead_id=lead.pk).values_list(
        "kind", "value", "canonical"))


def words_of(lead) -> list[str]:
    return sorted(LeadWord.objects.filter(lead_id=lead.pk).values_list("word", flat=True))


# --- update_lead -------------------------------------------------------------------------------


def test_changing_email_and_phones_moves_the_keys():
    project = make_project(default_region="US")
    agent = make_user(project, "agent")
    lead = make_lead(project, actor=as_actor(agent), email="old@example.com",
                     phones=["212 555 0100"])

    services.update_lead(lead, {"email": "New@Example.com", "phones": ["212 555 0199"]},
                         actor=as_actor(agent))

    assert keys_of(lead) == [("email", "new@example.com", True), ("phone", "+12125550199", True)]
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.email, stored.email_key, stored.phones) == (
        "New@example.com", "new@example.com", ["+12125550199"])


def test_the_old_email_is_free_for_a_new_lead_after_a_change():
    project = make_project()
    lead = make_lead(project, email="old@example.com")
    services.update_lead(lead, {"email": "new@example.com"}, actor=SYSTEM)

    other = make_lead(project, email="old@example.com")

    assert keys_of(other) == [("email", "old@example.com", True)]


def test_update_records_before_and_after_of_changed_fields_only():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    lead = make_lead(project, name="Ann", email="ann@example.com", company="Acme")

    services.update_lead(
        lead, {"name": "Ann Lee", "email": "ann@example.com", "company": "Acme",
               "phones": ["(212) 555-0123"]},
        actor=as_actor(manager, "ui"),
    )

    assert events_of(lead.pk)[1:] == [(
        TimelineKind.LEAD_UPDATED, manager.pk, "ui",
        {"name": "Ann", "phones": []},
        {"name": "Ann Lee", "phones": ["+12125550123"]},
    )]


def test_update_rewrites_the_search_words():
    project = make_project()
    lead = make_lead(project, name="Ann Lee", company="Acme")

    services.update_lead(lead, {"name": "Zoë Smith"}, actor=SYSTEM)

    assert words_of(lead) == ["acme", "smith", "zoe"]


def test_email_of_another_lead_is_a_conflict_and_nothing_changes():
    project = make_project()
    taken = make_lead(project, email="taken@example.com")
    lead = make_lead(project, name="Bob", email="bob@example.com")
    before = lead_snapshot(lead.pk)

    with pytest.raises(Conflict) as exc:
        services.update_lead(lead, {"name": "Robert", "email": "TAKEN@example.com"},
                             actor=SYSTEM)

    assert (exc.value.code, exc.value.extra) == ("duplicate", {"duplicate_of": taken.pk})
    assert lead_snapshot(lead.pk) == before
    assert keys_of(lead) == [("email", "bob@example.com", True)]
    assert words_of(lead) == ["bob"]
    assert len(events_of(lead.pk)) == 1


def test_phone_of_another_lead_is_a_conflict():
    project = make_project(default_region="US")
    taken = make_lead(project, phones=["+1 212 555 0100"])
    lead = make_lead(project)

    with pytest.raises(Conflict) as exc:
        services.update_lead(lead, {"phones": ["212-555-0100"]}, actor=SYSTEM)

    assert exc.value.extra == {"duplicate_of": taken.pk}
    assert Lead.objects.get(pk=lead.pk).phones == []


def test_a_no_op_update_records_nothing():
    project = make_project(default_region="US")
    lead = make_lead(project, name="Ann", email="ann@example.com", phones=["+12125550100"])
    before = lead_snapshot(lead.pk)

    services.update_lead(lead, {"name": " Ann ", "email": "ann@example.com",
                                "phones": ["(212) 555-0100"]}, actor=SYSTEM)

    assert lead_snapshot(lead.pk) == before
    assert len(events_of(lead.pk)) == 1


def test_update_validates_fields():
    project = make_project()
    lead = make_lead(project)

    with pytest.raises(ValidationFailed) as exc:
        services.update_lead(lead, {"name": "", "email": "bad", "timezone": "Mars/Base",
                                    "country": "XX"}, actor=SYSTEM)

    assert sorted((e.field, e.code) for e in exc.value.errors) == [
        ("country", "invalid"), ("email", "invalid_email"), ("name", "required"),
        ("timezone", "invalid")]


def test_removing_the_last_contact_way_is_refused():
    project = make_project()
    lead = make_lead(project, email="ann@example.com")

    with pytest.raises(ValidationFailed) as exc:
        services.update_lead(lead, {"email": ""}, actor=SYSTEM)

    assert [(e.field, e.code) for e in exc.value.errors] == [("email", "required")]


def test_update_refuses_fields_it_does_not_own():
    project = make_project()
    lead = make_lead(project)

    with pytest.raises(ValidationFailed) as exc:
        services.update_lead(lead, {"project": 1, "owner": 2, "stage": 3}, actor=SYSTEM)

    assert sorted((e.field, e.code) for e in exc.value.errors) == [
        ("owner", "unknown_field"), ("project", "immutable"), ("stage", "unknown_field")]


def test_agent_cannot_update_a_lead_they_do_not_own():
    project = make_project()
    lead = make_lead(project, actor=as_actor(make_user(project, "agent")))
    viewer = make_user(project, "agent", view_all_leads=True)
    before = lead_snapshot(lead.pk)

    with pytest.raises(PermissionDenied):
        services.update_lead(lead, {"name": "Hijacked"}, actor=as_actor(viewer))

    assert lead_snapshot(lead.pk) == before
    assert len(events_of(lead.pk)) == 1


# --- delete_lead -------------------------------------------------------------------------------


def test_delete_removes_the_lead_its_keys_and_words():
    project = make_project(default_region="US")
    lead = make_lead(project, name="Ann Lee", phones=["+1 212 555 0100"])

    services.delete_lead(lead, actor=as_actor(make_user(project, "manager")))

    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not DuplicateKey.objects.filter(lead_id=lead.pk).exists()
    assert not LeadWord.objects.filter(lead_id=lead.pk).exists()


def test_a_deleted_persons_details_may_come_back_as_a_new_lead():
    project = make_project()
    lead = make_lead(project, email="ann@example.com")
    services.delete_lead(lead, actor=SYSTEM)

    again = make_lead(project, email="ann@example.com")

    assert keys_of(again) == [("email", "ann@example.com", True)]


def test_delete_scrubs_the_timeline_and_records_lead_deleted():
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    lead = make_lead(project, name="Ann Lee", email="ann@example.com",
                     phones=["+1 212 555 0100"], company="Acme")
    services.update_lead(lead, {"name": "Ann Smith", "country": "GB"}, actor=SYSTEM)
    services.create_lead(project, LeadInput(name="Ann", email="ann@example.com",
                                            timezone="Europe/London"),
                         actor=SYSTEM, on_duplicate="merge")
    services.set_stage(lead, stage_named(project, "Contacted"), actor=SYSTEM, reason="called")

    services.delete_lead(Lead.objects.get(pk=lead.pk), actor=as_actor(manager), reason="GDPR")

    rows = list(TimelineEvent.objects.filter(lead_id=lead.pk).order_by("id"))
    assert [(e.kind, e.scrubbed) for e in rows] == [
        (TimelineKind.LEAD_CREATED, True),
        (TimelineKind.LEAD_UPDATED, True),
        (TimelineKind.DUPLICATE_MERGED, True),
        (TimelineKind.STAGE_CHANGED, True),
        (TimelineKind.LEAD_DELETED, False),
    ]
    created, updated, merged, staged, deleted = rows
    assert created.after == {"name": None, "email": None, "phones": None, "company": None,
                             "source": "Manual", "pool": "Default", "stage": "New",
                             "owner": None}
    assert (updated.before, updated.after) == ({"name": None, "country": ""},
                                               {"name": None, "country": "GB"})
    assert (merged.reason, merged.after) == ("", {"timezone": "Europe/London"})
    assert (staged.before, staged.after) == ({"stage": "New", "status": "NOT_CONTACTED"},
                                             {"stage": "Contacted", "status": "CONTACTED"})
    assert {e.subject_label for e in rows} == {""}
    assert (deleted.actor_id, deleted.channel, deleted.before, deleted.after, deleted.reason,
            deleted.project_id) == (manager.pk, "api", None, None, "GDPR", project.pk)
    for event in rows:
        text = f"{event.before} {event.after} {event.reason} {event.subject_label}"
        assert "Ann" not in text and "ann@example.com" not in text and "2125550100" not in text


def test_scrubbing_leaves_other_leads_events_alone():
    project = make_project()
    lead, other = make_lead(project, name="Ann"), make_lead(project, name="Bob")

    services.delete_lead(lead, actor=SYSTEM)

    event = TimelineEvent.objects.get(lead_id=other.pk)
    assert (event.scrubbed, event.subject_label, event.after["name"]) == (False, "Bob", "Bob")


def test_agent_cannot_delete_even_their_own_lead():
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, actor=as_actor(agent))
    before = lead_snapshot(lead.pk)

    with pytest.raises(PermissionDenied):
        services.delete_lead(lead, actor=as_actor(agent))

    assert lead_snapshot(lead.pk) == before
    assert keys_of(lead) == [("email", lead.email, True)]
    assert [(e.kind, e.scrubbed) for e in TimelineEvent.objects.filter(lead_id=lead.pk)] == [
        (TimelineKind.LEAD_CREATED, False)]


def test_timeline_events_are_append_only():
    project = make_project()
    lead = make_lead(project)
    event = TimelineEvent.objects.get(lead_id=lead.pk)

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        TimelineEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(TypeError):
        TimelineEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError):
        event.delete()
