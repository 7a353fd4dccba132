"""Routing in a real browser: a rule's per-agent rows follow its pool select before the rule
is saved; an agent marks themselves away and back under Pools."""

import pytest
from playwright.sync_api import expect

from leadflow.projects import services as project_services
from leadflow.routing.models import DistributionRule
from tests.browser.chromium import chromium_page
from tests.browser.test_ownership_journeys import log_in
from tests.factories import SYSTEM, make_project, make_rule, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rules_weight_rows_follow_the_chosen_pool_and_save_with_it(live_server):
    project = make_project("Desk")
    make_user(project, "manager", email="manager@example.com")
    first = make_user(project, "agent", email="first@example.com")
    second = make_user(project, "agent", email="second@example.com")
    seniors = project_services.create_pool(project, "Seniors", actor=SYSTEM,
                                           members=[second.pk])
    rule = make_rule(project, name="Everyone")

    with chromium_page() as page:
        log_in(page, live_server.url, "manager@example.com")
        page.goto(f"{live_server.url}/settings/rules/{rule.pk}/")
        rows = page.locator("#per-agent tbody tr")
        expect(rows).to_have_count(2)

        page.get_by_label("Pool").select_option(label="Seniors")
        expect(page.locator("#per-agent legend")).to_have_text("Per agent (Seniors)")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(second.label)
        page.get_by_label(f"Weight of {second.label}").fill("7")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Rule saved.")).to_be_visible()

    rule = DistributionRule.objects.get(pk=rule.pk)
    assert (rule.pool_id, rule.weights) == (seniors.pk, {str(second.pk): 7})
    assert str(first.pk) not in rule.caps


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agent_marks_themselves_away_and_back_under_pools(live_server):
    project = make_project("Desk")
    agent = make_user(project, "agent", email="agent@example.com")

    with chromium_page() as page:
        log_in(page, live_server.url, "agent@example.com")
        page.goto(f"{live_server.url}/pools/")
        card = page.locator("#availability")
        flag = page.locator("header .away-flag")
        expect(card).to_contain_text("Desk: Available")
        expect(flag).to_have_count(0)

        card.get_by_role("button", name="Mark me away").click()
        expect(card).to_contain_text("You are away in Desk: automatic routing skips you.")
        expect(flag).to_have_text("Away")

        card.get_by_role("button", name="I'm back").click()
        expect(card).to_contain_text("Desk: Available")
        expect(flag).to_have_count(0)

    assert agent.memberships.get(project=project).away is False
