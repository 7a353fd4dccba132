"""The timeline: one writer, append-only, scrubbed never deleted, read newest first."""

import uuid
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from leadflow.crm.selectors import timeline_for
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import SYSTEM, as_actor, make_lead, make_project, make_user

T0 = datetime.fromisoformat("2030-07-01T09:00:00+00:00")


@pytest.mark.django_db(transaction=True)
def test_record_needs_the_services_transaction():
    lead = make_lead(make_project())

    with pytest.raises(RuntimeError):
        timeline.record(TimelineKind.LEAD_UPDATED, actor=SYSTEM, lead=lead)
    with pytest.raises(RuntimeError):
        timeline.record_many([{"kind": TimelineKind.LEAD_UPDATED, "actor": SYSTEM,
                               "lead": lead}])

    assert TimelineEvent.objects.filter(lead_id=lead.pk).count() == 1


def test_a_failing_service_leaves_no_event():
    lead = make_lead(make_project())

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        timeline.record(TimelineKind.LEAD_UPDATED, actor=SYSTEM, lead=lead)
        1 / 0  # noqa: B018

    assert TimelineEvent.objects.filter(lead_id=lead.pk).count() == 1


def test_record_writes_actor_channel_subject_and_changes():
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project, name="Ann Lee")
    batch = uuid.uuid4()

    with time_machine.travel(T0, tick=False), transaction.atomic():
        event = timeline.record(TimelineKind.LEAD_UPDATED, actor=as_actor(manager, "ui"),
                                lead=lead, before={"name": "A"}, after={"name": "Ann Lee"},
                                reason="typo", batch_id=batch)

    stored = TimelineEvent.objects.get(pk=event.pk)
    assert (stored.occurred_at, stored.kind, stored.actor_id, stored.actor_label,
            stored.channel, stored.project_id, stored.lead_id, stored.client_id,
            stored.subject_label, stored.before, stored.after, stored.reason,
            stored.batch_id, stored.scrubbed) == (
        T0, "LEAD_UPDATED", manager.pk, manager.email, "ui", project.pk, lead.pk, None,
        "Ann Lee", {"name": "A"}, {"name": "Ann Lee"}, "typo", batch, False)


def test_empty_changes_are_stored_as_null():
    lead = make_lead(make_project())

    with transaction.atomic():
        event = timeline.record(TimelineKind.LEAD_UPDATED, actor=SYSTEM, lead=lead, before={},
                                after={})

    stored = TimelineEvent.objects.get(pk=event.pk)
    assert (stored.before, stored.after, stored.actor_id, stored.actor_label) == (
        None, None, None, "system")


def test_record_many_writes_every_event_in_one_batch():
    project = make_project()
    leads = [make_lead(project) for _ in range(3)]
    batch = uuid.uuid4()

    with transaction.atomic():
        timeline.record_many([
            {"kind": TimelineKind.STAGE_CHANGED, "actor": SYSTEM, "lead": lead,
             "batch_id": batch} for lead in leads
        ])

    events = TimelineEvent.objects.filter(batch_id=batch)
    assert {(e.kind, e.actor_label, e.channel, e.project_id) for e in events} == {
        (TimelineKind.STAGE_CHANGED, "system", SYSTEM.channel, project.pk)}
    assert sorted(TimelineEvent.objects.filter(batch_id=batch).values_list(
        "lead_id", flat=True)) == sorted(lead.pk for lead in leads)


def test_an_event_survives_its_actor():
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project, actor=as_actor(manager))
    email = manager.email

    manager.delete()

    event = TimelineEvent.objects.get(lead_id=lead.pk)
    assert (event.actor_id, event.actor_label) == (None, email)


def test_scrub_blanks_personal_fields_and_marks_events():
    project = make_project()
    lead = make_lead(project, name="Ann", email="ann@example.com", company="Acme")
    other = make_lead(project, name="Bob")

    with transaction.atomic():
        count = timeline.scrub(lead.pk)
        again = timeline.scrub(lead.pk)

    assert (count, again) == (1, 0)
    event = TimelineEvent.objects.get(lead_id=lead.pk)
    assert event.scrubbed is True
    assert event.subject_label == ""
    assert (event.after["name"], event.after["email"], event.after["company"],
            event.after["stage"]) == (None, None, None, "New")
    assert TimelineEvent.objects.get(lead_id=other.pk).scrubbed is False


def test_timeline_for_reads_newest_first_in_pages():
    project = make_project()
    with time_machine.travel(T0, tick=False) as traveller:
        lead = make_lead(project)
        for minute in range(4):
            traveller.shift(timedelta(minutes=1))
            with transaction.atomic():
                timeline.record(TimelineKind.LEAD_UPDATED, actor=SYSTEM, lead=lead,
                                reason=str(minute))

    first, cursor = timeline_for(lead, limit=3, cursor=None)
    second, last_cursor = timeline_for(lead, limit=3, cursor=cursor)

    assert [e.reason for e in first] == ["3", "2", "1"]
    assert [e.reason for e in second] == ["0", ""]
    assert last_cursor is None


def test_events_at_the_same_instant_page_by_id():
    project = make_project()
    with time_machine.travel(T0, tick=False):
        lead = make_lead(project)
        with transaction.atomic():
            for n in range(4):
                timeline.record(TimelineKind.LEAD_UPDATED, actor=SYSTEM, lead=lead, reason=str(n))

    seen, cursor = [], None
    while True:
        page, cursor = timeline_for(lead, limit=2, cursor=cursor)
        seen.extend(e.pk for e in page)
        if cursor is None:
            break

    assert seen == sorted(TimelineEvent.objects.filter(lead_id=lead.pk).values_list(
        "pk", flat=True), reverse=True)
