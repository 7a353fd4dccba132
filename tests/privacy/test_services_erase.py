"""erase_person and export_person: what is found, what goes, what stays, who may."""

from __future__ import annotations

import pytest
from django.db import connection

from leadflow.accounts.models import Notification
from leadflow.activities.models import Activity
from leadflow.clients.models import Client
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound, PermissionDenied, ValidationFailed
from leadflow.crm.models import Lead
from leadflow.imports.models import ImportRejection
from leadflow.intake.models import DuplicateKey, PossibleDuplicate, Submission
from leadflow.privacy.models import Erasure
from leadflow.privacy.services import erase_person, export_person, reference_of
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import SYSTEM, make_lead, make_project, submit
from tests.privacy.people import EMAIL, PHONE, TRACES, AnnsWorld


def texts_mentioning(needles: list[str]) -> list[str]:
    """`table: value` for every value of every table that contains one of `needles`."""
    found = []
    folded = [n.casefold() for n in needles]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    text = str(value).casefold()
                    found += [f"{table}: {value}" for n in folded if n in text]
    return found


def test_erasing_removes_every_trace_of_the_person_and_keeps_an_audit_record():
    world = AnnsWorld()
    assert texts_mentioning(TRACES) != []

    result = erase_person(world.project, actor=Actor(world.admin, "ui"), email=EMAIL)

    assert result.counts == {"leads": 3, "clients": 1, "submissions": 3, "activities": 1,
                             "events_scrubbed": result.counts["events_scrubbed"],
                             "possible_duplicates": 1, "notifications": 1, "import_rows": 1}
    assert result.counts["events_scrubbed"] >= 10
    assert texts_mentioning(TRACES) == []
    assert not Lead.objects.filter(pk__in=world.ann_ids).exists()
    assert not Client.objects.filter(pk=world.client.pk).exists()
    assert not DuplicateKey.objects.filter(lead_id__in=world.ann_ids).exists()
    assert not Activity.objects.exists()
    assert not PossibleDuplicate.objects.exists()
    # Submissions stay for the bucket's counts, their payloads blanked.
    rows = list(Submission.objects.order_by("pk").values_list("status", "raw", "normalized",
                                                              "name", "email_key"))
    assert rows == [("processed", {}, {}, "", ""), ("duplicate", {}, {}, "", ""),
                    ("rejected", {}, {}, "", "")]
    # Each lead's history stays, scrubbed, with a deletion event.
    deleted = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_DELETED)
    assert sorted(deleted.values_list("lead_id", flat=True)) == [world.lead.pk,
                                                                 world.kept_both.pk]
    assert set(deleted.values_list("reason", flat=True)) == {"Personal data erased on request"}
    assert not TimelineEvent.objects.filter(lead_id__in=world.ann_ids, scrubbed=False).exclude(
        kind=TimelineKind.LEAD_DELETED).exists()
    # Bob and his data stay.
    assert Lead.objects.get().pk == world.bob.pk
    assert list(Notification.objects.values_list("message", flat=True)) == [
        "Bob Stone was assigned to you"]
    assert list(ImportRejection.objects.values_list("row_number", "cells")) == [
        (3, ["", "bob@example.com"])]
    world.job.refresh_from_db()
    assert world.job.errors == [{"row": 3, "reason": "Name is required."}]
    erasure = Erasure.objects.get()
    assert (erasure.project_id, erasure.erased_by_id, erasure.actor_label, erasure.channel,
            erasure.identifier_kind) == (world.project.pk, world.admin.pk, world.admin.email,
                                         "ui", "email")
    assert erasure.counts == result.counts
    assert erasure.reference == reference_of(world.project, "email", EMAIL)
    assert len(erasure.reference) == 64


def test_erasing_by_phone_finds_the_leads_holding_that_phone():
    world = AnnsWorld()
    bucket = world.lead.bucket
    phone_only = submit(bucket, {"name": "A. Lee", "email": "not-an-address",
                                 "phone": "+1 212 555 0100"})
    assert phone_only.status == "rejected"

    result = erase_person(world.project, actor=SYSTEM, phone="212-555-0100")

    # The kept-both lead shares her e-mail, not this phone: a phone names whoever holds it,
    # and is not followed to other identifiers (a shared phone would sweep in others).
    assert (result.counts["leads"], result.counts["clients"], result.counts["submissions"]) \
        == (2, 1, 3)
    assert sorted(Lead.objects.values_list("pk", flat=True)) == [world.kept_both.pk,
                                                                 world.bob.pk]
    assert Submission.objects.get(pk=phone_only.pk).raw == {}
    assert Erasure.objects.get().reference == reference_of(world.project, "phone", PHONE)


def test_a_second_erasure_finds_nothing_and_records_nothing():
    world = AnnsWorld()
    erase_person(world.project, actor=SYSTEM, email=EMAIL)
    before = world.state()

    result = erase_person(world.project, actor=SYSTEM, email=EMAIL)

    assert result.erasure is None
    assert set(result.counts.values()) == {0}
    assert world.state() == before
    assert Erasure.objects.count() == 1


def test_the_same_person_in_another_project_stays():
    world = AnnsWorld()
    other = make_project(default_region="US")
    elsewhere = make_lead(other, name="Ann Lee", email=EMAIL, phones=[PHONE])

    erase_person(world.project, actor=SYSTEM, email=EMAIL)

    assert Lead.objects.get(pk=elsewhere.pk).email == EMAIL
    assert DuplicateKey.objects.filter(lead=elsewhere).count() == 2


@pytest.mark.parametrize("who", ["manager", "agent"])
def test_managers_and_agents_may_not_erase_and_nothing_changes(who):
    world = AnnsWorld()
    before = world.state()

    with pytest.raises(PermissionDenied):
        erase_person(world.project, actor=Actor(getattr(world, who), "ui"), email=EMAIL)

    assert world.state() == before


@pytest.mark.parametrize("who", ["manager", "agent"])
def test_managers_and_agents_may_not_export(who):
    world = AnnsWorld()

    with pytest.raises(PermissionDenied):
        export_person(world.project, actor=Actor(getattr(world, who), "ui"), email=EMAIL)


@pytest.mark.parametrize(("email", "phone", "field", "code"), [
    (None, None, "email", "one_identifier"),
    (EMAIL, PHONE, "email", "one_identifier"),
    ("ann.lee@", None, "email", "invalid_email"),
    (None, "12", "phone", "invalid_phone"),
])
def test_a_missing_or_bad_identifier_is_a_field_error(email, phone, field, code):
    world = AnnsWorld()
    before = world.state()

    with pytest.raises(ValidationFailed) as raised:
        erase_person(world.project, actor=SYSTEM, email=email, phone=phone)

    assert [(e.field, e.code) for e in raised.value.errors] == [(field, code)]
    assert world.state() == before


def test_export_holds_everything_about_the_person():
    world = AnnsWorld()

    data = export_person(world.project, actor=Actor(world.admin, "ui"), email=EMAIL)

    assert data["project"] == {"id": world.project.pk, "slug": world.project.slug,
                               "name": world.project.name}
    assert data["identifier"] == {"kind": "email", "value": EMAIL}
    leads = {lead["id"]: lead for lead in data["leads"]}
    assert sorted(leads) == world.ann_ids
    ann = leads[world.lead.pk]
    assert (ann["name"], ann["email"], ann["phones"], ann["tags"], ann["client"],
            ann["status"]) == ("Ann Lee", "Ann.Lee@example.com", [PHONE, "+12125550199"], ["vip"],
                               world.client.pk, "CONVERTED")
    assert (ann["list"], ann["list_name"]) == (world.list.pk, world.list.name)
    assert [a["body"] for a in ann["activities"]] == ["Ann asked for a callback"]
    assert [e["kind"] for e in ann["timeline"]][0] == TimelineKind.LEAD_CREATED
    assert TimelineKind.LEADS_MERGED in [e["kind"] for e in ann["timeline"]]
    assert TimelineKind.LEAD_CONVERTED in [e["kind"] for e in ann["timeline"]]
    assert leads[world.merged.pk]["merged_into"] == world.lead.pk
    assert [c["id"] for c in data["clients"]] == [world.client.pk]
    assert [(s["status"], s["raw"]) for s in data["submissions"]] == [
        ("processed", {"name": "Ann Lee", "email": "Ann.Lee@Example.com",
                       "phone": "(212) 555-0100"}),
        ("duplicate", {"name": "Ann Lee", "email": EMAIL}),
        ("rejected", {"name": "Ann Lee", "email": EMAIL, "phone": "12"}),
    ]
    assert [n["message"] for n in data["notifications"]] == ["Ann Lee was assigned to you"]


def test_export_of_someone_unknown_is_not_found():
    world = AnnsWorld()

    with pytest.raises(NotFound) as raised:
        export_person(world.project, actor=SYSTEM, email="nobody@example.com")

    assert raised.value.detail == (f"No data held about nobody@example.com in project "
                                   f"{world.project.slug}.")
