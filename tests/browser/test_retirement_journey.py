"""Retirement in a real browser: a neglected lead retires by itself and a manager brings it back
from the Retired leads screen with one reassignment."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.crm.models import Lead
from leadflow.sweeps import run_sweeps
from tests.browser.chromium import chromium_page
from tests.browser.test_ownership_journeys import log_in, nav
from tests.factories import make_lead, make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_reassigns_a_lead_that_retired_by_itself(live_server):
    project = make_project("Retirement")
    make_user(project, "manager", email="manager@example.com")
    ada = make_user(project, "agent", email="ada@example.com")
    bob = make_user(project, "agent", email="bob@example.com")
    lead = make_lead(project, name="Grace Hopper", owner=ada)
    # Assigned 40 days ago and never worked since: due under the 30-day threshold.
    Lead.objects.filter(pk=lead.pk).update(assigned_at=timezone.now() - timedelta(days=40))
    assert run_sweeps()["leads_retired"] == 1
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "manager@example.com")
        nav(page, "Retired").click()
        expect(page.get_by_role("heading", name="Retired leads")).to_be_visible()
        row = page.locator(f"#retired-{lead.pk}")
        expect(row).to_contain_text("Grace Hopper")
        expect(row).to_contain_text("ada@example.com")
        row.get_by_label("New owner of Grace Hopper").select_option(label=bob.label)
        row.get_by_role("button", name="Reassign").click()
        expect(page.get_by_text("Assigned to")).to_be_visible()
        expect(page.locator(f"#retired-{lead.pk}")).to_have_count(0)
        expect(page.get_by_text("No retired lead")).to_be_visible()

        page.goto(f"{url}/leads/{lead.pk}/")
        expect(page.locator('#timeline li[data-kind="LEAD_RETIRED"]')).to_be_visible()
        expect(page.locator('#timeline li[data-kind="LEAD_ASSIGNED"]')).to_be_visible()

    lead.refresh_from_db()
    assert (lead.owner_id, lead.retired_at, lead.original_owner_id) == (bob.pk, None, ada.pk)
