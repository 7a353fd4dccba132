"""Bulk actions over ids or a filter: each lead through its own service call, a per-lead report,
and a resumable job when the filter matches more leads than one request handles."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow.crm.models import Lead
from leadflow.crm.services import ownership
from leadflow.jobs.models import Job, JobState
from leadflow.jobs.services import resume_stalled_jobs, run_job
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, auth, event_count, make_lead


def bulk(client, user, body):
    return client.post("/api/v1/leads/bulk", data=json.dumps(body),
                       content_type="application/json", **auth(user))


def test_bulk_assign_by_ids_reports_done_skipped_and_errors(client):
    w = World()
    unowned = [make_lead(w.project) for _ in range(2)]
    already = make_lead(w.project, owner=w.other_agent)

    response = bulk(client, w.manager, {
        "action": "assign", "ids": [unowned[0].pk, unowned[1].pk, already.pk, 999999],
        "params": {"owner": w.other_agent.pk, "note": "Campaign follow-up"}})

    assert response.status_code == 200
    assert response.json() == {"done": 2, "skipped": 1, "errors": [
        {"lead": 999999, "code": "not_found", "detail": "Lead not found."}]}
    assert set(Lead.objects.filter(pk__in=[u.pk for u in unowned])
               .values_list("owner_id", flat=True)) == {w.other_agent.pk}
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_ASSIGNED,
                                        reason="Campaign follow-up").count() == 2


def test_bulk_assign_to_someone_outside_the_pool_fails_per_lead(client):
    w = World()
    lead = make_lead(w.project)

    response = bulk(client, w.manager, {"action": "assign", "ids": [lead.pk],
                                        "params": {"owner": w.manager.pk}})

    assert response.status_code == 200
    assert response.json()["errors"][0]["code"] == "not_in_pool"
    assert Lead.objects.get(pk=lead.pk).owner_id is None


def test_agents_get_a_refusal_per_lead_and_nothing_changes(client):
    w = World()
    events = event_count()

    response = bulk(client, w.agent, {"action": "unassign", "ids": [w.own_lead.pk]})

    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"lead": w.own_lead.pk, "code": "forbidden", "detail": "Only a manager may do this."}]
    assert Lead.objects.get(pk=w.own_lead.pk).owner_id == w.agent.pk
    assert event_count() == events


@pytest.mark.parametrize("body, field", [
    ({"action": "assign", "params": {"owner": 1}}, "ids"),
    ({"action": "explode", "ids": [1]}, "action"),
    ({"action": "unassign", "ids": list(range(1, 1002))}, "ids"),
    ({"action": "unassign", "filter": {"colour": "red"}}, "filter"),
])
def test_bad_bulk_requests_are_400(client, body, field):
    w = World()

    response = bulk(client, w.manager, body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_a_small_filter_is_answered_at_once(client):
    w = World()

    response = bulk(client, w.manager, {"action": "unassign",
                                        "filter": {"owner": w.agent.pk}})

    assert response.status_code == 200
    assert response.json() == {"done": 1, "skipped": 0, "errors": []}
    assert Lead.objects.get(pk=w.own_lead.pk).owner_id is None


def test_a_large_filter_becomes_a_job_that_reports_progress(client, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    monkeypatch.setattr(ownership, "BULK_LIMIT", 2)
    monkeypatch.setattr(ownership, "JOB_CHUNK", 2)
    w = World()
    for _ in range(3):
        make_lead(w.project, owner=w.agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(client, w.manager, {"action": "unassign",
                                            "filter": {"owner": w.agent.pk}})

    assert response.status_code == 202
    job_id = response.json()["job"]
    job = client.get(f"/api/v1/jobs/{job_id}", **auth(w.manager)).json()
    assert (job["kind"], job["state"], job["progress"]["done"], job["counts"]) == (
        "bulk_leads", "done", 4, {"done": 4, "skipped": 0, "errors": 0})
    assert not Lead.objects.filter(owner=w.agent).exists()
    assert client.get(f"/api/v1/jobs/{job_id}", **auth(w.agent)).status_code == 404


def test_a_stalled_job_is_resumed_where_it_stopped(monkeypatch):
    monkeypatch.setattr(ownership, "JOB_CHUNK", 2)
    w = World()
    leads = [make_lead(w.project, owner=w.agent) for _ in range(3)]
    first_two = sorted(lead.pk for lead in [w.own_lead, *leads])[:2]
    from leadflow.crm.filters import LeadFilters
    from tests.factories import as_actor

    filters = LeadFilters(owner=w.agent.pk)
    monkeypatch.setattr(ownership, "BULK_LIMIT", 1)
    job = ownership.start_bulk_job("unassign", filters, {}, actor=as_actor(w.manager))
    monkeypatch.setattr(ownership, "BULK_LIMIT", 1000)
    # a worker did the first chunk, then died
    Lead.objects.filter(pk__in=first_two).update(owner=None)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, cursor=first_two[-1],
                                         progress=2, counts={"done": 2},
                                         heartbeat_at=timezone.now() - timedelta(minutes=5))

    assert resume_stalled_jobs() == 1
    job.refresh_from_db()
    assert (job.state, job.progress, job.counts["done"]) == (JobState.DONE, 4, 4)
    assert not Lead.objects.filter(owner=w.agent).exists()
    assert run_job(job.pk) is None  # done: nobody takes it again
