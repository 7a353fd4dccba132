"""set_stage: who may move a lead where, derived status, and the STAGE_CHANGED row."""

import pytest

from leadflow.core.errors import PermissionDenied, ValidationFailed
from leadflow.crm import services
from leadflow.crm.models import Lead
from leadflow.projects import services as project_services
from leadflow.timeline.models import TimelineKind
from tests.factories import (
    SYSTEM,
    as_actor,
    events_of,
    lead_snapshot,
    make_lead,
    make_project,
    make_user,
    stage_named,
)


def agent_lead(stage_name: str | None = None):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, actor=as_actor(agent))
    if stage_name:
        lead = services.set_stage(lead, stage_named(project, stage_name), actor=SYSTEM,
                                  lost_reason="Other" if stage_name == "Lost" else "")
    return project, agent, lead


def test_agent_moves_their_lead_forward():
    project, agent, lead = agent_lead()

    lead = services.set_stage(lead, stage_named(project, "Qualified"), actor=as_actor(agent))

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.stage.name, stored.status) == ("Qualified", "QUALIFIED")
    assert events_of(lead.pk)[1:] == [(
        TimelineKind.STAGE_CHANGED, agent.pk, "api",
        {"stage": "New", "status": "NOT_CONTACTED"},
        {"stage": "Qualified", "status": "QUALIFIED"},
    )]


def test_agent_cannot_move_backwards():
    project, agent, lead = agent_lead("Qualified")
    before = lead_snapshot(lead.pk)

    with pytest.raises(PermissionDenied):
        services.set_stage(lead, stage_named(project, "Contacted"), actor=as_actor(agent))

    assert lead_snapshot(lead.pk) == before
    assert len(events_of(lead.pk)) == 2


def test_agent_cannot_leave_a_terminal_stage():
    project, agent, lead = agent_lead("Converted")

    with pytest.raises(PermissionDenied):
        services.set_stage(lead, stage_named(project, "Qualified"), actor=as_actor(agent))

    assert Lead.objects.get(pk=lead.pk).status == "CONVERTED"


def test_agent_converts_their_lead():
    project, agent, lead = agent_lead("Contacted")

    services.set_stage(lead, stage_named(project, "Converted"), actor=as_actor(agent))

    assert Lead.objects.get(pk=lead.pk).status == "CONVERTED"


def test_lost_needs_a_reason():
    project, agent, lead = agent_lead()

    with pytest.raises(ValidationFailed) as exc:
        services.set_stage(lead, stage_named(project, "Lost"), actor=as_actor(agent),
                           lost_reason="   ")

    assert [(e.field, e.code) for e in exc.value.errors] == [("lost_reason", "required")]
    assert Lead.objects.get(pk=lead.pk).status == "NOT_CONTACTED"
    assert len(events_of(lead.pk)) == 1


def test_agent_moves_to_lost_with_a_reason():
    project, agent, lead = agent_lead("Qualified")

    services.set_stage(lead, stage_named(project, "Lost"), actor=as_actor(agent),
                       lost_reason="chose a competitor", reason="call on Monday")

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.status, stored.lost_reason) == ("LOST", "Chose a competitor")
    kind, actor_id, channel, before, after = events_of(lead.pk)[-1]
    assert (kind, actor_id, channel) == (TimelineKind.STAGE_CHANGED, agent.pk, "api")
    assert before == {"stage": "Qualified", "status": "QUALIFIED", "lost_reason": ""}
    assert after == {"stage": "Lost", "status": "LOST", "lost_reason": "Chose a competitor"}


def test_stage_reason_is_kept_on_the_event():
    project, agent, lead = agent_lead()

    services.set_stage(lead, stage_named(project, "Contacted"), actor=as_actor(agent),
                       reason="Picked up")

    from leadflow.timeline.models import TimelineEvent

    assert TimelineEvent.objects.get(kind=TimelineKind.STAGE_CHANGED).reason == "Picked up"


def test_manager_moves_a_lead_anywhere_and_lost_reason_is_cleared():
    project, _agent, lead = agent_lead("Lost")
    manager = make_user(project, "manager")

    services.set_stage(lead, stage_named(project, "New"), actor=as_actor(manager, "ui"))

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.stage.name, stored.status, stored.lost_reason) == ("New", "NOT_CONTACTED", "")
    assert events_of(lead.pk)[-1] == (
        TimelineKind.STAGE_CHANGED, manager.pk, "ui",
        {"stage": "Lost", "status": "LOST", "lost_reason": "Other"},
        {"stage": "New", "status": "NOT_CONTACTED", "lost_reason": ""},
    )


def test_manager_moves_backwards():
    project, _agent, lead = agent_lead("Qualified")
    manager = make_user(project, "manager")

    services.set_stage(lead, stage_named(project, "Contacted"), actor=as_actor(manager))

    assert Lead.objects.get(pk=lead.pk).status == "CONTACTED"


def test_same_stage_again_records_nothing():
    project, agent, lead = agent_lead()
    before = lead_snapshot(lead.pk)

    services.set_stage(lead, stage_named(project, "New"), actor=as_actor(agent))

    assert lead_snapshot(lead.pk) == before
    assert len(events_of(lead.pk)) == 1


def test_status_follows_a_custom_stage():
    project, agent, lead = agent_lead()
    demo = project_services.create_stage(project, "Demo booked", "QUALIFIED", actor=SYSTEM)

    services.set_stage(lead, demo, actor=as_actor(agent))

    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.stage_id, stored.status) == (demo.pk, "QUALIFIED")


def test_stage_of_another_project_is_refused():
    project, agent, lead = agent_lead()
    foreign = stage_named(make_project(), "Contacted")

    with pytest.raises(ValidationFailed) as exc:
        services.set_stage(lead, foreign, actor=as_actor(agent))

    assert [(e.field, e.code) for e in exc.value.errors] == [("stage", "invalid")]
    assert Lead.objects.get(pk=lead.pk).stage.name == "New"
    assert len(events_of(lead.pk)) == 1


def test_agent_cannot_move_a_lead_they_do_not_own():
    project, _agent, lead = agent_lead()
    colleague = make_user(project, "agent", view_all_leads=True)

    with pytest.raises(PermissionDenied):
        services.set_stage(lead, stage_named(project, "Contacted"), actor=as_actor(colleague))

    assert Lead.objects.get(pk=lead.pk).stage.name == "New"
    assert len(events_of(lead.pk)) == 1


def test_a_stale_stage_read_loses_to_the_concurrent_move():
    project, agent, lead = agent_lead()
    stale = Lead.objects.get(pk=lead.pk)
    services.set_stage(lead, stage_named(project, "Contacted"), actor=as_actor(agent))

    from leadflow.core.errors import Conflict

    with pytest.raises(Conflict):
        services.set_stage(stale, stage_named(project, "Qualified"), actor=as_actor(agent))

    assert Lead.objects.get(pk=lead.pk).stage.name == "Contacted"
    assert len(events_of(lead.pk)) == 2
