"""The bucket table's "Only unassigned leads" toggle, remembered per bucket in localStorage."""

import json

import pytest
from playwright.sync_api import expect

from leadflow.intake.services import buckets as bucket_services
from tests.browser.chromium import chromium_page
from tests.factories import SYSTEM, make_project, make_user
from tests.web.intake_factories import make_bucket, submit


def _rows(page):
    return page.locator("#submission-rows tr:not(.empty)")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_only_unassigned_toggle_is_saved_per_bucket(live_server):
    project = make_project("Toggle")
    make_user(project, "manager", email="manager@example.com", password="password123")
    agent = make_user(project, "agent")
    bucket_a = make_bucket(project, name="Bucket A", default_manager=agent.pk)
    submit(bucket_a, name="Owned Person", email="owned@example.com")
    bucket_services.update_bucket(bucket_a, actor=SYSTEM, default_manager=None)
    submit(bucket_a, name="Free Person", email="free@example.com")
    bucket_b = make_bucket(project, name="Bucket B", default_manager=agent.pk)
    submit(bucket_b, name="Other Owned", email="other@example.com")
    url = live_server.url
    a_url, b_url = f"{url}/buckets/{bucket_a.pk}/", f"{url}/buckets/{bucket_b.pk}/"

    with chromium_page() as page:
        page.goto(f"{url}/login/")
        page.get_by_label("Email").fill("manager@example.com")
        page.get_by_label("Password").fill("password123")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Leads")).to_be_visible()

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Buckets").click()
        page.get_by_role("link", name="Bucket A").click()
        toggle = page.get_by_label("Only unassigned leads")
        expect(toggle).not_to_be_checked()
        expect(_rows(page)).to_have_count(2)

        toggle.check()
        expect(_rows(page)).to_have_count(1)
        expect(_rows(page)).to_contain_text("Free Person")
        expect(page).to_have_url(f"{a_url}?unassigned=true&ordering=-created_at")
        saved = json.loads(page.evaluate("localStorage.getItem('BUCKETS_FILTERS')"))
        assert saved == {str(bucket_a.pk): {"onlyUnassigned": True}}

        page.reload()
        expect(page.get_by_label("Only unassigned leads")).to_be_checked()
        expect(_rows(page)).to_have_count(1)

        # Coming back through the bucket list, without the filter in the address.
        page.goto(a_url)
        expect(page.get_by_label("Only unassigned leads")).to_be_checked()
        expect(_rows(page)).to_have_count(1)
        expect(page).to_have_url(f"{a_url}?unassigned=true&ordering=-created_at")

        page.goto(b_url)
        expect(page.get_by_label("Only unassigned leads")).not_to_be_checked()
        expect(_rows(page)).to_have_count(1)
        expect(_rows(page)).to_contain_text("Other Owned")

        page.goto(a_url)
        page.get_by_label("Only unassigned leads").uncheck()
        expect(_rows(page)).to_have_count(2)
        saved = json.loads(page.evaluate("localStorage.getItem('BUCKETS_FILTERS')"))
        assert saved == {str(bucket_a.pk): {"onlyUnassigned": False}}
        page.goto(a_url)
        expect(page.get_by_label("Only unassigned leads")).not_to_be_checked()
        expect(_rows(page)).to_have_count(2)
