"""Tags in a real browser: an agent asks for a non-modifiable tag, a manager approves it in
the approvals queue, and the agent finds it on the lead."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chromium import chromium_page, log_in, log_out
from tests.factories import make_lead, make_project, make_user
from tests.tags.helpers import make_tag


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_non_modifiable_tag_waits_for_a_manager_and_the_agent_sees_it(live_server):
    project = make_project("Desk")
    make_user(project, "manager", email="manager@example.com")
    agent = make_user(project, "agent", email="ada@example.com")
    make_tag(project, "Callback")
    make_tag(project, "VIP", modifiable=False)
    lead = make_lead(project, name="Grace Hopper", owner=agent)
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "ada@example.com")
        page.goto(f"{url}/leads/{lead.pk}/")
        panel = page.locator("#tags")
        panel.get_by_label("Add a tag").select_option("Callback")
        panel.get_by_role("button", name="Add", exact=True).click()
        expect(panel.locator('.tag-chip[data-tag="Callback"]')).to_be_visible()
        panel.get_by_label("Add a tag").select_option("VIP")
        panel.get_by_role("button", name="Add", exact=True).click()
        expect(panel.get_by_text("Asked a manager to add VIP.")).to_be_visible()
        expect(panel.locator('.change-requests li[data-state="pending"]')).to_contain_text("VIP")
        expect(panel.locator('.tag-chip[data-tag="VIP"]')).to_have_count(0)
        expect(page.locator('#timeline li[data-kind="TAG_CHANGE_REQUESTED"]')).to_be_visible()
        log_out(page)

        log_in(page, url, "manager@example.com")
        approvals = page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=re.compile(r"^Approvals"))
        expect(approvals).to_contain_text("1")
        approvals.click()
        row = page.locator("tr[data-state]").filter(has_text="Grace Hopper")
        expect(row).to_contain_text("VIP")
        row.get_by_role("button", name="Approve").click()
        expect(page.locator('tr[data-state="approved"]')).to_contain_text("Approved")
        log_out(page)

        log_in(page, url, "ada@example.com")
        page.goto(f"{url}/leads/{lead.pk}/")
        panel = page.locator("#tags")
        expect(panel.locator('.tag-chip[data-tag="VIP"]')).to_be_visible()
        expect(panel.locator('.change-requests li[data-state="approved"]')).to_contain_text(
            "approved by")
        expect(page.locator('#timeline li[data-kind="TAG_CHANGE_APPROVED"]')).to_be_visible()
        expect(page.locator('#timeline li[data-kind="TAG_ADDED"]')).to_have_count(2)
