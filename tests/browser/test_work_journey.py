"""Working a lead in a real browser: an agent logs a call, schedules the next call, finds the
lead on My day and drags it along the pipeline board, to Lost with a reason; a manager retires
a stage."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leadflow.activities.models import Activity
from leadflow.crm.models import Lead
from leadflow.projects.models import Stage
from tests.browser.chromium import chromium_page, log_in, log_out, nav
from tests.factories import make_lead, make_project, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_works_a_lead_and_manager_retires_a_stage(live_server):
    project = make_project("Desk")
    make_user(project, "manager", email="manager@example.com")
    agent = make_user(project, "agent", email="ada@example.com")
    lead = make_lead(project, owner=agent, name="Grace Hopper", company="Navy")
    url = live_server.url
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1)).replace(
        hour=10, minute=30, second=0, microsecond=0)

    with chromium_page() as page:
        log_in(page, url, "ada@example.com")
        page.goto(f"{url}/leads/{lead.pk}/")
        panel = page.locator("#activities")
        panel.get_by_label("Kind").select_option("call")
        panel.get_by_label("Call outcome").select_option("Answered")
        panel.get_by_label("Duration (minutes)").fill("4")
        panel.get_by_label("Note").fill("Interested, wants pricing")
        panel.get_by_role("button", name="Log activity").click()
        expect(panel.locator(".activity").first).to_contain_text("Call: Answered")
        expect(page.locator('#timeline li[data-kind="ACTIVITY_LOGGED"]')).to_be_visible()

        panel.get_by_label("Next call").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
        panel.get_by_role("button", name="Schedule next call").click()
        expect(panel.locator(".next-call time")).to_have_text(tomorrow.strftime("%Y-%m-%d %H:%M"))
        expect(page.locator('#timeline li[data-kind="NEXT_CALL_SET"]')).to_be_visible()

        nav(page, "My day").click()
        upcoming = page.locator("#day-upcoming")
        expect(upcoming).to_contain_text("Grace Hopper")

        nav(page, "Pipeline").click()
        card = page.locator(f"#card-{lead.pk}")
        expect(page.locator('[aria-label="New"]')).to_contain_text("Grace Hopper")
        card.drag_to(page.locator('section[aria-label="Qualified"]'))
        expect(page.locator('section[aria-label="Qualified"]')).to_contain_text("Grace Hopper")
        # Lost asks for the reason before the card moves.
        page.locator(f"#card-{lead.pk}").drag_to(page.locator('section[aria-label="Lost"]'))
        reason = page.locator(f"#card-{lead.pk}").get_by_label("Lost reason")
        expect(reason).to_be_visible()
        expect(page.locator('section[aria-label="Qualified"]')).to_contain_text("Grace Hopper")
        reason.select_option("Too expensive")
        page.locator(f"#card-{lead.pk}").get_by_role("button", name="Move").click()
        expect(page.locator('section[aria-label="Lost"]')).to_contain_text("Grace Hopper")
        log_out(page)

        log_in(page, url, "manager@example.com")
        page.goto(f"{url}/settings/projects/{project.pk}/stages/")
        page.get_by_role("button", name="Retire Contacted").click()
        expect(page.get_by_text("Stage Contacted retired")).to_be_visible()
        nav(page, "Pipeline").click()
        expect(page.locator('section[aria-label="Contacted"]')).to_have_count(0)

    assert Activity.objects.get(lead=lead).duration_seconds == 240
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.stage.name, stored.lost_reason) == ("Lost", "Too expensive")
    assert stored.next_call_at == tomorrow
    assert Stage.objects.get(project=project, name="Contacted").retired
