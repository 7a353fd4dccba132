"""Races settled by the database: one person submitted at once by many callers is one lead."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import make_project, make_user, token_for

THREADS = 16
EMAILS = ["ann.lee@example.com", "ANN.LEE@example.com", "Ann.Lee@Example.COM",
          "ann.LEE@EXAMPLE.com"]
PHONES = ["+1 212 555 0100", "(212) 555-0100", "212-555-0100", "001 212 555 0100",
          "2125550100"]


def run_at_once(work, count: int) -> list:
    """Run work(index) in `count` threads released together; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_creations_of_one_person_make_one_lead():
    project = make_project(default_region="US")
    agents = [make_user(project, "agent") for _ in range(THREADS)]
    tokens = [token_for(agent) for agent in agents]

    def create(index: int):
        body = {"name": f"Ann Lee {index}", "email": EMAILS[index % len(EMAILS)],
                "phone": PHONES[index % len(PHONES)]}
        response = Client().post("/api/v1/leads", data=json.dumps(body),
                                 content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Bearer {tokens[index]}")
        return response.status_code, response.json()

    results = run_at_once(create, THREADS)

    assert [r for r in results if not isinstance(r, tuple)] == []
    lead = Lead.objects.get()
    statuses = sorted(status for status, _body in results)
    assert statuses == [201] + [409] * (THREADS - 1)
    created = [body for status, body in results if status == 201]
    assert created[0]["id"] == lead.pk
    assert {body["duplicate_of"] for status, body in results if status == 409} == {lead.pk}
    assert (lead.email_key, lead.phones) == ("ann.lee@example.com", ["+12125550100"])
    assert sorted(DuplicateKey.objects.values_list("kind", "value", "canonical")) == [
        ("email", "ann.lee@example.com", True), ("phone", "+12125550100", True)]
    assert list(TimelineEvent.objects.values_list("kind", "lead_id")) == [
        (TimelineKind.LEAD_CREATED, lead.pk)]
