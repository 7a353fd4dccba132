"""A double click, a retry or twenty concurrent conversions of one lead make one client: the
first caller gets 201, every other one 200 with that same client."""

import json

import pytest
from django.test import Client as HttpClient

from leadflow.clients.models import Client
from leadflow.crm.models import Lead
from leadflow.routing.services.loads import recount
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import auth, make_lead, make_project, make_user
from tests.test_concurrency import run_at_once

CALLERS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_conversions_of_one_lead_make_one_client():
    project = make_project()
    agent = make_user(project, "agent")
    managers = [make_user(project, "manager") for _ in range(CALLERS - 1)]
    lead = make_lead(project, owner=agent)
    headers = [auth(agent)] + [auth(m) for m in managers]

    def convert(i: int):
        response = HttpClient().post(f"/api/v1/leads/{lead.pk}/convert", data=json.dumps({}),
                                     content_type="application/json", **headers[i])
        return response.status_code, response.json()["client"]["id"]

    results = run_at_once(convert, CALLERS)

    assert [r for r in results if not isinstance(r, tuple)] == []
    assert sorted(status for status, _ in results) == [200] * (CALLERS - 1) + [201]
    client = Client.objects.get()
    assert {client_id for _, client_id in results} == {client.pk}
    assert Lead.objects.get(pk=lead.pk).client_id == client.pk
    assert TimelineEvent.objects.filter(lead_id=lead.pk,
                                        kind=TimelineKind.LEAD_CONVERTED).count() == 1
    assert TimelineEvent.objects.filter(lead_id=lead.pk,
                                        kind=TimelineKind.STAGE_CHANGED).count() == 1
    assert TimelineEvent.objects.filter(client_id=client.pk).count() == 1
    assert recount() == 0
