"""Ownership in a real browser: an offer passed along a sequence, and an agent taking the next
lead of their pool."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chromium import chromium_page, log_in, log_out, nav
from tests.factories import make_lead, make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_offer_in_sequence_goes_to_the_second_agent_after_the_first_declines(live_server):
    project = make_project("Offers")
    make_user(project, "manager", email="manager@example.com")
    make_user(project, "agent", email="ada@example.com")
    second = make_user(project, "agent", email="bob@example.com")
    lead = make_lead(project, name="Grace Hopper")
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "manager@example.com")
        page.goto(f"{url}/leads/{lead.pk}/")
        panel = page.locator("#ownership")
        panel.get_by_text("Offer…").click()
        panel.get_by_label(re.compile("ada@example.com")).check()
        panel.get_by_label(re.compile("bob@example.com")).check()
        panel.get_by_label("One after another").check()
        expect(panel.get_by_label("Minutes to accept")).to_have_value("60")
        panel.get_by_label("Note", exact=True).last.fill("Wants a call in German")
        panel.get_by_role("button", name="Make offer").click()
        expect(panel.get_by_role("heading", name="Open offer")).to_be_visible()
        expect(panel.locator(".recipients li")).to_have_count(2)
        expect(panel.locator(".recipients li").first).to_contain_text("pending")
        expect(panel.locator(".recipients li").last).to_contain_text("waiting")
        expect(page.locator('#timeline li[data-kind="OFFER_MADE"]')).to_be_visible()
        log_out(page)

        log_in(page, url, "ada@example.com")
        nav(page, "Offers").click()
        live = page.get_by_role("region", name="Yours to answer now")
        expect(live.get_by_role("link", name="Grace Hopper")).to_be_visible()
        expect(live).to_contain_text("Wants a call in German")
        expect(live.locator("time[data-countdown]")).to_have_text(re.compile(r"left$"))
        live.get_by_role("button", name="Decline").click()
        expect(page.get_by_text("Offer declined.")).to_be_visible()
        expect(page.get_by_role("region", name="Yours to answer now")).to_contain_text(
            "No offer is waiting for your answer.")
        log_out(page)

        log_in(page, url, "bob@example.com")
        nav(page, "Offers").click()
        live = page.get_by_role("region", name="Yours to answer now")
        expect(live.get_by_role("link", name="Grace Hopper")).to_be_visible()
        live.get_by_role("button", name="Accept").click()

        expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
        expect(page.get_by_text("Offer accepted: the lead is yours.")).to_be_visible()
        expect(page.locator('#ownership [data-field="owner"]')).to_have_text(second.label)
        expect(page.locator('#timeline li[data-kind="OFFER_ACCEPTED"]')).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_takes_the_next_lead_of_their_pool_and_finds_it_in_fresh_leads(live_server):
    project = make_project("Pools")
    agent = make_user(project, "agent", email="agent@example.com")
    make_lead(project, name="Oldest Waiting")
    make_lead(project, name="Newer Waiting")
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "agent@example.com")
        nav(page, "Pools").click()
        page.get_by_role("link", name="Default").click()
        waiting = page.get_by_role("region", name="Waiting leads")
        expect(waiting.locator("tbody tr")).to_have_count(2)
        expect(waiting.locator("tbody tr").first).to_contain_text("Oldest Waiting")

        page.get_by_role("button", name="Give me the next lead").click()
        expect(page.get_by_role("heading", name="Oldest Waiting")).to_be_visible()
        expect(page.get_by_text(re.compile("You claimed Oldest Waiting until"))).to_be_visible()
        panel = page.locator("#ownership")
        expect(panel.locator('[data-field="claim"]')).to_contain_text(agent.label)
        head = page.locator("#lead-head")
        expect(head.get_by_role("link", name="Edit")).to_have_count(0)

        panel.get_by_role("button", name="Take ownership").click()
        expect(panel.get_by_text("You own this lead now.")).to_be_visible()
        expect(panel.locator('[data-field="owner"]')).to_have_text(agent.label)
        expect(page.locator('#timeline li[data-kind="OWNERSHIP_TAKEN"]')).to_be_visible()
        # The header follows without a reload: the new owner may edit the lead.
        expect(head.get_by_role("link", name="Edit")).to_be_visible()

        nav(page, "Fresh leads").click()
        expect(page.get_by_role("heading", name="Fresh leads")).to_be_visible()
        rows = page.locator("#lead-rows tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Oldest Waiting")
