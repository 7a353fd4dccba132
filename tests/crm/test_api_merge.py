import json

from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import auth, make_lead, make_project, make_user


def _merge(client, user, lead_id, into_id):
    return client.post(f"/api/v1/leads/{lead_id}/merge", json.dumps({"into": into_id}),
                       content_type="application/json", **auth(user))


def test_manager_merges_a_lead_and_repeating_it_answers_the_survivor(client):
    project = make_project()
    manager = make_user(project, "manager")
    survivor = make_lead(project, email="kim@example.com", phones=["+12125550101"])
    other = make_lead(project, email="kim.work@example.com", phones=["+12125550102"])

    first = _merge(client, manager, other.pk, survivor.pk)
    again = _merge(client, manager, other.pk, survivor.pk)

    assert first.status_code == 200
    assert first.json()["phones"] == ["+12125550101", "+12125550102"]
    assert again.status_code == 200
    assert again.json()["id"] == survivor.pk
    assert Lead.objects.get(pk=other.pk).merged_into_id == survivor.pk
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEADS_MERGED,
                                        lead_id=survivor.pk).count() == 1


def test_agent_cannot_merge_and_nothing_changes(client):
    project = make_project()
    agent = make_user(project, "agent")
    survivor = make_lead(project, owner=agent)
    other = make_lead(project, owner=agent)

    response = _merge(client, agent, other.pk, survivor.pk)

    assert response.status_code == 403
    assert Lead.objects.get(pk=other.pk).merged_into_id is None
    assert not TimelineEvent.objects.filter(kind=TimelineKind.LEADS_MERGED).exists()
