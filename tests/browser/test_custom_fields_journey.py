"""Custom fields in a real browser: a manager defines one under Settings, fills it in on the
new lead form and reads it on the lead page."""

import pytest
from playwright.sync_api import expect

from leadflow.crm.models import Lead
from tests.browser.chromium import chromium_page, log_in
from tests.factories import make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_defines_a_custom_field_and_fills_it_in_on_a_new_lead(live_server):
    project = make_project("Fields")
    make_user(project, "manager", email="manager@example.com")
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "manager@example.com")
        page.goto(f"{url}/settings/projects/{project.pk}/fields/")
        page.get_by_label("Name", exact=True).fill("renewal_date")
        page.get_by_label("Label").fill("Renewal date")
        page.get_by_label("Type").select_option("date")
        page.get_by_label("Required when a lead is created").check()
        page.get_by_role("button", name="Add field").click()
        expect(page.get_by_text("Custom field renewal_date added.")).to_be_visible()
        expect(page.get_by_role("link", name="Renewal date")).to_be_visible()

        page.goto(f"{url}/leads/new/?project={project.pk}")
        page.get_by_label("Name", exact=True).fill("Grace Hopper")
        page.get_by_label("E-mail").fill("grace@example.com")
        page.get_by_role("button", name="Create lead").click()
        expect(page.get_by_text("Renewal date is required.")).to_be_visible()
        page.get_by_label("Renewal date *").fill("2026-09-30")
        page.get_by_role("button", name="Create lead").click()

        expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        details = page.locator("section.custom-fields")
        expect(details).to_contain_text("Renewal date")
        expect(details).to_contain_text("2026-09-30")
    assert Lead.objects.get().custom == {"renewal_date": "2026-09-30"}
