"""Importing files through the service: outcomes, policies, duplicates, resume, timeline."""

import pytest

from leadflow.crm.models import Lead
from leadflow.imports.models import ImportRejection
from leadflow.intake.models import DuplicateKey
from leadflow.jobs.models import JobState
from leadflow.lists.models import LeadList
from leadflow.timeline.models import TimelineEvent
from tests.factories import make_lead, make_project
from tests.imports.helpers import counts, csv_bytes, run

HEADER = ["First Name", "Last Name", "Email", "Mobile Phone", "Company"]


def test_new_people_become_leads_with_source_import_and_one_batch_of_events():
    project = make_project()
    content = csv_bytes([HEADER, ["Ada", "Lovelace", "ada@example.com", "+1 212 555 0101", "Acme"],
                         ["Alan", "Turing", "alan@example.com", "", ""]])

    imp = run(project, content)

    assert imp.job.state == JobState.DONE
    assert counts(imp) == {"created": 2}
    ada = Lead.objects.get(email="ada@example.com")
    assert (ada.name, ada.phones, ada.company, ada.source.name) == (
        "Ada Lovelace", ["+12125550101"], "Acme", "Import")
    events = TimelineEvent.objects.filter(batch_id=imp.batch_id)
    assert sorted(events.values_list("kind", "lead_id")) == sorted(
        [("LEAD_CREATED", ada.pk), ("LEAD_CREATED", Lead.objects.get(name="Alan Turing").pk)])
    assert set(events.values_list("reason", flat=True)) == {"Imported from people.csv"}


def test_rerunning_the_same_file_with_skip_creates_nothing():
    project = make_project()
    content = csv_bytes([HEADER, ["Ada", "L", "ada@example.com", "", ""],
                         ["Bob", "B", "", "+1 212 555 0102", ""]])
    run(project, content)

    again = run(project, content, policy="skip")

    assert counts(again) == {"skipped": 2}
    assert Lead.objects.filter(project=project).count() == 2


def test_second_row_of_a_person_in_the_file_is_a_duplicate_of_the_first():
    project = make_project()
    content = csv_bytes([HEADER, ["Ada", "L", "ada@example.com", "", ""],
                         ["Ada", "Lovelace", "ADA@example.com", "", "Acme"]])

    imp = run(project, content, policy="skip")

    assert counts(imp) == {"created": 1, "skipped": 1}
    assert Lead.objects.get(project=project).name == "Ada L"


def test_update_takes_the_non_blank_values_onto_the_existing_lead():
    project = make_project()
    lead = make_lead(project, name="Ada", email="ada@example.com", company="Old Co")
    content = csv_bytes([HEADER, ["Ada", "Lovelace", "ada@example.com", "+1 212 555 0101", ""]])

    imp = run(project, content, policy="update")

    assert counts(imp) == {"updated": 1}
    lead.refresh_from_db()
    assert (lead.name, lead.company, lead.phones) == ("Ada Lovelace", "Old Co", ["+12125550101"])
    assert DuplicateKey.objects.get(kind="phone", value="+12125550101").lead_id == lead.pk
    event = TimelineEvent.objects.get(batch_id=imp.batch_id)
    assert (event.kind, event.lead_id, event.before, event.after) == (
        "LEAD_UPDATED", lead.pk, {"name": "Ada", "phones": []},
        {"name": "Ada Lovelace", "phones": ["+12125550101"]})


def test_update_of_an_in_file_duplicate_changes_the_lead_created_by_the_first_row():
    project = make_project()
    content = csv_bytes([HEADER, ["Ada", "L", "ada@example.com", "", ""],
                         ["Ada", "L", "ada@example.com", "", "Acme"],
                         ["Ada", "L", "ada@example.com", "", "Acme"]])

    imp = run(project, content, policy="update")

    assert counts(imp) == {"created": 1, "updated": 1, "skipped": 1}
    assert Lead.objects.get(project=project).company == "Acme"


def test_move_puts_the_existing_lead_into_the_list_with_the_new_values():
    project = make_project()
    lead = make_lead(project, name="Ada", email="ada@example.com")
    content = csv_bytes([HEADER, ["Ada", "", "ada@example.com", "", "Acme"],
                         ["New", "Person", "new@example.com", "", ""]])

    imp = run(project, content, policy="move", list_name="Spring Event")

    assert counts(imp) == {"moved": 1, "created": 1}
    spring = LeadList.objects.get(project=project, key="spring event")
    lead.refresh_from_db()
    assert (lead.list_id, lead.company) == (spring.pk, "Acme")
    assert Lead.objects.get(email="new@example.com").list_id == spring.pk
    again = run(project, content, policy="move", list_name="spring EVENT")
    assert counts(again) == {"skipped": 2}


def test_keep_both_creates_a_second_lead_with_non_canonical_keys():
    project = make_project()
    lead = make_lead(project, name="Ada", email="ada@example.com")
    content = csv_bytes([HEADER, ["Ada", "Twin", "ada@example.com", "", ""]])

    imp = run(project, content, policy="keep-both")

    assert counts(imp) == {"created": 1}
    twin = Lead.objects.get(name="Ada Twin")
    assert DuplicateKey.objects.get(lead=twin).canonical is False
    assert DuplicateKey.objects.get(lead=lead).canonical is True


def test_rejected_rows_keep_their_cells_and_a_reason():
    project = make_project()
    content = csv_bytes([HEADER, ["Ada", "L", "not-an-email", "", ""],
                         ["", "", "nobody@example.com", "", ""],
                         ["Ok", "Row", "ok@example.com", "", ""]])

    imp = run(project, content)

    assert counts(imp) == {"created": 1, "rejected": 2}
    rows = list(ImportRejection.objects.filter(import_run=imp).order_by("row_number")
                .values_list("row_number", "cells"))
    assert rows == [(2, ["Ada", "L", "not-an-email", "", ""]),
                    (3, ["", "", "nobody@example.com", "", ""])]
    assert imp.job.errors[0]["row"] == 2
    assert imp.job.errors[0]["reason"].startswith("email:")
    assert imp.job.errors[1] == {"row": 3, "reason": "name: Name is required."}


def test_dry_run_counts_outcomes_and_writes_nothing():
    project = make_project()
    make_lead(project, name="Ada", email="ada@example.com")
    before = (Lead.objects.count(), DuplicateKey.objects.count(), TimelineEvent.objects.count())
    content = csv_bytes([HEADER, ["Ada", "", "ada@example.com", "", "Acme"],
                         ["Bob", "B", "bob@example.com", "", ""],
                         ["Bob", "B", "bob@example.com", "", ""],
                         ["Bad", "", "bad", "", ""]])

    imp = run(project, content, policy="update", dry_run=True, list_name="New list")

    assert counts(imp) == {"created": 1, "updated": 1, "skipped": 1, "rejected": 1}
    assert (Lead.objects.count(), DuplicateKey.objects.count(),
            TimelineEvent.objects.count()) == before
    assert not LeadList.objects.filter(project=project).exists()
    assert imp.job.errors[0]["row"] == 5


def test_unknown_source_and_status_values_are_warnings_not_rejections():
    project = make_project()
    content = csv_bytes([["Full Name", "Email", "Lead Source", "Lead Status"],
                         ["Ada", "ada@example.com", "Trade fair", "Contacted"],
                         ["Bob", "bob@example.com", "referral", "Nonsense"]])

    imp = run(project, content)

    assert counts(imp) == {"created": 2}
    ada, bob = Lead.objects.get(name="Ada"), Lead.objects.get(name="Bob")
    assert (ada.source.name, ada.stage.name, ada.status) == ("Import", "Contacted", "CONTACTED")
    assert bob.source.name == "Referral"
    assert imp.warnings == {
        "Unknown source 'Trade fair': imported with source Import.": 1,
        f"Lead status 'Nonsense' is unknown: imported at stage {bob.stage.name}.": 1,
    }


@pytest.mark.parametrize("crash_at", [2, 3])
def test_a_crashed_import_resumes_after_its_last_batch_without_duplicates(monkeypatch, crash_at):
    from datetime import timedelta

    from django.utils import timezone

    from leadflow.imports import services
    from leadflow.jobs.models import Job
    from leadflow.jobs.services import resume_stalled_jobs

    project = make_project()
    make_lead(project, name="Known", email="p5@example.com")
    rows = [["Full Name", "Email"]] + [[f"P {i}", f"p{i}@example.com"] for i in range(25)]
    rows += [["Again", "p3@example.com"], ["Bad", "nope"]]
    monkeypatch.setattr(services, "BATCH", 10)
    real_apply, calls = services._apply, []

    class Killed(BaseException):
        """Stands for the process being killed: not an Exception, nothing handles it."""

    def crashing(ctx, batch):
        calls.append(len(batch))
        if len(calls) == crash_at:
            raise Killed
        return real_apply(ctx, batch)

    monkeypatch.setattr(services, "_apply", crashing)
    with pytest.raises(Killed):
        run(project, csv_bytes(rows))
    job = Job.objects.get(kind="import")
    assert job.state == JobState.RUNNING
    assert job.progress == 10 * (crash_at - 1)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    assert resume_stalled_jobs() == 1

    job.refresh_from_db()
    assert job.state == JobState.DONE
    assert {k: v for k, v in job.counts.items() if v} == {
        "created": 24, "skipped": 2, "rejected": 1}
    assert job.progress == 27
    assert Lead.objects.filter(project=project).count() == 25
    assert ImportRejection.objects.count() == 1


def test_big_files_are_normalized_by_worker_processes_with_the_same_outcomes(monkeypatch):
    from leadflow.imports import services

    project = make_project()
    make_lead(project, name="Known", email="p7@example.com")
    rows = [["Full Name", "Email"]] + [[f"P {i}", f"p{i}@example.com"] for i in range(30)]
    rows += [["Again", "p3@example.com"], ["Bad", "nope"]]
    monkeypatch.setattr(services, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(services, "BATCH", 7)

    imp = run(project, csv_bytes(rows))

    assert counts(imp) == {"created": 29, "skipped": 2, "rejected": 1}
    assert Lead.objects.filter(project=project).count() == 30


def test_custom_fields_are_suggested_validated_and_a_unique_one_finds_duplicates():
    from leadflow.core.errors import ValidationFailed
    from tests.factories import make_field

    project = make_project()
    make_field(project, "policy_no", label="Policy number", unique=True)
    make_field(project, "renewal", type="date")
    make_lead(project, name="Held", email="held@example.com", custom={"policy_no": "P-1"})
    content = csv_bytes([
        ["Name", "Email", "Policy Number", "Renewal"],
        ["Same policy", "other@example.com", "p-1", "2027-01-31"],
        ["New policy", "new@example.com", "P-2", "2027-02-28"],
        ["Bad date", "bad@example.com", "P-3", "next spring"],
    ])

    imp = run(project, content, policy="skip")

    assert imp.targets == ["name", "email", "custom.policy_no", "custom.renewal"]
    assert counts(imp) == {"created": 1, "skipped": 1, "rejected": 1}
    assert Lead.objects.get(email="new@example.com").custom == {
        "policy_no": "P-2", "renewal": "2027-02-28"}
    assert "custom.renewal" in ImportRejection.objects.get().reason
    with pytest.raises(ValidationFailed) as refused:
        run(project, content, mapping={"Renewal": "custom.nothing_like_it"})
    assert refused.value.errors[0].field == "mapping.Renewal"


def test_a_long_import_checkpoints_sqlite_every_few_batches(monkeypatch):
    from django.db import connection

    from leadflow.imports import services as import_services

    monkeypatch.setattr(import_services, "BATCH", 2)
    monkeypatch.setattr(import_services, "CHECKPOINT_BATCHES", 2)
    checkpoints = []
    monkeypatch.setattr(import_services, "checkpoint", lambda: checkpoints.append(1))
    project = make_project()
    rows = [[f"P{n}", "Person", f"p{n}@example.com", "", ""] for n in range(9)]

    imp = run(project, csv_bytes([HEADER, *rows]))

    assert counts(imp) == {"created": 9}
    if connection.vendor == "sqlite":
        # Five batches: a checkpoint after the second and fourth, one when the run closes.
        assert len(checkpoints) == 3
    else:
        assert checkpoints == []


def test_rows_are_normalized_before_each_batch_takes_the_write_lock(monkeypatch):
    from django.db import connection

    from leadflow.imports import services

    depth = {}
    real_normalize, real_apply = services.normalize_rows, services._apply

    def normalizing(chunk, plan):
        depth.setdefault("normalize", len(connection.atomic_blocks))
        return real_normalize(chunk, plan)

    def applying(ctx, batch):
        depth.setdefault("apply", len(connection.atomic_blocks))
        return real_apply(ctx, batch)

    monkeypatch.setattr(services, "normalize_rows", normalizing)
    monkeypatch.setattr(services, "_apply", applying)
    project = make_project()

    run(project, csv_bytes([HEADER] + [[f"P{i}", "X", f"p{i}@example.com", "", ""]
                                       for i in range(5)]))

    # The batch's own transaction and its retry savepoint: two levels below normalizing.
    assert depth["apply"] == depth["normalize"] + 2


def test_batches_on_sqlite_shrink_to_a_short_hold_of_the_write_lock(monkeypatch):
    from django.db import connection

    from leadflow.imports import services

    monkeypatch.setattr(services, "BATCH", 40)
    monkeypatch.setattr(services, "MIN_BATCH", 4)
    monkeypatch.setattr(services, "SLICE", 1e-6)  # every batch takes "too long"
    sizes, real_apply = [], services._apply

    def applying(ctx, batch):
        sizes.append(len(batch))
        return real_apply(ctx, batch)

    monkeypatch.setattr(services, "_apply", applying)
    project = make_project()

    imp = run(project, csv_bytes([HEADER] + [[f"P{i}", "X", f"p{i}@example.com", "", ""]
                                            for i in range(60)]))

    assert counts(imp) == {"created": 60}
    if connection.vendor == "sqlite":
        assert sizes[:4] == [4, 4, 4, 4]  # starts at a tenth of BATCH (here the minimum)
    else:  # PostgreSQL's other writers wait only for rows they share
        assert sizes == [40, 20]


@pytest.mark.django_db(transaction=True)
def test_a_users_write_waits_for_one_short_batch_of_a_running_import(tmp_path):
    """`leadflow import` in a process of its own, as the job consumer runs it, while a user
    keeps creating leads (at a smaller scale than the benchmark's million rows)."""
    import os
    import subprocess
    import sys
    import time

    from django.db import connection

    from leadflow.jobs.models import Job

    project = make_project()
    path = tmp_path / "people.csv"
    path.write_bytes(csv_bytes([HEADER] + [[f"P{i}", "Import", f"import.{i}@example.com", "",
                                            ""] for i in range(6000)]))
    database = connection.settings_dict
    url = (f"sqlite:///{database['NAME']}" if connection.vendor == "sqlite" else
           f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
           f"{database['NAME']}")
    env = {**os.environ, "DATABASE_URL": url, "LEADFLOW_HOME": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    importer = subprocess.Popen([sys.executable, "-m", "leadflow", "import", str(path),
                                 "--project", project.slug], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not Job.objects.filter(kind="import", progress__gt=0).exists():
        assert importer.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    waits = []
    while importer.poll() is None and len(waits) < 1000:
        started = time.perf_counter()
        make_lead(project, name=f"Walk In {len(waits)}", email=f"walk.in.{len(waits)}@example.com")
        waits.append(time.perf_counter() - started)
    _out, err = importer.communicate(timeout=120)

    assert importer.returncode == 0, err
    assert Job.objects.get(kind="import").counts["created"] == 6000
    assert len(waits) >= 10  # the writes went in while the import ran
    # A batch holds the lock about 50 ms; half a second leaves room for a busy
    # test machine, and is far below what one transaction of the whole file would take.
    assert max(waits) < 0.5, sorted(waits)[-5:]
