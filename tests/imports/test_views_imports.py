"""The imports screens: upload → mapping with preview → dry run → import; progress partial."""

from django.core.files.uploadedfile import SimpleUploadedFile

from leadflow.crm.models import Lead
from leadflow.imports.models import Import
from tests.factories import make_field, make_project, make_user
from tests.imports.helpers import csv_bytes

ROWS = [["Full Name", "E-mail address", "Cell", "Notes"],
        ["Ada Lovelace", "ada@example.com", "+1 212 555 0101", "met at the fair"],
        ["Nobody", "", "", ""]]


def upload(client, project, *, dry_run=True, policy="skip"):
    data = {"file": SimpleUploadedFile("fair.csv", csv_bytes(ROWS)), "project": project.pk,
            "policy": policy, "list_name": ""}
    if dry_run:
        data["dry_run"] = "on"
    return client.post("/imports/", data)


def test_upload_mapping_dry_run_then_import(client, django_capture_on_commit_callbacks):
    project = make_project()
    make_field(project, "notes")
    manager = make_user(project, "manager")
    client.force_login(manager)

    response = upload(client, project)
    assert response.status_code == 302
    mapping_url = response["Location"]
    page = client.get(mapping_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="name" selected>' in html
    assert '<option value="email" selected>' in html
    assert '<option value="phone1" selected>' in html
    assert '<option value="custom.notes" selected>' in html  # the project's field "notes"
    assert "met at the fair" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(mapping_url, {"col0": "name", "col1": "email", "col2": "phone1",
                                             "col3": "custom.notes"})
    dry = Import.objects.get()
    assert response["Location"] == f"/imports/{dry.pk}/"
    assert dry.dry_run and not Lead.objects.exists()
    detail = client.get(f"/imports/{dry.pk}/").content.decode()
    assert "Dry run finished: nothing was written." in detail
    assert f"/api/v1/imports/{dry.pk}/errors" in detail

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/imports/{dry.pk}/run/")
    real = Import.objects.exclude(pk=dry.pk).get()
    assert response["Location"] == f"/imports/{real.pk}/"
    assert real.dry_run is False
    assert real.targets == ["name", "email", "phone1", "custom.notes"]


def test_progress_partial_for_htmx(client, django_capture_on_commit_callbacks):
    project = make_project()
    manager = make_user(project, "manager")
    client.force_login(manager)
    mapping_url = upload(client, project, dry_run=False)["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(mapping_url, {"col0": "name", "col1": "email", "col2": "phone1"})
    imp = Import.objects.get()

    partial = client.get(f"/imports/{imp.pk}/", HTTP_HX_REQUEST="true")

    html = partial.content.decode()
    assert html.lstrip().startswith('<section class="card" id="import-progress"')
    assert '<td data-outcome="created">1</td>' in html
    assert '<td data-outcome="rejected">1</td>' in html
    assert "hx-trigger" not in html  # finished: polling stops


def test_bad_file_shows_the_error_on_the_form(client):
    project = make_project()
    client.force_login(make_user(project, "manager"))

    response = client.post("/imports/", {"file": SimpleUploadedFile("x.csv", b""),
                                         "project": project.pk, "policy": "skip"})

    assert response.status_code == 400
    assert "The submitted file is empty." in response.content.decode()


def test_agent_may_not_keep_both(client):
    project = make_project()
    client.force_login(make_user(project, "agent"))

    response = upload(client, project, policy="keep-both")

    assert response.status_code == 403
    assert not Import.objects.exists()


def test_someone_elses_draft_is_404(client):
    project = make_project()
    client.force_login(make_user(project, "manager"))
    mapping_url = upload(client, project)["Location"]
    client.force_login(make_user(project, "manager"))

    assert client.get(mapping_url).status_code == 404
