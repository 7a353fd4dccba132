"""The Content-Security-Policy: on every response of every UI route, looser only where a page is
meant to be framed (the public web forms), and no template or HTML-building code with inline
scripts, styles, event handlers or eval-needing htmx attributes, so that none can come back."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

import leadflow
from leadflow.accounts.models import Notification, User
from leadflow.clients.models import Client
from leadflow.core.middleware import CONTENT_SECURITY_POLICY
from leadflow.crm.models import Lead
from leadflow.demo import seed_demo
from leadflow.imports.models import Import
from leadflow.intake.models import Bucket, PossibleDuplicate, Submission
from leadflow.jobs.models import Job
from leadflow.lists.models import Campaign, LeadList
from leadflow.projects import services as project_services
from leadflow.projects.models import FieldDefinition, LostReason, Pool, Project, Source, Stage
from leadflow.routing.models import DistributionRule, Group, Offer, Office
from leadflow.tags.models import ChangeRequest, Tag, TagRule
from tests.factories import SYSTEM, make_user

SRC = Path(leadflow.__file__).resolve().parent
STRICT = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
EMBEDDABLE = STRICT.replace("frame-ancestors 'none'", "frame-ancestors *")


def test_the_policy_is_the_strict_one():
    assert CONTENT_SECURITY_POLICY == STRICT
    assert "unsafe" not in CONTENT_SECURITY_POLICY


# --- the header on every route -----------------------------------------------------------------


def routes() -> list[tuple[str, URLPattern]]:
    """Every named route with its namespaced name, the JSON API's own routes left out (they are
    covered by one request below)."""
    found = []

    def walk(resolver, namespace):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = entry.namespace or namespace
                if inner == "api":
                    continue
                walk(entry, f"{namespace}:{entry.namespace}".strip(":") if entry.namespace
                     else namespace)
            elif entry.name:
                found.append((f"{namespace}:{entry.name}".lstrip(":"), entry))

    walk(get_resolver(), "")
    return found


def first(queryset) -> int:
    row = queryset.order_by("pk").first()
    return row.pk if row is not None else 999_999


def arguments(name: str, pattern: URLPattern, project: Project) -> dict:
    """A real object's id for each parameter, so that the walk reaches the pages themselves."""
    in_project = {
        "lead_id": Lead.objects.filter(project=project),
        "project_id": Project.objects.filter(pk=project.pk),
        "user_id": User.objects.filter(email="agent1@example.com"),
        "source_id": Source.objects.filter(project=project, form_enabled=True),
        "pool_id": Pool.objects.filter(project=project),
        "stage_id": Stage.objects.filter(project=project),
        "definition_id": FieldDefinition.objects.filter(project=project),
        "office_id": Office.objects.filter(project=project),
        "group_id": Group.objects.filter(project=project),
        "rule_id": (TagRule if name.startswith("config:tag_rule") else DistributionRule)
        .objects.filter(project=project),
        "tag_id": Tag.objects.filter(project=project),
        "list_id": LeadList.objects.filter(project=project),
        "campaign_id": Campaign.objects.filter(project=project),
        "bucket_id": Bucket.objects.filter(project=project),
        "submission_id": Submission.objects.all(),
        "pair_id": PossibleDuplicate.objects.all(),
        "offer_id": Offer.objects.all(),
        "notification_id": Notification.objects.all(),
        "request_id": ChangeRequest.objects.all(),
        "client_id": Client.objects.all(),
        "export_id": Job.objects.all(),
        "import_id": Import.objects.all(),
        "entry_id": LostReason.objects.filter(project=project),
    }
    fixed = {"kind": "lost-reasons", "name": "missing.csv", "project_slug": project.slug}
    values = {}
    for parameter in pattern.pattern.converters:
        values[parameter] = (fixed[parameter] if parameter in fixed
                             else first(in_project[parameter]))
    return values


# Pages the walk must reach as real pages (200), so a walk that only met 404s would fail.
REACHED = {
    "crm:lead_list", "crm:lead_create", "crm:lead_detail", "crm:lead_edit",
    "config:index", "config:project_list", "config:members", "config:sources", "config:pools",
    "config:stages", "config:rules", "config:tags", "config:tag_rules", "config:lists",
    "config:campaigns", "config:system", "config:users", "config:user_edit",
    "intake:bucket_list", "intake:bucket_detail", "intake:duplicate_list", "work:offer_inbox",
    "work:pool_list", "work:pool_detail", "work:notifications", "tags:approvals",
    "clients:client_list", "clients:client_detail", "pipeline:board", "pipeline:my_day",
    "pipeline:choices", "webforms:form", "webforms:thanks",
    "retirement:retired_list", "exports:export_list", "imports:import_list",
}


def demo_with_a_web_form() -> Project:
    seed_demo(leads=12)
    project = Project.objects.get(slug="demo")
    website = Source.objects.get(project=project, name="Website")
    bucket = Bucket.objects.filter(project=project).order_by("pk").first()
    project_services.update_source(website, actor=SYSTEM, form_enabled=True, form_bucket=bucket.pk)
    return project


def test_every_ui_route_answers_with_the_policy(client):
    project = demo_with_a_web_form()
    client.force_login(User.objects.get(email="admin@example.com"))
    answered: dict[str, int] = {}
    missing = []

    for name, pattern in routes():
        if name == "logout":
            continue  # it would end the session the walk runs in
        url = reverse(name, kwargs=arguments(name, pattern, project))
        response = client.get(url)
        answered[name] = response.status_code
        wanted = EMBEDDABLE if name.startswith("webforms:") else STRICT
        if response.get("Content-Security-Policy") != wanted:
            missing.append(f"{name} {url} {response.status_code}")

    assert missing == []
    assert {name for name, status in answered.items() if status >= 500} == set()
    assert REACHED - {name for name, status in answered.items() if status == 200} == set()


def test_anonymous_pages_and_the_api_carry_the_policy(client):
    for response in (client.get(reverse("login")), client.get("/leads/"),
                     client.get("/api/v1/leads"), client.get("/no-such-page/")):
        assert response["Content-Security-Policy"] == STRICT


def test_with_debug_on_djangos_debug_pages_go_without_the_policy(client, settings):
    settings.DEBUG = True
    make_user(email="agent@example.com")
    client.force_login(User.objects.get(email="agent@example.com"))

    missing = client.get("/no-such-page/")
    page = client.get(reverse("pipeline:my_day"))

    assert missing.status_code == 404
    assert "Content-Security-Policy" not in missing
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == STRICT


def test_public_web_forms_may_be_framed_by_any_site_and_keep_the_rest(client):
    project = demo_with_a_web_form()
    source = Source.objects.get(project=project, name="Website")

    form = client.get(reverse("webforms:form", args=["demo", source.pk]))
    thanks = client.get(reverse("webforms:thanks", args=["demo", source.pk]))
    login_page = client.get(reverse("login"))

    for response in (form, thanks):
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == EMBEDDABLE
        assert "X-Frame-Options" not in response
    assert login_page["X-Frame-Options"] == "DENY"


def test_api_docs_run_under_the_strict_policy(client):
    response = client.get(reverse("api_docs"))

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == STRICT
    assert inline_code(response.content.decode(), "api/docs") == []


# --- no inline code in templates or HTML built in Python ----------------------------------------


class InlineCode(HTMLParser):
    """Collects what the policy would refuse: inline <script> (data blocks of type
    application/json are not run and stay allowed), <style>, style="", on*="" handlers,
    javascript: addresses, and htmx attributes that evaluate code."""

    def __init__(self, where: str):
        super().__init__(convert_charrefs=True)
        self.where = where
        self.found: list[str] = []

    def report(self, what: str) -> None:
        self.found.append(f"{self.where}:{self.getpos()[0]}: {what}")

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.report("inline <script>")
        if tag == "style":
            self.report("<style> block")
        for name, value in attrs:
            value = (value or "").strip()
            if name == "style":
                self.report("style attribute")
            elif re.fullmatch(r"on[a-z]+", name):
                self.report(f"{name} handler")
            elif re.match(r"(data-)?hx-on", name):
                self.report(f"{name} (htmx evaluates it)")
            elif name in ("hx-trigger", "data-hx-trigger") and "[" in value:
                self.report("hx-trigger filter expression (htmx evaluates it)")
            elif name in ("hx-vals", "hx-headers", "hx-vars") and re.match(r"(js|javascript):",
                                                                            value):
                self.report(f"{name} with code")
            elif value.lower().startswith("javascript:"):
                self.report(f"javascript: in {name}")


TEMPLATE_SYNTAX = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def inline_code(html: str, where: str) -> list[str]:
    """What the policy would refuse in a page or template; template tags and comments count as
    a space, so an attribute behind `{% if %}` is still seen (line numbers stay right)."""
    parser = InlineCode(where)
    parser.feed(TEMPLATE_SYNTAX.sub(lambda m: " " + "\n" * m.group().count("\n"), html))
    parser.close()
    return parser.found


BAD_SNIPPETS = [
    '<script>alert(1)</script>',
    '<style>p{color:red}</style>',
    '<p style="color:red">x</p>',
    '<button onclick="go()">Go</button>',
    '<a href="javascript:go()">Go</a>',
    '<button hx-on:click="go()">Go</button>',
    '<button hx-on::after-request="go()">Go</button>',
    '<form hx-trigger="change[target.name!=\'q\']"></form>',
    '<div hx-vals=\'js:{a: go()}\'></div>',
    '<div {% if x %}style="display:none"{% endif %}></div>',
]


@pytest.mark.parametrize("snippet", BAD_SNIPPETS)
def test_the_inline_code_detector_finds_each_kind(snippet):
    assert len(inline_code(snippet, "snippet")) == 1


def test_the_inline_code_detector_lets_static_files_and_data_through():
    allowed = ('<script src="/static/leadflow/app.js" defer></script>'
               '<script type="application/json" id="s">{"a": 1}</script>'
               '<link rel="stylesheet" href="/static/leadflow/app.css">'
               '<form hx-trigger="submit, filters-changed" hx-headers=\'{"X-CSRFToken": "t"}\'>'
               '<textarea>&lt;iframe style="border:0"&gt;&lt;/iframe&gt;</textarea></form>')

    assert inline_code(allowed, "snippet") == []


def test_no_template_has_inline_scripts_styles_or_handlers():
    templates = sorted(SRC.rglob("templates/**/*.html"))
    found = [line for path in templates
             for line in inline_code(path.read_text(), path.relative_to(SRC).as_posix())]

    assert len(templates) > 100
    assert found == []


# Event handler attribute names (a plain "on..." word such as "one" is not one).
HANDLER = (r"on(?:click|dblclick|change|submit|input|load|error|focus|blur|reset|select|invalid"
           r"|toggle|scroll|wheel|drop|key[a-z]+|mouse[a-z]+|pointer[a-z]+|touch[a-z]+|drag[a-z]*)")
HTML_IN_PYTHON = re.compile(
    rf"<script(?![^>]*\bsrc=)|<style|\sstyle=|\s{HANDLER}=|javascript:|hx-on", re.IGNORECASE)


def html_in_python(source: str, where: str) -> list[str]:
    """String constants that would write inline code into a page, and widget attribute dicts
    with style or on* keys."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if HTML_IN_PYTHON.search(node.value):
                found.append(f"{where}:{node.lineno}: {node.value[:60]!r}")
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                        and re.fullmatch(rf"style|{HANDLER}|hx-on.*", key.value)):
                    found.append(f"{where}:{key.lineno}: attribute {key.value!r}")
    return found


def test_the_python_detector_finds_markup_and_widget_attributes():
    bad = ('format_html(\'<span style="color:{}">x</span>\', c)\n'
           'attrs = {"onchange": "this.form.submit()"}\n'
           'mark_safe("<script>go()</script>")\n')

    assert len(html_in_python(bad, "snippet")) == 3
    assert html_in_python('x = {"hx-trigger": "change", "class": "a"}\n', "snippet") == []


def test_no_python_code_writes_inline_scripts_styles_or_handlers():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if "/migrations/" in f"/{relative}":
            continue
        found += html_in_python(path.read_text(), relative)

    assert found == []
