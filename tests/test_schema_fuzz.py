"""The API keeps its OpenAPI document: schemathesis generates requests for every operation of
`/api/openapi.json`, valid and invalid, as anonymous, an agent, a manager and an admin, and
every answer must be no server error, a documented status code with a documented content type,
and a body matching its documented schema.

Each request runs in a savepoint rolled back after it, so every one meets the same rows.
Bounded and reproducible here (FUZZ_EXAMPLES examples per operation and generation mode,
derandomized); `make fuzz` runs the same with many more."""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from leadflow.core.errors import Conflict
from leadflow.wsgi import application
from tests.factories import (
    make_bucket,
    make_campaign,
    make_field,
    make_lead,
    make_list,
    make_project,
    make_rule,
    make_user,
    token_for,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def _world(role: str) -> dict[str, str]:
    """A project with a few rows of each kind, and the headers the role sends."""
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    admin = make_user(admin=True)
    for index in range(3):
        make_lead(project, owner=agent if index else None, name=f"Lead {index}",
                  email=f"lead{index}@example.com")
    make_bucket(project)
    make_list(project)
    make_campaign(project)
    make_rule(project)
    make_field(project, "budget", type="number")
    user = {"agent": agent, "manager": manager, "admin": admin}.get(role)
    return {"Authorization": f"Bearer {token_for(user)}"} if user else {}


def _run(operation, mode, headers) -> Exception | None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck), phases=[
                             hypothesis.Phase.explicit, hypothesis.Phase.generate])
    def check(case):
        # Each request on the same world: whatever it wrote (or a failed statement that
        # aborted a PostgreSQL transaction) is rolled back before the next.
        savepoint = transaction.savepoint()
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        finally:
            transaction.savepoint_rollback(savepoint)

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together below
        return exc
    return None


@pytest.fixture
def _connection_kept():
    """The WSGI handler closes the database connection after each request, as Django's test
    client prevents: the test's transaction must survive the requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("role", ["anonymous", "agent", "manager", "admin"])
def test_every_operation_answers_as_documented(role, _connection_kept):
    headers = _world(role)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            error = _run(operation, mode, headers)
            if error is not None:
                failures.append(f"{operation.label} [{mode.value}]: {error}")

    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)


def _operation(schema, label: str):
    return next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)


def _conflict(actor):
    raise Conflict("Not now.")


@pytest.mark.parametrize("_case, broken, expected", [
    ("server_error", lambda actor: 1 / 0, "Server error"),
    ("undocumented_status", _conflict, "Undocumented status code"),
])
def test_the_fuzz_reports_what_breaks_the_contract(monkeypatch, _connection_kept, _case,
                                                   broken, expected):
    from leadflow.projects import api as projects_api

    headers = _world("admin")
    monkeypatch.setattr(projects_api, "projects_visible_to", broken)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

    error = _run(_operation(schema, "GET /api/v1/projects"), GenerationMode.POSITIVE, headers)

    assert expected in str(error)
