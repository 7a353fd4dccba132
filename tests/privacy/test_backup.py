"""`leadflow backup` and `leadflow restore`: a backup restores to an identical database, on
SQLite while another thread writes, and a backup of one engine is refused by the other."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from leadflow.accounts.services import notify
from leadflow.activities.services import log_activity, schedule_next_call
from leadflow.cli import main
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey
from leadflow.privacy.backup import (
    MAGIC,
    BackupError,
    backup_database,
    postgresql_command,
    read_manifest,
)
from leadflow.tags.services import create_tag, tag_leads_directly
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    SYSTEM,
    convert,
    make_bucket,
    make_field,
    make_lead,
    make_list,
    make_project,
    make_user,
    put_on_list,
    submit,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def database_state() -> dict:
    """Every row of every table (and the id counters), for an equality check."""
    state = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            state[table] = sorted((tuple(row) for row in cursor.fetchall()), key=repr)
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, seq FROM sqlite_sequence")
        else:
            cursor.execute("SELECT sequencename, last_value FROM pg_sequences "
                           "WHERE schemaname = current_schema()")
        state["<sequences>"] = sorted(cursor.fetchall())
    return state


def fill_database():
    """A project with users, tokens, a bucket and its submissions, leads with activities,
    tags, a list, a custom field, a client, a merge, a deletion and notifications."""
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    token_for(agent)
    make_field(project, "budget", type="number")
    bucket, _key = make_bucket(project)
    submit(bucket, {"name": "Ann Lee", "email": "ann@example.com", "phone": "+12125550100"})
    submit(bucket, {"name": "Ann Lee again", "email": "ann@example.com"})
    submit(bucket, {"name": "No contact"})
    leads = [make_lead(project, owner=agent, name=f"Person {n}", company="Acme",
                       phones=[f"+1212555{n:04d}"]) for n in range(1, 6)]
    log_activity(leads[0], "note", actor=SYSTEM, body="Called back, wants a quote")
    schedule_next_call(leads[1], timezone.now() + timedelta(days=2), actor=SYSTEM)
    create_tag(project, "vip", actor=SYSTEM)
    tag_leads_directly(leads[2], actor=SYSTEM, add=["vip"])
    put_on_list(make_list(project), leads[3])
    convert(leads[4])
    crm_services.merge_leads(leads[1], leads[0], actor=SYSTEM)
    crm_services.delete_lead(leads[2], actor=SYSTEM)
    notify([manager.pk], "lead_assigned", "Person 1 was assigned to you", project_id=project.pk)
    return project, agent


def test_a_backup_restores_to_an_identical_database(tmp_path, capsys):
    project, agent = fill_database()
    before = database_state()
    assert len(before["crm_lead"]) == 5  # 4 made + the intake's one; one deleted
    file = tmp_path / "leadflow.backup"

    code, out, err = run(capsys, "backup", str(file))

    assert (code, err) == (0, "")
    size = file.stat().st_size
    shown = f"{size / 1000:.1f} kB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"
    assert out == f"Backed up 5 leads to {file} ({shown}).\n"
    assert read_manifest(file).engine == connection.vendor
    # Change, add and delete after the backup.
    make_lead(project, name="Added later")
    Lead.objects.filter(name="Person 4").update(company="Changed")
    crm_services.delete_lead(Lead.objects.get(name="Person 1"), actor=SYSTEM)
    assert database_state() != before

    code, out, err = run(capsys, "restore", str(file), "--yes")

    assert (code, out, err) == (0, f"Restored {file}.\n", "")
    assert database_state() == before


def test_restore_drops_tables_the_backup_does_not_hold(tmp_path):
    make_project()
    before = database_state()
    file = tmp_path / "leadflow.backup"
    backup_database(file)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE privacy_later_migration (id integer PRIMARY KEY)")

    assert main(["restore", str(file), "--yes"]) == 0

    assert database_state() == before


def test_restore_without_yes_and_without_a_terminal_refuses(tmp_path, capsys, monkeypatch):
    make_lead(make_project(), name="Kept")
    file = tmp_path / "leadflow.backup"
    backup_database(file)
    make_lead(Lead.objects.get().project, name="Added after")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    code, out, err = run(capsys, "restore", str(file))

    assert (code, out) == (2, "")
    assert err == "leadflow: restore replaces the whole database; pass --yes to confirm\n"
    assert sorted(Lead.objects.values_list("name", flat=True)) == ["Added after", "Kept"]


def test_restore_of_another_engines_backup_is_refused(tmp_path, capsys):
    make_lead(make_project(), name="Kept")
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    file = tmp_path / "other.backup"
    file.write_bytes(MAGIC + b'{"format":1,"engine":"%s","created_at":"2026-01-01T00:00:00Z",'
                     b'"leads":3,"tables":["crm_lead"]}\n' % other.encode() + b"payload")
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

    code, out, err = run(capsys, "restore", str(file), "--yes")

    assert (code, out) == (1, "")
    assert err == (f"leadflow: {file} is a {names[other]} backup; this install uses "
                   f"{names[connection.vendor]}: restore it into a {names[other]} install\n")
    assert list(Lead.objects.values_list("name", flat=True)) == ["Kept"]


def test_restore_of_a_file_that_is_no_backup_is_refused(tmp_path, capsys):
    file = tmp_path / "notes.txt"
    file.write_text("name,email\nAnn,ann@example.com\n")

    code, out, err = run(capsys, "restore", str(file), "--yes")

    assert (code, out, err) == (1, "", f"leadflow: {file} is not a Leadflow backup\n")


def test_backup_into_a_missing_directory_is_one_line(tmp_path, capsys):
    target = tmp_path / "missing" / "leadflow.backup"

    code, out, err = run(capsys, "backup", str(target))

    assert (code, out) == (1, "")
    assert err == f"leadflow: cannot write {target}: no directory {target.parent}\n"


def test_missing_postgresql_client_tools_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BackupError) as raised:
        postgresql_command("pg_dump", "default")

    assert str(raised.value) == ("pg_dump not found: install the PostgreSQL client tools of "
                                 "the server's major version (Debian: postgresql-client-NN)")


def test_a_backup_taken_while_another_thread_writes_is_one_consistent_moment(tmp_path):
    project = make_project(default_region="US")
    stop, written, failures = threading.Event(), [], []

    def write() -> None:
        try:
            n = 0
            while not stop.is_set():
                n += 1
                written.append(make_lead(project, name=f"Writer {n}",
                                         phones=[f"+1212556{n:04d}"]).pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20 and writer.is_alive():
            threading.Event().wait(0.01)
        file = tmp_path / "busy.backup"
        result = backup_database(file)
        at_backup = len(written)
        while len(written) < at_backup + 20 and writer.is_alive():
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert failures == []
    assert Lead.objects.count() == len(written) > result.leads >= 20

    assert main(["restore", str(file), "--yes"]) == 0

    # Each lead commits with its keys, search words and timeline event: in the backup, every
    # lead has all of them, and nothing belongs to a lead it lacks.
    ids = set(Lead.objects.values_list("pk", flat=True))
    assert len(ids) == result.leads
    assert ids == set(written[: len(ids)])
    created = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_CREATED)
    assert set(created.values_list("lead_id", flat=True)) == ids
    assert set(DuplicateKey.objects.values_list("lead_id", flat=True)) == ids
    assert DuplicateKey.objects.count() == 2 * len(ids)  # an e-mail and a phone each
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            assert cursor.fetchone() == ("ok",)
