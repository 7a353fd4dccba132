"""A user's journey through the web UI in a real browser (Debian's Chromium via Playwright)."""

import pytest
from playwright.sync_api import expect

from tests.browser.chromium import chromium_page
from tests.factories import make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_creates_a_lead_finds_it_and_sees_its_timeline(live_server):
    project = make_project("Journey")
    make_user(project, "agent", email="agent@example.com", password="password123")
    url = live_server.url

    with chromium_page() as page:
        page.goto(f"{url}/")
        expect(page).to_have_url(f"{url}/login/?next=/leads/")
        page.get_by_label("Email").fill("agent@example.com")
        page.get_by_label("Password").fill("password123")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Leads")).to_be_visible()

        page.get_by_role("navigation", name="Main").get_by_role("link", name="New lead").click()
        page.get_by_label("Name").fill("Margaret Hamilton")
        page.get_by_label("E-mail").fill("margaret@example.com")
        page.get_by_label("Company").fill("Apollo Guidance")
        page.get_by_role("button", name="Create lead").click()
        expect(page.get_by_role("heading", name="Margaret Hamilton")).to_be_visible()
        expect(page.get_by_text("Lead created.")).to_be_visible()

        main_nav = page.get_by_role("navigation", name="Main")
        main_nav.get_by_role("link", name="Leads", exact=True).click()
        page.get_by_label("Search leads").fill("hamil")
        expect(page).to_have_url(f"{url}/leads/?q=hamil&ordering=-created_at")
        results = page.locator("#lead-results")
        expect(results.get_by_role("link", name="Margaret Hamilton")).to_be_visible()
        results.get_by_role("link", name="Margaret Hamilton").click()

        created = page.locator('#timeline li[data-kind="LEAD_CREATED"]')
        expect(created).to_be_visible()
        expect(created).to_contain_text("Lead created")
        expect(created).to_contain_text("by agent@example.com · ui")
