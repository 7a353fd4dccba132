"""The imports API: starting an import, following it, fetching its rejected rows; who may."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leadflow.crm.models import Lead
from leadflow.imports.models import Import
from leadflow.timeline.models import TimelineEvent
from tests.factories import auth, make_lead, make_project, make_user
from tests.imports.helpers import csv_bytes

ROWS = [["First Name", "Last Name", "Email", "Phone"],
        ["Ada", "Lovelace", "ada@example.com", "+1 212 555 0101"],
        ["Bad", "Row", "not-an-email", ""],
        ["Ada", "Again", "ada@example.com", ""]]


def post(client, user, *, content=None, name="people.csv", **fields):
    content = csv_bytes(ROWS) if content is None else content
    data = {"file": SimpleUploadedFile(name, content), **fields}
    headers = auth(user) if user is not None else {}
    return client.post("/api/v1/imports", data, **headers)


def start(client, django_capture_on_commit_callbacks, user, **fields):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, user, **fields)
    return response


def test_post_starts_an_import_and_get_shows_its_counts(client,
                                                         django_capture_on_commit_callbacks):
    project = make_project()
    manager = make_user(project, "manager")

    response = start(client, django_capture_on_commit_callbacks, manager, project=project.pk,
                     mapping=json.dumps({"Phone": "phone2"}))

    assert response.status_code == 202
    job = response.json()["job"]
    body = client.get(f"/api/v1/imports/{job}", **auth(manager)).json()
    assert body["state"] == "done"
    assert body["counts"] == {"created": 1, "updated": 0, "moved": 0, "skipped": 1,
                              "rejected": 1}
    assert body["progress"] == {"done": 3, "total": 3}
    assert body["mapping"] == {"First Name": "first_name", "Last Name": "last_name",
                               "Email": "email", "Phone": "phone2"}
    assert body["suggested_mapping"]["Phone"] == "phone1"
    assert (body["format"], body["encoding"], body["delimiter"], body["policy"]) == (
        "csv", "utf-8", ",", "skip")
    assert body["problems"][0]["row"] == 3
    job_body = client.get(f"/api/v1/jobs/{job}", **auth(manager)).json()
    assert (job_body["kind"], job_body["state"]) == ("import", "done")


def test_errors_csv_has_the_original_columns_and_a_reason(client,
                                                          django_capture_on_commit_callbacks):
    project = make_project()
    manager = make_user(project, "manager")
    job = start(client, django_capture_on_commit_callbacks, manager,
                project=project.slug).json()["job"]

    response = client.get(f"/api/v1/imports/{job}/errors", **auth(manager))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["First Name", "Last Name", "Email", "Phone", "reason"]
    assert rows[1][:4] == ["Bad", "Row", "not-an-email", ""]
    assert rows[1][4].startswith("email:")
    assert len(rows) == 2


@pytest.mark.parametrize("_case, fields, content, name, field, code", [
    ("not csv or xlsx", {}, b"\x89PNG\r\n\x1a\n\x00\x00", "x.png", "file", "unsupported"),
    ("empty file", {}, b"", "x.csv", "file", "empty"),
    ("header only", {}, b"Name,Email\r\n", "x.csv", "file", "empty"),
    ("unknown mapping target", {"mapping": '{"Email": "shoe_size"}'}, None, "x.csv",
     "mapping.Email", "unknown_field"),
    ("mapping not json", {"mapping": "{nope"}, None, "x.csv", "mapping", "invalid_json"),
    ("bad policy", {"policy": "merge"}, None, "x.csv", "policy", "invalid"),
    ("move without list", {"policy": "move"}, None, "x.csv", "list", "required"),
])
def test_bad_input_is_400_with_errors(client, _case, fields, content, name, field, code):
    project = make_project()
    manager = make_user(project, "manager")

    response = post(client, manager, content=content, name=name, project=project.pk, **fields)

    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]
    assert not Import.objects.exists()


def test_missing_file_and_project_are_400(client):
    manager = make_user(make_project(), "manager")

    response = client.post("/api/v1/imports", {}, **auth(manager))

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"file", "project"}


@pytest.mark.parametrize("_case, role, policy, list_name, status", [
    ("anonymous", None, "skip", "", 401),
    ("non-member", "outsider", "skip", "", 404),
    ("agent, skip", "agent", "skip", "", 202),
    ("agent, update", "agent", "update", "", 202),
    ("agent, keep-both", "agent", "keep-both", "", 403),
    ("agent, into a list", "agent", "skip", "Event", 403),
    ("agent, move", "agent", "move", "Event", 403),
    ("manager, keep-both", "manager", "keep-both", "", 202),
    ("manager, move", "manager", "move", "Event", 202),
    ("admin, keep-both", "admin", "keep-both", "Event", 202),
])
def test_who_may_import(client, django_capture_on_commit_callbacks, _case, role, policy,
                        list_name, status):
    project = make_project()
    make_lead(project, name="Existing", email="ada@example.com")
    if role is None:
        user = None
    elif role == "outsider":
        user = make_user(make_project(), "manager")
    else:
        user = make_user(admin=True) if role == "admin" else make_user(project, role)
    leads_before, events_before = Lead.objects.count(), TimelineEvent.objects.count()

    response = start(client, django_capture_on_commit_callbacks, user, project=project.pk,
                     policy=policy, list=list_name)

    assert response.status_code == status
    if status != 202:
        assert not Import.objects.exists()
        assert (Lead.objects.count(), TimelineEvent.objects.count()) == (
            leads_before, events_before)


def test_an_agents_import_gives_them_the_new_leads_and_spares_other_leads(
        client, django_capture_on_commit_callbacks):
    project = make_project()
    agent = make_user(project, "agent")
    other = make_lead(project, name="Existing", email="ada@example.com")

    job = start(client, django_capture_on_commit_callbacks, agent, project=project.pk,
                policy="update").json()["job"]

    body = client.get(f"/api/v1/imports/{job}", **auth(agent)).json()
    assert body["counts"] == {"created": 0, "updated": 0, "moved": 0, "skipped": 0,
                              "rejected": 3}
    assert body["problems"][0]["reason"] == (
        f"Duplicate of lead #{other.pk}, which you may not change.")
    other.refresh_from_db()
    assert other.name == "Existing"


def test_an_agent_owns_the_leads_they_import(client, django_capture_on_commit_callbacks):
    project = make_project()
    agent = make_user(project, "agent")

    start(client, django_capture_on_commit_callbacks, agent, project=project.pk)

    assert Lead.objects.get(email="ada@example.com").owner_id == agent.pk


def test_an_import_is_visible_to_its_starter_managers_and_admins_only(
        client, django_capture_on_commit_callbacks):
    project = make_project()
    agent, colleague = make_user(project, "agent"), make_user(project, "agent")
    manager, admin = make_user(project, "manager"), make_user(admin=True)
    job = start(client, django_capture_on_commit_callbacks, agent,
                project=project.pk).json()["job"]

    statuses = [client.get(f"/api/v1/imports/{job}", **auth(u)).status_code
                for u in (agent, colleague, manager, admin)]

    assert statuses == [200, 404, 200, 200]
    assert client.get(f"/api/v1/imports/{job}/errors", **auth(colleague)).status_code == 404
    assert client.get("/api/v1/imports/-1", **auth(admin)).status_code == 404
