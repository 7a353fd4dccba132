"""Retiring stages, the managed lists of lost reasons and call outcomes, and how Lost reads
them: services and routes, allowed and refused roles."""

import json

import pytest

from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm
from leadflow.crm.models import Lead
from leadflow.projects import services
from leadflow.projects.models import (
    DEFAULT_CALL_OUTCOMES,
    DEFAULT_LOST_REASONS,
    CallOutcome,
    LostReason,
    Stage,
)
from tests.factories import SYSTEM, World, as_actor, auth, make_lead, make_project, stage_named


def send(client, method, path, user, body=None):
    extra = auth(user) if user is not None else {}
    if body is None:
        return getattr(client, method)(path, **extra)
    return getattr(client, method)(path, data=json.dumps(body),
                                   content_type="application/json", **extra)


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def test_a_new_project_starts_with_the_default_lists():
    project = make_project()

    assert [r.name for r in LostReason.objects.filter(project=project)] == DEFAULT_LOST_REASONS
    assert [o.name for o in CallOutcome.objects.filter(project=project)] == DEFAULT_CALL_OUTCOMES


def test_a_retired_stage_keeps_its_leads_but_is_no_target_until_restored():
    w = World()
    contacted = stage_named(w.project, "Contacted")
    crm.set_stage(w.other_lead, contacted, actor=as_actor(w.manager))

    services.retire_stage(contacted, actor=as_actor(w.manager))

    assert Lead.objects.get(pk=w.other_lead.pk).stage_id == contacted.pk
    with pytest.raises(ValidationFailed) as exc:
        crm.set_stage(w.own_lead, contacted, actor=as_actor(w.agent))
    assert [(e.field, e.code) for e in exc.value.errors] == [("stage", "retired")]
    # A lead on it still moves on.
    crm.set_stage(Lead.objects.get(pk=w.other_lead.pk), stage_named(w.project, "Qualified"),
                  actor=as_actor(w.other_agent))

    services.restore_stage(contacted, actor=as_actor(w.manager))
    crm.set_stage(w.own_lead, contacted, actor=as_actor(w.agent))
    assert Lead.objects.get(pk=w.own_lead.pk).stage_id == contacted.pk


def test_new_leads_start_on_the_first_stage_in_use():
    project = make_project()
    services.retire_stage(stage_named(project, "New"), actor=SYSTEM)

    lead = make_lead(project)

    assert lead.stage.name == "Contacted"


def test_retiring_is_for_managers_and_keeps_one_open_stage_in_use():
    w = World()
    with pytest.raises(PermissionDenied):
        services.retire_stage(stage_named(w.project, "New"), actor=as_actor(w.agent))
    services.retire_stage(stage_named(w.project, "New"), actor=as_actor(w.manager))
    services.retire_stage(stage_named(w.project, "Contacted"), actor=as_actor(w.manager))

    with pytest.raises(Conflict):
        services.retire_stage(stage_named(w.project, "Qualified"), actor=as_actor(w.manager))
    with pytest.raises(Conflict):
        services.retire_stage(stage_named(w.project, "Lost"), actor=as_actor(w.manager))
    assert stage_named(w.project, "Qualified").retired_at is None


@pytest.mark.parametrize("who,status", [("manager", 200), ("admin", 200), ("agent", 403),
                                        ("foreign_manager", 404)])
def test_stage_route_retires_and_restores(client, who, status):
    w = World()
    stage = stage_named(w.project, "Contacted")

    response = send(client, "patch", f"/api/v1/stages/{stage.pk}", w.user(who),
                    {"retired": True})

    assert response.status_code == status
    assert Stage.objects.get(pk=stage.pk).retired == (status == 200)
    if status == 200:
        assert response.json()["retired"] is True
        back = send(client, "patch", f"/api/v1/stages/{stage.pk}", w.user(who),
                    {"retired": False})
        assert back.json()["retired"] is False


def test_lost_needs_an_active_reason_of_the_project(client):
    w = World()
    lost = stage_named(w.project, "Lost")
    path = f"/api/v1/leads/{w.own_lead.pk}/stage"
    services.update_lost_reason(LostReason.objects.get(project=w.project, name="Duplicate"),
                                actor=as_actor(w.manager), active=False)

    unknown = send(client, "post", path, w.agent, {"stage": lost.pk, "lost_reason": "Bored"})
    inactive = send(client, "post", path, w.agent, {"stage": lost.pk,
                                                   "lost_reason": "Duplicate"})
    done = send(client, "post", path, w.agent, {"stage": lost.pk,
                                               "lost_reason": "too expensive"})

    assert (unknown.status_code, error_codes(unknown)) == (400, [("lost_reason", "invalid")])
    assert (inactive.status_code, error_codes(inactive)) == (400, [("lost_reason", "invalid")])
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["lost_reason"]) == ("LOST", "Too expensive")


@pytest.mark.parametrize("path,model", [("/api/v1/lost-reasons", LostReason),
                                        ("/api/v1/call-outcomes", CallOutcome)])
def test_managed_list_routes(client, path, model):
    w = World()

    made = send(client, "post", path, w.manager, {"project": w.project.pk, "name": "Moved away"})
    entry = made.json()
    again = send(client, "post", path, w.manager, {"project": w.project.pk,
                                                   "name": "Moved away"})
    refused = send(client, "post", path, w.agent, {"project": w.project.pk, "name": "Mine"})
    foreign = send(client, "post", path, w.foreign_manager, {"project": w.project.pk,
                                                             "name": "Theirs"})
    renamed = send(client, "patch", f"{path}/{entry['id']}", w.manager,
                   {"name": "Relocated", "active": False})
    blank = send(client, "patch", f"{path}/{entry['id']}", w.manager, {"name": " "})
    listed = send(client, "get", f"{path}?project={w.project.pk}&active=false", w.agent)
    hidden = send(client, "get", f"{path}/{entry['id']}", w.outsider)
    agent_delete = send(client, "delete", f"{path}/{entry['id']}", w.agent)
    deleted = send(client, "delete", f"{path}/{entry['id']}", w.manager)

    assert made.status_code == 201
    assert entry["project"] == w.project.pk and entry["active"] is True
    assert again.status_code == 409
    assert refused.status_code == 403
    assert foreign.status_code == 404
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["active"]) == ("Relocated", False)
    assert (blank.status_code, error_codes(blank)) == (400, [("name", "required")])
    assert [e["name"] for e in listed.json()] == ["Relocated"]
    assert hidden.status_code == 404
    assert agent_delete.status_code == 403
    assert deleted.status_code == 204
    assert not model.objects.filter(pk=entry["id"]).exists()


def test_an_outcome_in_use_is_deactivated_not_deleted(client):
    w = World()
    from leadflow.activities.services import log_activity

    log_activity(w.own_lead, "call", actor=as_actor(w.agent), outcome="Busy")
    busy = CallOutcome.objects.get(project=w.project, name="Busy")

    response = send(client, "delete", f"/api/v1/call-outcomes/{busy.pk}", w.manager)

    assert response.status_code == 409
    assert CallOutcome.objects.filter(pk=busy.pk).exists()
