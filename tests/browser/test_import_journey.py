"""Importing in a real browser: upload a semicolon-separated cp1252 file, check the suggested
mapping and the preview, run a dry run, then the import, and download the rejected rows."""

import pytest
from playwright.sync_api import expect

from leadflow.crm.models import Lead
from tests.browser.chromium import chromium_page, log_in, nav
from tests.factories import make_lead, make_project, make_user
from tests.imports.helpers import csv_bytes, write_file

ROWS = [["First Name", "Last Name", "Email", "Mobile Phone", "Lead Status"],
        ["Zoë", "Dupré", "zoe@example.com", "+1 212 555 0101", "Contacted"],
        ["Ada", "Lovelace", "ada@example.com", "", ""],
        ["Bad", "Row", "not-an-email", "", ""]]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_imports_a_file_after_a_dry_run(live_server):
    project = make_project("Fair")
    make_user(project, "manager", email="manager@example.com")
    make_lead(project, name="Ada", email="ada@example.com")
    path = write_file(csv_bytes(ROWS, delimiter=";", encoding="cp1252"))
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "manager@example.com")
        nav(page, "Imports").click()
        expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()
        page.get_by_label("File (CSV or XLSX)").set_input_files(str(path))
        page.get_by_label("Duplicates").select_option("update")
        page.get_by_role("button", name="Upload").click()

        expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
        expect(page.get_by_label("First Name")).to_have_value("first_name")
        expect(page.get_by_label("Mobile Phone")).to_have_value("phone1")
        expect(page.get_by_label("Lead Status")).to_have_value("stage")
        expect(page.locator("#preview")).to_contain_text("Zoë")
        page.get_by_role("button", name="Run the dry run").click()

        expect(page.get_by_text("Dry run finished: nothing was written.")).to_be_visible()
        outcomes = page.get_by_role("table", name="Outcomes")
        expect(outcomes.locator('[data-outcome="created"]')).to_have_text("1")
        expect(outcomes.locator('[data-outcome="updated"]')).to_have_text("1")
        expect(outcomes.locator('[data-outcome="rejected"]')).to_have_text("1")
        assert Lead.objects.count() == 1

        page.get_by_role("button", name="Run the import").click()
        expect(page.get_by_text("Import finished.")).to_be_visible()
        expect(page.get_by_role("progressbar", name="Rows done")).to_have_attribute("value", "100")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download rejected rows (CSV)").click()
        content = download.value.path().read_text(encoding="utf-8")

    assert content.splitlines() == [
        "First Name,Last Name,Email,Mobile Phone,Lead Status,reason",
        content.splitlines()[1],
    ]
    assert content.splitlines()[1].startswith("Bad,Row,not-an-email,,,email:")
    zoe = Lead.objects.get(email="zoe@example.com")
    assert (zoe.name, zoe.status) == ("Zoë Dupré", "CONTACTED")
    assert Lead.objects.get(email="ada@example.com").name == "Ada Lovelace"
