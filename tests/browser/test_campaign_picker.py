"""The campaign's dual-list picker in a real browser: search a box as you type, select all
it shows, assign, then unassign one list."""

import pytest
from playwright.sync_api import expect

from leadflow.lists.models import CampaignList
from tests.browser.chromium import chromium_page, log_in
from tests.factories import make_campaign, make_list, make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_assigns_and_unassigns_lists_with_the_picker(live_server):
    project = make_project("Desk")
    make_user(project, "manager", email="manager@example.com")
    north, south = make_list(project, name="Fair north"), make_list(project, name="Fair south")
    make_list(project, name="Website signups")
    campaign = make_campaign(project, name="Autumn calls")
    url = live_server.url

    with chromium_page() as page:
        log_in(page, url, "manager@example.com")
        page.goto(f"{url}/settings/campaigns/{campaign.pk}/")
        available = page.get_by_label("Available lists", exact=True)
        assigned = page.get_by_label("Assigned lists", exact=True)
        expect(available.locator("option")).to_have_count(3)

        page.get_by_label("Search available lists").fill("fair")
        expect(available.locator("option")).to_have_count(2)
        expect(available.locator("option", has_text="Website signups")).to_have_count(0)

        page.locator('input[data-picker-all="available"]').check()
        assert available.evaluate(
            "s => Array.from(s.options).filter(o => o.selected).length") == 2
        page.get_by_role("button", name="Assign →").click()

        expect(page.get_by_text("2 lists assigned.")).to_be_visible()
        expect(assigned.locator("option")).to_have_count(2)
        assert set(CampaignList.objects.values_list("list_id", flat=True)) == {north.pk,
                                                                              south.pk}

        assigned.select_option(label="Fair north")
        page.get_by_role("button", name="← Unassign").click()

        expect(page.get_by_text("1 list unassigned.")).to_be_visible()
        expect(assigned.locator("option")).to_have_count(1)
        expect(assigned.locator("option")).to_have_text("Fair south")
        assert list(CampaignList.objects.values_list("list_id", flat=True)) == [south.pk]
