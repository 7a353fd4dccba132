"""Architecture rules (STYLE §2.10), checked on the source of src/leadflow.

Each rule reads the parsed source (so comments and docstrings never trip it) and reports
every offending `path:line`. Each rule's detector is also run on a bad snippet, so a rule that
silently stopped matching would fail here too."""

from __future__ import annotations

import ast
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

import leadflow

SRC = Path(leadflow.__file__).resolve().parent

# The HTTP layer may import api/views/forms modules; nothing else may.
HTTP_MODULES = {"api.py", "views.py", "forms.py", "urls.py"}
LEAD_WRITE_FIELDS = {"owner", "owner_id", "stage", "stage_id", "status"}
# Assignments of those names that are not a lead's, each with the reason it is allowed.
ASSIGNMENT_EXEMPTIONS: dict[tuple[str, str], str] = {
    ("clients/services.py", "client.owner"): "a client's owner, changed by update_client",
}


def source_files() -> list[tuple[str, ast.Module]]:
    files = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if "/migrations/" in f"/{relative}":
            continue
        files.append((relative, ast.parse(path.read_text(), filename=relative)))
    return files


FILES = source_files()


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a Name/Attribute chain, '' otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, dotted(node.func)


# --- detectors: each returns the offending line numbers of one module ------------------------


def timeline_writes(tree: ast.AST) -> list[int]:
    bad = {"TimelineEvent", "TimelineEvent.objects.create", "TimelineEvent.objects.bulk_create",
           "TimelineEvent.objects.get_or_create", "TimelineEvent.objects.update_or_create"}
    return [node.lineno for node, name in calls(tree) if name in bad]


def lead_queries(tree: ast.AST) -> list[int]:
    return [node.lineno for node, name in calls(tree)
            if name in ("Lead.objects.get", "Lead.objects.filter")]


def http_imports(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names if alias.name.startswith("leadflow")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 0 and not base.startswith("leadflow"):
                continue
            modules = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(m.rsplit(".", 1)[-1] in ("api", "views", "forms") for m in modules):
            lines.append(node.lineno)
    return lines


def save_receivers(tree: ast.AST) -> list[int]:
    signals = {"post_save", "pre_save"}

    def mentions(node) -> bool:
        if isinstance(node, ast.Name):
            return node.id in signals
        if isinstance(node, ast.Attribute):
            return node.attr in signals
        if isinstance(node, ast.ImportFrom):
            return any(alias.name in signals for alias in node.names)
        return False

    return [node.lineno for node in ast.walk(tree) if mentions(node)]


def naive_now(tree: ast.AST) -> list[int]:
    def naive(node: ast.Call, name: str) -> bool:
        if name == "utcnow" or name.endswith(".utcnow"):
            return True
        return name.endswith("datetime.now") and not node.args and not node.keywords

    return [node.lineno for node, name in calls(tree) if naive(node, name)]


def count_equals_zero(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or len(node.ops) != 1:
            continue
        if not isinstance(node.ops[0], ast.Eq | ast.NotEq):
            continue
        sides = [node.left, node.comparators[0]]
        has_count = any(isinstance(s, ast.Call) and dotted(s.func).endswith(".count")
                        and not s.args for s in sides)
        has_zero = any(isinstance(s, ast.Constant) and s.value == 0 for s in sides)
        if has_count and has_zero:
            lines.append(node.lineno)
    return lines


def lead_field_assignments(tree: ast.AST) -> list[tuple[int, str]]:
    found = []

    def targets(target):
        if isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                yield from targets(element)
        else:
            yield target

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            candidates = [t for target in node.targets for t in targets(target)]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            candidates = list(targets(node.target))
        elif isinstance(node, ast.Call) and dotted(node.func) == "setattr" and \
                len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and \
                node.args[1].value in LEAD_WRITE_FIELDS:
            found.append((node.lineno, f"{dotted(node.args[0])}.{node.args[1].value}"))
            continue
        else:
            continue
        for target in candidates:
            if isinstance(target, ast.Attribute) and target.attr in LEAD_WRITE_FIELDS:
                found.append((target.lineno, dotted(target)))
    return found


# --- the rules on src/ -------------------------------------------------------------------------


def offenders(detector, applies) -> list[str]:
    return [f"{path}:{line}" for path, tree in FILES if applies(path)
            for line in detector(tree)]


def test_only_the_timeline_app_writes_timeline_events():
    assert offenders(timeline_writes, lambda p: not p.startswith("timeline/")) == []


def test_api_and_views_never_query_leads_directly():
    def http(path):
        return Path(path).name in ("api.py", "views.py") or "/views/" in path

    assert offenders(lead_queries, http) == []


def test_domain_modules_never_import_the_http_layer():
    assert offenders(http_imports, lambda p: Path(p).name not in HTTP_MODULES
                     and not p.startswith("web/")) == []


def test_no_save_signal_receivers():
    assert offenders(save_receivers, lambda p: True) == []


def test_no_naive_datetime_now():
    assert offenders(naive_now, lambda p: True) == []


def test_no_count_compared_with_zero():
    assert offenders(count_equals_zero, lambda p: True) == []


def test_owner_stage_and_status_are_assigned_only_in_crm_services():
    found = [
        f"{path}:{line} {target}"
        for path, tree in FILES
        if not re.fullmatch(r"crm/services[^/]*\.py|crm/services/.*\.py", path)
        for line, target in lead_field_assignments(tree)
        if (path, target) not in ASSIGNMENT_EXEMPTIONS
    ]

    assert found == []


def test_assignment_exemptions_are_still_needed():
    """An exemption whose code is gone must be removed, not left to hide a new offence."""
    present = {(path, target) for path, tree in FILES
               for _line, target in lead_field_assignments(tree)}

    assert set(ASSIGNMENT_EXEMPTIONS) <= present


# --- the detectors catch what they are meant to ------------------------------------------------


@pytest.mark.parametrize("_case, detector, snippet", [
    ("timeline_create", timeline_writes, "TimelineEvent.objects.create(kind='x')"),
    ("timeline_bulk_create", timeline_writes, "TimelineEvent.objects.bulk_create([])"),
    ("timeline_constructor", timeline_writes, "TimelineEvent(kind='x').save()"),
    ("lead_get", lead_queries, "Lead.objects.get(pk=1)"),
    ("lead_filter", lead_queries, "Lead.objects.filter(pk=1).first()"),
    ("import_api_module", http_imports, "from leadflow.crm.api import router"),
    ("import_views_package", http_imports, "from leadflow.crm import views"),
    ("import_forms_relative", http_imports, "from .forms import LeadForm"),
    ("import_statement", http_imports, "import leadflow.crm.api"),
    ("post_save", save_receivers, "from django.db.models.signals import post_save"),
    ("pre_save_receiver", save_receivers, "@receiver(signals.pre_save)\ndef f(): pass"),
    ("naive_now", naive_now, "datetime.now()"),
    ("naive_module_now", naive_now, "datetime.datetime.now()"),
    ("utcnow", naive_now, "datetime.utcnow()"),
    ("count_zero", count_equals_zero, "if qs.count() == 0: pass"),
    ("zero_count", count_equals_zero, "ok = 0 != leads.count()"),
    ("owner_assigned", lead_field_assignments, "lead.owner = user"),
    ("stage_in_tuple", lead_field_assignments, "lead.stage, x = s, 1"),
    ("status_setattr", lead_field_assignments, "setattr(lead, 'status', 'LOST')"),
    ("owner_id_assigned", lead_field_assignments, "lead.owner_id = 3"),
])
def test_detector_catches(_case, detector, snippet):
    assert detector(ast.parse(snippet)) != []


@pytest.mark.parametrize("_case, detector, snippet", [
    ("timeline_read", timeline_writes, "TimelineEvent.objects.filter(lead_id=1)"),
    ("visible_leads", lead_queries, "leads_visible_to(actor).get(pk=1)"),
    ("import_api_helpers_from_django", http_imports, "from django.contrib.auth import views"),
    ("import_services", http_imports, "from leadflow.crm import services"),
    ("aware_now", naive_now, "datetime.now(UTC)"),
    ("django_now", naive_now, "timezone.now()"),
    ("exists", count_equals_zero, "if not qs.exists(): pass"),
    ("conditional_update", lead_field_assignments, "Lead.objects.filter(pk=1).update(owner=u)"),
    ("comparison", lead_field_assignments, "same = lead.owner == user"),
])
def test_detector_lets_pass(_case, detector, snippet):
    assert detector(ast.parse(snippet)) == []


# --- migrations ----------------------------------------------------------------------------------


def test_migration_names_are_descriptive():
    names = sorted(p.name for p in SRC.glob("*/migrations/*.py") if p.name != "__init__.py")

    assert names
    assert [n for n in names if "_auto_" in n or not re.fullmatch(r"\d{4}_[a-z0-9_]+\.py", n)] \
        == []


def test_models_and_migrations_agree():
    out = StringIO()

    call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out)

    assert "No changes detected" in out.getvalue()
