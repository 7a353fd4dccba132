"""No input ends in a server error: text no database stores (lone surrogates, NUL characters)
is 400 naming its fields on every route and form, ids beyond 64 bits are 400, and the inputs
that used to fail deeper (an export of an invisible project, a Unicode digit as a project id)
get their own answers."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leadflow.crm.models import Lead
from leadflow.imports.models import Import
from leadflow.jobs.models import Job
from leadflow.tags.models import Tag
from leadflow.timeline.models import TimelineEvent
from tests.factories import World, auth, lead_snapshot, make_project

SURROGATE = "\\udfff"  # as a JSON escape: a lone UTF-16 surrogate


def send_raw(client, method, path, user, raw: str):
    return getattr(client, method)(path, data=raw.encode(), content_type="application/json",
                                   **auth(user))


def error_fields(response) -> list[tuple[str, str]]:
    return sorted((e["field"], e["code"]) for e in response.json()["errors"])


@pytest.mark.parametrize("_case, method, path, raw, fields", [
    ("create_lead", "post", "/api/v1/leads",
     '{"name": "Ann\\udfff", "email": "ann@example.com", "company": "\\ud800x"}',
     [("company", "invalid"), ("name", "invalid")]),
    ("patch_lead", "patch", "/api/v1/leads/{lead}", '{"company": "Acme \\udfff"}',
     [("company", "invalid")]),
    ("patch_lead_custom", "patch", "/api/v1/leads/{lead}", '{"custom": {"notes": "\\udfff"}}',
     [("custom.notes", "invalid")]),
    ("create_tag", "post", "/api/v1/tags", '{"project": {project}, "name": "VIP\\udfff"}',
     [("name", "invalid")]),
    ("log_activity", "post", "/api/v1/leads/{lead}/activities",
     '{"kind": "note", "body": "Called \\udfff"}', [("body", "invalid")]),
    ("nul_in_an_activity", "post", "/api/v1/leads/{lead}/activities",
     '{"kind": "note", "body": "Called \\u0000"}', [("body", "invalid")]),
    ("surrogate_in_a_key", "post", "/api/v1/leads/{lead}/activities",
     '{"kind": "note", "\\udfff": 1}', [("body", "invalid")]),
    ("convert", "post", "/api/v1/leads/{lead}/convert", '{"reason": "\\udfff"}',
     [("reason", "invalid")]),
])
def test_text_no_database_stores_is_400_naming_the_field(client, _case, method, path, raw,
                                                         fields):
    w = World()
    path = path.format(lead=w.own_lead.pk)
    raw = raw.replace("{project}", str(w.project.pk))
    before = lead_snapshot(w.own_lead.pk)
    events = TimelineEvent.objects.count()

    response = send_raw(client, method, path, w.manager, raw)

    assert response.status_code == 400
    assert error_fields(response) == fields
    assert Lead.objects.count() == 2
    assert lead_snapshot(w.own_lead.pk) == before
    assert not Tag.objects.exists()
    assert TimelineEvent.objects.count() == events


def test_escaped_text_that_is_unicode_is_taken(client):
    w = World()

    response = send_raw(client, "post", f"/api/v1/leads/{w.own_lead.pk}/activities", w.agent,
                        '{"kind": "note", "body": "Zo\\u00e9 \\ud83d\\ude00"}')

    assert response.status_code == 201
    assert response.json()["body"] == "Zoé \U0001f600"


@pytest.mark.parametrize("path", ["/api/v1/clients", "/api/v1/leads", "/api/v1/sources"])
def test_a_nul_character_in_a_query_value_is_400(client, path):
    w = World()

    response = client.get(f"{path}?q={quote(chr(0))}", **auth(w.manager))

    assert response.status_code == 400
    assert error_fields(response) == [("q", "invalid")]


@pytest.mark.parametrize("path", ["/api/v1/sources", "/api/v1/pools", "/api/v1/stages",
                                  "/api/v1/lost-reasons", "/api/v1/call-outcomes"])
def test_a_project_id_beyond_64_bits_is_400(client, path):
    w = World()

    response = client.get(f"{path}?project={2**64}", **auth(w.manager))

    assert response.status_code == 400
    assert error_fields(response) == [("project", "invalid")]


def test_a_path_id_beyond_64_bits_is_400(client):
    w = World()

    response = client.get(f"/api/v1/imports/{2**70}", **auth(w.manager))

    assert response.status_code == 400
    assert error_fields(response) == [("import_id", "invalid")]


@pytest.mark.parametrize("_case, project", [("missing", -1), ("not_a_member", "other")])
def test_an_export_of_a_project_the_caller_cannot_see_is_404(client, _case, project):
    w = World()
    project_id = w.other_project.pk if project == "other" else project

    response = client.post("/api/v1/exports", data=json.dumps({"project": project_id}),
                           content_type="application/json", **auth(w.manager))

    assert response.status_code == 404
    assert response.json()["detail"] == "Project not found."
    assert not Job.objects.exists()


def test_an_export_of_ones_own_project_starts(client):
    w = World()

    response = client.post("/api/v1/exports", data=json.dumps({"project": w.project.pk}),
                           content_type="application/json", **auth(w.manager))

    assert response.status_code == 202
    assert Job.objects.get().project_id == w.project.pk


@pytest.mark.parametrize("project", ["¹", "١٢", "²³"])
def test_a_project_of_unicode_digits_is_no_project(client, project):
    w = World()
    upload = SimpleUploadedFile("people.csv", b"name,email\nAnn,ann@example.com\n")

    response = client.post("/api/v1/imports", {"file": upload, "project": project},
                           **auth(w.manager))

    assert response.status_code == 404
    assert response.json()["detail"] == "Project not found."
    assert not Import.objects.exists()


def test_a_nul_character_in_an_import_form_field_is_400(client):
    w = World()
    upload = SimpleUploadedFile("people.csv", b"name,email\nAnn,ann@example.com\n")

    response = client.post("/api/v1/imports",
                           {"file": upload, "project": str(w.project.pk), "list": "Fair\x00"},
                           **auth(w.manager))

    assert response.status_code == 400
    assert error_fields(response) == [("list", "invalid")]
    assert not Import.objects.exists()


@pytest.mark.parametrize("path", ["/leads/", "/clients/"])
def test_the_ui_answers_a_nul_character_in_a_query_with_a_page(client, path):
    w = World()
    client.force_login(w.manager)

    response = client.get(f"{path}?q={quote(chr(0))}")

    assert response.status_code == 400
    assert "cannot be saved" in response.content.decode()


def test_the_ui_answers_a_nul_character_in_a_form_with_a_page(client):
    project = make_project()
    from tests.factories import make_user

    manager = make_user(project, "manager")
    client.force_login(manager)

    response = client.post(f"/leads/new/?project={project.pk}",
                           {"name": "Ann\x00", "email": "ann@example.com"})

    assert response.status_code == 400
    assert "cannot be saved" in response.content.decode()
    assert not Lead.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/leads", "/api/v1/leads?ordering=created_at"])
def test_a_time_with_an_offset_beyond_postgresqls_is_read_in_utc(client, path):
    w = World()
    separator = "&" if "?" in path else "?"

    response = client.get(f"{path}{separator}created_after={quote('2001-01-01T10:00:00+17:47')}",
                          **auth(w.manager))

    assert response.status_code == 200
    assert {item["id"] for item in response.json()["items"]} == {w.own_lead.pk, w.other_lead.pk}


def test_a_time_outside_the_years_utc_can_hold_is_400(client):
    w = World()

    response = client.get(f"/api/v1/leads?created_before={quote('0001-01-01T00:00:00+05:00')}",
                          **auth(w.manager))

    assert response.status_code == 400
    assert error_fields(response) == [("created_before", "invalid")]


def test_a_next_call_with_a_far_offset_is_kept_in_utc(client):
    w = World()

    response = send_raw(client, "post", f"/api/v1/leads/{w.own_lead.pk}/follow-up", w.agent,
                        '{"next_call_at": "2100-01-02T10:00:00+20:00"}')

    assert response.status_code == 200
    assert response.json()["next_call_at"] == "2100-01-01T14:00:00Z"


def test_a_cursor_with_an_id_beyond_64_bits_is_400(client):
    from leadflow.core.pagination import encode_cursor

    w = World()
    cursor = encode_cursor([False, "2026-01-01T00:00:00+00:00", 2**64])

    response = client.get(f"/api/v1/leads?cursor={cursor}", **auth(w.manager))

    assert response.status_code == 400
    assert error_fields(response) == [("cursor", "invalid")]


def test_a_cursor_time_with_a_far_offset_is_read_in_utc(client):
    from leadflow.core.pagination import encode_cursor

    w = World()
    cursor = encode_cursor([False, "2026-01-01T00:00:00+17:47", 1])

    response = client.get(f"/api/v1/leads?cursor={cursor}", **auth(w.manager))

    assert response.status_code == 200
    assert response.json()["items"] == []
