"""The UI under its strict Content-Security-Policy, in a real browser: an admin, a manager and an
agent open every page of their navigation and the screens behind it (a lead, a bucket, the
settings, the pipeline, My day, imports, the API docs, a public web form) over the demo project;
the browser reports no refused script, style or eval and no script error, and the scripted parts
still work (a filter reloads the list through htmx, select-all counts, an activity is logged)."""

import re

import pytest
from playwright.sync_api import expect

from leadflow.crm.models import Lead
from leadflow.demo import DEMO_PASSWORD, seed_demo
from leadflow.intake.models import Bucket
from leadflow.lists.models import Campaign, LeadList
from leadflow.projects import services as project_services
from leadflow.projects.models import Pool, Project, Source
from leadflow.routing.models import DistributionRule
from tests.browser.chromium import chromium_page
from tests.factories import SYSTEM

# Runs before any page script: records what the policy refused, page by page.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                              + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


class Watch:
    """Visits pages and keeps every refusal (from the page's listener and from the console)
    and every uncaught script error, each with the page it happened on."""

    def __init__(self, page, url):
        self.page, self.url = page, url
        self.problems: list[str] = []
        self.visited = 0
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: error {error}"))

    def _console(self, message):
        if "Content Security Policy" in message.text or message.text.startswith("Refused"):
            self.problems.append(f"{self.page.url}: console {message.text}")

    def collect(self):
        for violation in self.page.evaluate("window.__cspViolations || []"):
            self.problems.append(f"{self.page.url}: {violation}")

    def visit(self, path: str):
        response = self.page.goto(self.url + path)
        assert response.status == 200, f"{path} answered {response.status}"
        self.visited += 1
        self.collect()

    def log_in(self, email: str):
        self.page.goto(f"{self.url}/login/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("button", name="Log out")).to_be_visible()
        self.collect()

    def log_out(self):
        self.page.goto(f"{self.url}/my-day/")  # the last page may be the public form
        self.page.get_by_role("button", name="Log out").click()
        expect(self.page.get_by_role("button", name="Log in")).to_be_visible()

    def navigation(self) -> list[str]:
        links = self.page.locator('nav[aria-label="Main"] a, a.bell')
        return sorted(set(links.evaluate_all("links => links.map(a => a.getAttribute('href'))")))


def demo_world() -> dict:
    seed_demo(leads=12)
    project = Project.objects.get(slug="demo")
    website = Source.objects.get(project=project, name="Website")
    bucket = Bucket.objects.filter(project=project).order_by("pk").first()
    project_services.update_source(website, actor=SYSTEM, form_enabled=True, form_bucket=bucket.pk)
    agents_lead = Lead.objects.filter(project=project, owner__email="agent1@example.com").order_by(
        "pk").first()
    unowned = Lead.objects.filter(project=project).unassigned().order_by("pk").first()
    rule = DistributionRule.objects.filter(project=project).order_by("pk").first()
    lead_list = LeadList.objects.filter(project=project).order_by("pk").first()
    campaign = Campaign.objects.filter(project=project).order_by("pk").first()
    p = project.pk
    settings_pages = [
        "/settings/", f"/settings/projects/{p}/members/",
        f"/settings/projects/{p}/sources/", f"/settings/sources/{website.pk}/",
        f"/settings/projects/{p}/pools/", f"/settings/projects/{p}/stages/",
        f"/settings/projects/{p}/fields/", f"/settings/projects/{p}/offices/",
        f"/settings/projects/{p}/groups/", f"/settings/projects/{p}/rules/",
        f"/settings/rules/{rule.pk}/", f"/settings/projects/{p}/tags/",
        f"/settings/projects/{p}/tag-rules/", f"/settings/projects/{p}/lists/",
        f"/settings/projects/{p}/campaigns/", f"/settings/projects/{p}/lost-reasons/",
        f"/settings/projects/{p}/call-outcomes/",
    ]
    if lead_list is not None:
        settings_pages.append(f"/settings/lists/{lead_list.pk}/")
    if campaign is not None:
        settings_pages.append(f"/settings/campaigns/{campaign.pk}/")
    return {
        "project": project, "bucket": bucket, "agents_lead": agents_lead, "unowned": unowned,
        "settings": settings_pages, "admin_only": [f"/settings/projects/{p}/"],
        "work": [f"/leads/{agents_lead.pk}/", f"/buckets/{bucket.pk}/", "/pipeline/", "/my-day/",
                 "/imports/", "/exports/new/", f"/f/{project.slug}/{website.pk}/"],
        "pool": Pool.objects.filter(project=project, is_default=True).get().pk,
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_every_page_runs_under_the_strict_policy(live_server):
    world = demo_world()
    agents_lead, unowned = world["agents_lead"], world["unowned"]

    with chromium_page() as page:
        watch = Watch(page, live_server.url)

        # The admin: every navigation link, the project's settings, the work screens, API docs.
        watch.log_in("admin@example.com")
        admin_links = watch.navigation()
        assert {"/settings/", "/settings/system/", "/settings/users/", "/my-day/", "/pipeline/",
                "/imports/", "/buckets/"} <= set(admin_links)
        for path in admin_links + world["admin_only"] + world["settings"] + world["work"]:
            watch.visit(path)
        watch.visit("/api/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Leadflow API")
        watch.collect()

        # A filter change reloads the list through htmx (no eval-based trigger) and pushes it.
        watch.visit("/leads/")
        results = page.locator("#lead-results")
        expect(results.locator(f'a[href="/leads/{agents_lead.pk}/"]')).to_be_visible()
        page.get_by_label("Unassigned only").check()
        expect(page).to_have_url(re.compile(r"/leads/\?.*unassigned=on"))
        expect(results.locator(f'a[href="/leads/{agents_lead.pk}/"]')).to_have_count(0)
        expect(results.locator(f'a[href="/leads/{unowned.pk}/"]')).to_be_visible()
        # Select all on the page ticks every row and says how many.
        rows = results.locator('input[name="ids"]').count()
        page.get_by_label("Select all on page").check()
        expect(page.locator("[data-selected-count]")).to_have_text(f"{rows} selected")
        watch.collect()
        watch.log_out()

        # The manager: navigation, the project's settings and work screens.
        watch.log_in("manager@example.com")
        manager_links = watch.navigation()
        assert "/settings/" in manager_links and "/settings/system/" not in manager_links
        for path in manager_links + world["settings"] + world["work"]:
            watch.visit(path)
        watch.log_out()

        # The agent: navigation, their pool and their lead, where they log a note through htmx.
        watch.log_in("agent1@example.com")
        agent_links = watch.navigation()
        assert "/settings/" not in agent_links
        for path in [*agent_links, f"/pools/{world['pool']}/", "/pipeline/", "/my-day/"]:
            watch.visit(path)
        watch.visit(f"/leads/{agents_lead.pk}/")
        panel = page.locator("#activities")
        panel.get_by_label("Kind").select_option("note")
        panel.get_by_label("Note").fill("Asked for the brochure in German")
        panel.get_by_role("button", name="Log activity").click()
        expect(panel.locator(".activity").first).to_contain_text("Asked for the brochure in German")
        watch.collect()

    assert watch.problems == []
    assert watch.visited >= 60
