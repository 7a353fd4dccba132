"""Exports: columns, formula neutralization in CSV and XLSX, visibility, the export job and
its resumption, the API routes and `leadflow export`."""

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from leadflow.cli import main
from leadflow.core.actor import Actor
from leadflow.core.errors import ValidationFailed
from leadflow.crm.filters import LeadFilters
from leadflow.crm.models import Lead
from leadflow.exports import services
from leadflow.jobs.models import Job
from leadflow.jobs.services import run_job
from tests.factories import World, auth, make_lead, make_list, put_on_list


def send(client, method, path, user, body=None):
    headers = auth(user) if user is not None else {}
    kwargs = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)(f"/api/v1{path}", **kwargs, **headers)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def download(client, user, export_id) -> bytes:
    response = send(client, "get", f"/exports/{export_id}/download", user)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.fixture
def w():
    return World()


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "cell"), [
    ("=cmd()", "'=cmd()"), ("+1+1", "'+1+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Ada", "Ada"), ("a=b", "a=b"), ("", ""),
])
def test_neutralize(value, cell):
    assert services.neutralize(value) == cell


def test_columns_are_checked():
    assert services.check_columns(None) == services.DEFAULT_COLUMNS
    assert services.check_columns(["id", "custom.size", "id"]) == ["id", "custom.size"]
    with pytest.raises(ValidationFailed) as exc:
        services.check_columns(["id", "password", "custom."])
    assert exc.value.errors[0].field == "columns"


# --- the job through the API -------------------------------------------------------------------


def test_csv_export_neutralizes_formulas_and_shows_only_visible_leads(
        client, w, django_capture_on_commit_callbacks):
    lead_list = make_list(w.project, name="@list")
    evil = make_lead(w.project, name="=cmd()", company="-minus", owner=w.agent,
                     phones=["+14155550123"])
    # Field definitions are configured elsewhere; the values are what an export reads.
    Lead.objects.filter(pk=evil.pk).update(custom={"size": "+big", "n": 3})
    put_on_list(lead_list, evil)

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "post", "/exports", w.agent, {
            "format": "csv", "project": w.project.pk,
            "columns": ["id", "name", "company", "phone", "list", "custom.size", "custom.n"]})

    assert response.status_code == 202
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert (job.kind, job.state, job.counts["rows"]) == ("export", "done", 2)
    rows = read_csv(download(client, w.agent, job.pk))
    assert rows == [
        ["id", "name", "company", "phone", "list", "custom.size", "custom.n"],
        [str(w.own_lead.pk), w.own_lead.name, "", "", "", "", ""],
        [str(evil.pk), "'=cmd()", "'-minus", "'+14155550123", "'@list", "'+big", "3"],
    ]


def test_xlsx_export_reads_back_with_openpyxl(client, w, django_capture_on_commit_callbacks):
    make_lead(w.project, name="=HYPERLINK(\"x\")", company="Acme\x01Corp")

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "post", "/exports", w.manager, {
            "format": "xlsx", "filter": {"q": "hyperlink"}, "columns": ["name", "company",
                                                                     "retired"]})

    assert response.status_code == 202
    export = send(client, "get", f"/exports/{response.json()['id']}", w.manager).json()
    assert (export["state"], export["rows"], export["format"]) == ("done", 1, "xlsx")
    assert export["download_url"] == f"/api/v1/exports/{export['id']}/download"
    assert read_xlsx(download(client, w.manager, export["id"])) == [
        ["name", "company", "retired"], ["'=HYPERLINK(\"x\")", "AcmeCorp", False]]


def test_an_export_job_resumes_without_duplicating_rows(w, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    for _ in range(3):
        make_lead(w.project)
    job = services.start_export(LeadFilters(project=w.project.pk), actor=Actor(w.manager),
                                columns=["id"])
    Job.objects.filter(pk=job.pk).update(state="running")
    job = Job.objects.get(pk=job.pk)
    # A first chunk was written and committed, then a second one written to the part file
    # but the process died before its job row was saved.
    cursor, counts, _done, _errors = services._export_step(job, Actor(w.manager, "job"))
    job.cursor, job.counts, job.progress = cursor, counts, counts["rows"]
    job.save()
    services._export_step(job, Actor(w.manager, "job"))
    Job.objects.filter(pk=job.pk).update(state="queued")

    run_job(job.pk)

    job = Job.objects.get(pk=job.pk)
    assert (job.state, job.progress) == ("done", 5)
    rows = read_csv(services.file_path(job).read_bytes())
    ids = sorted(int(r[0]) for r in rows[1:])
    assert len(ids) == len(set(ids)) == 5


def test_the_export_list_shows_only_the_callers_exports(client, w):
    mine = services.start_export(LeadFilters(), actor=Actor(w.agent))
    services.start_export(LeadFilters(), actor=Actor(w.manager))

    page = send(client, "get", "/exports", w.agent).json()

    assert [i["id"] for i in page["items"]] == [mine.pk]
    assert page["next_cursor"] is None
    assert send(client, "get", f"/exports/{mine.pk}", w.other_agent).status_code == 404
    assert send(client, "get", f"/exports/{mine.pk}/download",
                w.other_agent).status_code == 404


def finished_export(client, w, user, django_capture_on_commit_callbacks) -> dict:
    make_lead(w.project, name="Ada")
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, "post", "/exports", user, {"columns": ["name"]})
    return send(client, "get", f"/exports/{response.json()['id']}", user).json()


def test_the_sweep_deletes_export_files_after_the_retention_days(
        client, w, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_RETENTION_DAYS = 7
    export = finished_export(client, w, w.agent, django_capture_on_commit_callbacks)
    job = Job.objects.get(pk=export["id"])
    path = services.file_path(job)
    assert path.exists()

    assert services.forget_old_exports(now=job.finished_at + timedelta(days=6)) == 0
    assert services.forget_old_exports(now=job.finished_at + timedelta(days=8)) == 1
    assert services.forget_old_exports(now=job.finished_at + timedelta(days=9)) == 0

    assert not path.exists()
    after = send(client, "get", f"/exports/{job.pk}", w.agent).json()
    assert (after["state"], after["download_url"]) == ("done", None)
    gone = send(client, "get", f"/exports/{job.pk}/download", w.agent)
    assert gone.status_code == 404 and "7 days" in gone.json()["detail"]


def test_the_owner_deletes_an_export_and_its_file_others_cannot(
        client, w, django_capture_on_commit_callbacks):
    export = finished_export(client, w, w.agent, django_capture_on_commit_callbacks)
    path = services.file_path(Job.objects.get(pk=export["id"]))
    running = services.start_export(LeadFilters(), actor=Actor(w.agent))

    refused = send(client, "delete", f"/exports/{export['id']}", w.other_agent)
    busy = send(client, "delete", f"/exports/{running.pk}", w.agent)
    deleted = send(client, "delete", f"/exports/{export['id']}", w.agent)

    assert (refused.status_code, busy.status_code, deleted.status_code) == (404, 409, 204)
    assert not path.exists() and not Job.objects.filter(pk=export["id"]).exists()
    assert send(client, "get", f"/exports/{export['id']}", w.agent).status_code == 404


def test_downloading_an_unfinished_export_is_409(client, w):
    job = services.start_export(LeadFilters(), actor=Actor(w.agent))
    response = send(client, "get", f"/exports/{job.pk}/download", w.agent)
    assert (response.status_code, response.json()["code"]) == (409, "not_ready")


@pytest.mark.parametrize(("_case", "body", "field"), [
    ("unknown column", {"columns": ["secret"]}, "columns"),
    ("unknown format", {"format": "pdf"}, "format"),
    ("unknown filter", {"colour": "red"}, "colour"),
    ("unknown filter inside filter", {"filter": {"colour": "red"}}, "filter"),
    ("both filter places", {"q": "a", "filter": {"q": "b"}}, "filter"),
])
def test_bad_export_requests_are_400(client, w, _case, body, field):
    response = send(client, "post", "/exports", w.manager, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not Job.objects.exists()


def test_export_needs_credentials(client):
    assert send(client, "post", "/exports", None, {}).status_code == 401


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_exports_a_project_to_csv(w, tmp_path: Path, capsys):
    make_lead(w.project, name="=1+1", company="Acme")
    make_lead(w.other_project, name="Elsewhere")
    out = tmp_path / "leads.csv"

    code = main(["export", "--project", w.project.slug, "--q", "acme", "--columns",
                 "name,company", "-o", str(out)])

    assert code == 0
    assert capsys.readouterr().out == f"Exported 1 leads to {out}.\n"
    assert read_csv(out.read_bytes()) == [["name", "company"], ["'=1+1", "Acme"]]


def test_cli_exports_xlsx_by_the_file_name(w, tmp_path: Path, capsys):
    out = tmp_path / "leads.xlsx"
    assert main(["export", "--project", w.project.slug, "--columns", "id", "-o",
                 str(out)]) == 0
    rows = read_xlsx(out.read_bytes())
    assert rows[0] == ["id"]
    assert sorted(r[0] for r in rows[1:]) == sorted([w.own_lead.pk, w.other_lead.pk])


@pytest.mark.parametrize(("_case", "argv", "message"), [
    ("unknown project", ["--project", "nope"], "leadflow: no project with slug 'nope'\n"),
    ("unknown column", ["--columns", "id,secret"], None),
    ("bad status", ["--status", "WHATEVER"], None),
])
def test_cli_export_errors_are_one_line_and_exit_1(w, tmp_path, capsys, _case, argv, message):
    argv = ["export", "--project", w.project.slug, *argv, "-o", str(tmp_path / "x.csv")]
    code = main(argv[:1] + argv[3:] if argv[3] == "--project" else argv)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("leadflow: ")
    if message:
        assert err == message
    assert not (tmp_path / "x.csv").exists()
