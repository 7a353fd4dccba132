"""A user's journey through the web UI in a real browser (Debian's Chromium via Playwright)."""

import os
from contextlib import contextmanager

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses that by default.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.factories import make_project, make_user  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextmanager
def chromium_page(width: int = 1280):
    """A fresh browser page. Open it only once the test's rows exist: while Playwright's event
    loop runs, Django gives this thread a separate connection that nothing closes."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(10_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


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

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
        page.get_by_label("Search leads").fill("hamil")
        expect(page).to_have_url(f"{url}/leads/?q=hamil&ordering=-created_at")
        results = page.locator("#lead-results")
        expect(results.get_by_role("link", name="Margaret Hamilton")).to_be_visible()
        results.get_by_role("link", name="Margaret Hamilton").click()

        created = page.locator('#timeline li[data-kind="LEAD_CREATED"]')
        expect(created).to_be_visible()
        expect(created).to_contain_text("Lead created")
        expect(created).to_contain_text("by agent@example.com · ui")
