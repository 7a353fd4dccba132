"""Conversion in a real browser: an agent converts their lead from the lead page and lands on
the new client's page, with the lead under it and the conversion on its timeline."""

import pytest
from playwright.sync_api import expect

from tests.browser.chromium import chromium_page, log_in
from tests.factories import make_lead, make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_converts_a_lead_and_lands_on_the_client(live_server):
    project = make_project("Clients")
    agent = make_user(project, "agent", email="ada@example.com")
    lead = make_lead(project, owner=agent, name="Grace Hopper", company="Navy")
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "ada@example.com")
        page.goto(f"{url}/leads/{lead.pk}/")
        page.locator("#conversion").get_by_role("link", name="Convert to client").click()
        expect(page.get_by_role("heading", name="Convert Grace Hopper to a client")).to_be_visible()
        page.get_by_role("button", name="Convert").click()

        expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        expect(page.get_by_text("converted into client Grace Hopper")).to_be_visible()
        leads = page.locator("#client-leads")
        expect(leads.get_by_role("link", name=f"#{lead.pk} Grace Hopper")).to_be_visible()
        expect(leads).to_contain_text("Converted")
        expect(page.locator('#timeline li[data-kind="CLIENT_CREATED"]')).to_be_visible()

        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Clients", exact=True).click()
        expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()

        page.goto(f"{url}/leads/{lead.pk}/")
        expect(page.locator("#conversion")).to_contain_text("Converted into client")
        expect(page.locator('#timeline li[data-kind="LEAD_CONVERTED"]')).to_be_visible()
