"""log_activity and schedule_next_call: who may, what they validate, last activity, freshness
and the timeline rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow.activities import services
from leadflow.activities.models import Activity
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm
from leadflow.crm.filters import fresh_q
from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.projects.models import CallOutcome
from leadflow.timeline.models import TimelineKind
from tests.factories import World, as_actor, events_of, lead_snapshot, stage_named


def codes(exc) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in exc.value.errors]


def test_owner_logs_a_call_which_refreshes_last_activity_and_ends_freshness():
    w = World()
    assert Lead.objects.filter(fresh_q(), pk=w.own_lead.pk).exists()

    activity = services.log_activity(w.own_lead, "call", actor=as_actor(w.agent),
                                     outcome="no answer", duration_seconds=0,
                                     body="Rang twice")

    stored = Activity.objects.get(pk=activity.pk)
    assert (stored.kind, stored.outcome.name, stored.duration_seconds, stored.body,
            stored.actor_id) == ("call", "No answer", 0, "Rang twice", w.agent.pk)
    lead = Lead.objects.get(pk=w.own_lead.pk)
    assert lead.last_activity_at == stored.occurred_at
    assert not Lead.objects.filter(fresh_q(), pk=lead.pk).exists()
    assert events_of(lead.pk)[-1] == (
        TimelineKind.ACTIVITY_LOGGED, w.agent.pk, "api", None,
        {"activity": activity.pk, "kind": "call", "outcome": "No answer",
         "duration_seconds": 0},
    )


@pytest.mark.parametrize("kind,body", [("note", "Prefers mornings"), ("email", "")])
def test_notes_and_emails_are_meaningful_too(kind, body):
    w = World()

    services.log_activity(w.own_lead, kind, actor=as_actor(w.manager), body=body)

    assert Lead.objects.get(pk=w.own_lead.pk).last_activity_at is not None
    assert events_of(w.own_lead.pk)[-1][0] == TimelineKind.ACTIVITY_LOGGED


@pytest.mark.parametrize("who", ["other_agent", "viewer"])
def test_an_agent_cannot_log_on_someone_elses_lead(who):
    w = World()
    before = lead_snapshot(w.own_lead.pk)

    with pytest.raises(PermissionDenied):
        services.log_activity(w.own_lead, "note", actor=as_actor(getattr(w, who)), body="x")

    assert lead_snapshot(w.own_lead.pk) == before
    assert not Activity.objects.exists()


@pytest.mark.parametrize("kind,options,expected", [
    ("call", {"outcome": "Sang a song"}, [("outcome", "invalid")]),
    ("call", {"duration_seconds": -1}, [("duration_seconds", "out_of_range")]),
    ("note", {}, [("body", "required")]),
    ("note", {"body": "x", "outcome": "Busy"}, [("outcome", "not_a_call")]),
    ("email", {"duration_seconds": 30}, [("duration_seconds", "not_a_call")]),
    ("fax", {}, [("kind", "invalid")]),
])
def test_bad_activities_are_refused_with_field_errors(kind, options, expected):
    w = World()

    with pytest.raises(ValidationFailed) as exc:
        services.log_activity(w.own_lead, kind, actor=as_actor(w.agent), **options)

    assert codes(exc) == expected
    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=w.own_lead.pk).last_activity_at is None


def test_an_inactive_or_foreign_outcome_is_refused():
    w = World()
    busy = CallOutcome.objects.get(project=w.project, name="Busy")
    project_services.update_call_outcome(busy, actor=as_actor(w.manager), active=False)
    foreign = CallOutcome.objects.get(project=w.other_project, name="Answered")

    for outcome in ("Busy", foreign.pk):
        with pytest.raises(ValidationFailed) as exc:
            services.log_activity(w.own_lead, "call", actor=as_actor(w.agent), outcome=outcome)
        assert codes(exc) == [("outcome", "invalid")]


def test_owner_schedules_then_clears_the_next_call():
    w = World()
    when = timezone.now() + timedelta(days=1)

    services.schedule_next_call(w.own_lead, when, actor=as_actor(w.agent))
    services.schedule_next_call(w.own_lead, when, actor=as_actor(w.agent))  # no change
    services.schedule_next_call(w.own_lead, None, actor=as_actor(w.agent))

    assert Lead.objects.get(pk=w.own_lead.pk).next_call_at is None
    rows = [e for e in events_of(w.own_lead.pk) if e[0] == TimelineKind.NEXT_CALL_SET]
    assert rows == [
        (TimelineKind.NEXT_CALL_SET, w.agent.pk, "api", {"next_call_at": None},
         {"next_call_at": when.isoformat()}),
        (TimelineKind.NEXT_CALL_SET, w.agent.pk, "api", {"next_call_at": when.isoformat()},
         {"next_call_at": None}),
    ]
    # A plan is not work done: last activity stays as it was.
    assert Lead.objects.get(pk=w.own_lead.pk).last_activity_at is None


def test_a_next_call_in_the_past_is_refused():
    w = World()

    with pytest.raises(ValidationFailed) as exc:
        services.schedule_next_call(w.own_lead, timezone.now() - timedelta(minutes=1),
                                    actor=as_actor(w.agent))

    assert codes(exc) == [("next_call_at", "in_past")]
    assert Lead.objects.get(pk=w.own_lead.pk).next_call_at is None


def test_a_lost_lead_gets_no_next_call_but_a_manager_schedules_any_open_lead():
    w = World()
    crm.set_stage(w.other_lead, stage_named(w.project, "Lost"), actor=as_actor(w.manager),
                  lost_reason="Other")
    soon = timezone.now() + timedelta(hours=2)

    with pytest.raises(Conflict):
        services.schedule_next_call(Lead.objects.get(pk=w.other_lead.pk), soon,
                                    actor=as_actor(w.manager))
    services.schedule_next_call(w.own_lead, soon, actor=as_actor(w.manager))

    assert Lead.objects.get(pk=w.own_lead.pk).next_call_at == soon


def test_an_agent_cannot_schedule_on_someone_elses_lead():
    w = World()

    with pytest.raises(PermissionDenied):
        services.schedule_next_call(w.other_lead, timezone.now() + timedelta(days=1),
                                    actor=as_actor(w.agent))
