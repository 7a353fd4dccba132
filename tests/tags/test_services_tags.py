"""Tag services: configuration, a lead's tags by role, change requests and their decisions,
tag rules and their loop guard."""

import threading

import pytest
from django.db import connection

from leadflow.accounts.models import Notification
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.tags import services
from leadflow.tags.models import ChangeRequest, ChangeState, LeadTag, Tag
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import World, event_count, lead_snapshot, make_lead, make_user
from tests.tags.helpers import make_tag, make_tag_rule, tag_names_of


def kinds(lead) -> list[str]:
    return list(TimelineEvent.objects.filter(lead_id=lead.pk).order_by("id")
                .values_list("kind", flat=True))


@pytest.fixture
def w():
    world = World()
    world.hot = make_tag(world.project, "Hot")
    world.vip = make_tag(world.project, "VIP", modifiable=False)
    return world


# --- configuration ----------------------------------------------------------------------------


def test_tag_names_are_unique_per_project_whatever_their_case(w):
    with pytest.raises(Conflict) as exc:
        services.create_tag(w.project, "  hot ", actor=Actor(w.manager))
    assert exc.value.code == "exists"
    other = services.create_tag(w.other_project, "Hot", actor=Actor(w.foreign_manager))
    assert other.project_id == w.other_project.pk


def test_agents_cannot_define_tags(w):
    with pytest.raises(PermissionDenied):
        services.create_tag(w.project, "Cold", actor=Actor(w.agent))
    assert not Tag.objects.filter(name="Cold").exists()


def test_tag_name_is_validated(w):
    with pytest.raises(ValidationFailed) as exc:
        services.create_tag(w.project, "a,b", actor=Actor(w.manager))
    assert exc.value.errors[0].code == "invalid"
    with pytest.raises(ValidationFailed) as exc:
        services.create_tag(w.project, " ", actor=Actor(w.manager))
    assert exc.value.errors[0].code == "required"


def test_a_tag_in_use_cannot_be_deleted(w):
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    with pytest.raises(Conflict) as exc:
        services.delete_tag(w.hot, actor=Actor(w.manager))
    assert exc.value.code == "in_use"
    services.delete_tag(w.vip, actor=Actor(w.manager))
    assert not Tag.objects.filter(pk=w.vip.pk).exists()


def test_renaming_a_tag_renames_it_on_leads(w):
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    services.update_tag(w.hot, actor=Actor(w.manager), name="Very hot")
    assert tag_names_of(w.own_lead) == ["Very hot"]


# --- a lead's tags ----------------------------------------------------------------------------


def test_manager_applies_any_tag_and_the_timeline_says_who(w):
    change = services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["vip", "HOT"])

    assert change.change_requests == []
    assert tag_names_of(w.own_lead) == ["Hot", "VIP"]
    events = TimelineEvent.objects.filter(lead_id=w.own_lead.pk, kind=TimelineKind.TAG_ADDED)
    assert sorted(e.after["tag"] for e in events) == ["Hot", "VIP"]
    assert {e.actor_id for e in events} == {w.manager.pk}
    assert len({e.batch_id for e in events}) == 1


def test_adding_a_tag_twice_records_it_once(w):
    services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["Hot"])
    before = event_count()
    services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["Hot"])
    assert event_count() == before
    assert LeadTag.objects.filter(lead=w.own_lead).count() == 1


def test_owner_adds_and_removes_modifiable_tags(w):
    services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["Hot"])
    services.change_lead_tags(w.own_lead, actor=Actor(w.agent), remove=["Hot"])

    assert tag_names_of(w.own_lead) == []
    assert kinds(w.own_lead)[-2:] == [TimelineKind.TAG_ADDED, TimelineKind.TAG_REMOVED]
    removed = TimelineEvent.objects.get(lead_id=w.own_lead.pk, kind=TimelineKind.TAG_REMOVED)
    assert removed.before == {"tag": "Hot"}


def test_agent_touching_a_non_modifiable_tag_asks_the_managers(w):
    change = services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["VIP", "Hot"])

    request = ChangeRequest.objects.get()
    assert change.change_requests == [request]
    assert (request.lead_id, request.tag_id, request.action, request.state,
            request.requested_by_id) == (w.own_lead.pk, w.vip.pk, "add", "pending", w.agent.pk)
    assert tag_names_of(w.own_lead) == ["Hot"]
    assert TimelineEvent.objects.get(kind=TimelineKind.TAG_CHANGE_REQUESTED).after == {
        "tag": "VIP", "action": "add", "change_request": request.pk}
    assert list(Notification.objects.filter(kind="tag_change_requested")
                .values_list("user_id", flat=True)) == [w.manager.pk]


def test_asking_again_returns_the_pending_request(w):
    first = services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["VIP"])
    again = services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["VIP"])
    assert again.change_requests == first.change_requests
    assert ChangeRequest.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_CHANGE_REQUESTED).count() == 1


def test_removing_a_non_modifiable_tag_the_lead_lacks_asks_nothing(w):
    change = services.change_lead_tags(w.own_lead, actor=Actor(w.agent), remove=["VIP"])
    assert change.change_requests == []
    assert not ChangeRequest.objects.exists()


def test_agent_cannot_tag_a_lead_that_is_not_theirs(w):
    before = event_count()
    for who in (w.agent, w.viewer):
        with pytest.raises(PermissionDenied):
            services.change_lead_tags(w.other_lead, actor=Actor(who), add=["Hot"])
    assert event_count() == before
    assert not LeadTag.objects.exists()


def test_unknown_and_contradictory_names_are_field_errors(w):
    with pytest.raises(ValidationFailed) as exc:
        services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Nope"])
    assert [(e.field, e.code) for e in exc.value.errors] == [("add", "unknown_tag")]
    with pytest.raises(ValidationFailed) as exc:
        services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"],
                                  remove=["hot"])
    assert [(e.field, e.code) for e in exc.value.errors] == [("remove", "contradictory")]
    with pytest.raises(ValidationFailed) as exc:
        services.change_lead_tags(w.own_lead, actor=Actor(w.manager))
    assert exc.value.errors[0].code == "required"
    # A tag of another project is unknown here.
    make_tag(w.other_project, "Foreign")
    with pytest.raises(ValidationFailed):
        services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Foreign"])


# --- deciding change requests ----------------------------------------------------------------


def requested(w, action="add"):
    if action == "remove":
        services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["VIP"])
        return services.change_lead_tags(w.own_lead, actor=Actor(w.agent),
                                         remove=["VIP"]).change_requests[0]
    return services.change_lead_tags(w.own_lead, actor=Actor(w.agent),
                                     add=["VIP"]).change_requests[0]


def test_approving_applies_the_tag_and_tells_the_agent(w):
    request = requested(w)

    services.approve_change_request(request, actor=Actor(w.manager))

    request.refresh_from_db()
    assert (request.state, request.decided_by_id) == ("approved", w.manager.pk)
    assert tag_names_of(w.own_lead) == ["VIP"]
    assert kinds(w.own_lead)[-2:] == [TimelineKind.TAG_CHANGE_APPROVED, TimelineKind.TAG_ADDED]
    added = TimelineEvent.objects.get(kind=TimelineKind.TAG_ADDED)
    assert (added.actor_id, added.reason) == (w.manager.pk,
                                              f"Change request #{request.pk} approved.")
    note = Notification.objects.get(user=w.agent, kind="tag_change_approved")
    assert note.lead_id == w.own_lead.pk


def test_approving_a_removal_takes_the_tag_off(w):
    request = requested(w, "remove")
    services.approve_change_request(request, actor=Actor(w.manager))
    assert tag_names_of(w.own_lead) == []


def test_rejecting_needs_a_reason_and_keeps_the_tags(w):
    request = requested(w)
    with pytest.raises(ValidationFailed) as exc:
        services.reject_change_request(request, actor=Actor(w.manager), reason="  ")
    assert exc.value.errors[0].code == "required"

    services.reject_change_request(request, actor=Actor(w.manager), reason="Not a VIP yet")

    request.refresh_from_db()
    assert (request.state, request.reason) == ("rejected", "Not a VIP yet")
    assert tag_names_of(w.own_lead) == []
    event = TimelineEvent.objects.get(kind=TimelineKind.TAG_CHANGE_REJECTED)
    assert (event.actor_id, event.reason) == (w.manager.pk, "Not a VIP yet")
    assert "Not a VIP yet" in Notification.objects.get(user=w.agent,
                                                       kind="tag_change_rejected").message


def test_agents_cannot_decide(w):
    request = requested(w)
    before = event_count()
    with pytest.raises(PermissionDenied):
        services.approve_change_request(request, actor=Actor(w.agent))
    assert ChangeRequest.objects.get().state == ChangeState.PENDING
    assert event_count() == before


def test_a_decided_request_cannot_be_decided_again(w):
    request = requested(w)
    services.approve_change_request(request, actor=Actor(w.manager))
    before = event_count()
    with pytest.raises(Conflict) as exc:
        services.reject_change_request(request, actor=Actor(w.admin), reason="Too late")
    assert exc.value.code == "already_decided"
    assert event_count() == before


def test_approving_when_the_lead_has_the_tag_already_changes_nothing_else(w):
    request = requested(w)
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["VIP"])
    services.approve_change_request(request, actor=Actor(w.manager))
    assert LeadTag.objects.filter(lead=w.own_lead).count() == 1
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_ADDED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_have_one_winner():
    w = World()
    make_tag(w.project, "VIP", modifiable=False)
    request = services.change_lead_tags(w.own_lead, actor=Actor(w.agent),
                                        add=["VIP"]).change_requests[0]
    second_manager = make_user(w.project, "manager")
    outcomes = []
    barrier = threading.Barrier(2)

    def decide(user, approve):
        try:
            barrier.wait()
            found = ChangeRequest.objects.get(pk=request.pk)
            if approve:
                services.approve_change_request(found, actor=Actor(user))
            else:
                services.reject_change_request(found, actor=Actor(user), reason="No")
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(w.manager, True)),
               threading.Thread(target=decide, args=(second_manager, False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["conflict", "won"]
    decided = TimelineEvent.objects.filter(
        kind__in=[TimelineKind.TAG_CHANGE_APPROVED, TimelineKind.TAG_CHANGE_REJECTED])
    assert decided.count() == 1
    state = ChangeRequest.objects.get().state
    assert LeadTag.objects.filter(lead=w.own_lead).exists() == (state == "approved")


# --- tag rules -------------------------------------------------------------------------------


def test_unassign_rule_runs_as_the_system_after_the_tag(w):
    rule = make_tag_rule(w.project, w.hot, "unassign")

    change = services.change_lead_tags(w.own_lead, actor=Actor(w.agent), add=["Hot"])

    assert change.lead.owner_id is None
    assert Lead.objects.get(pk=w.own_lead.pk).owner_id is None
    assert kinds(w.own_lead)[-3:] == [TimelineKind.TAG_ADDED, TimelineKind.TAG_RULE_APPLIED,
                                      TimelineKind.LEAD_UNASSIGNED]
    applied = TimelineEvent.objects.get(kind=TimelineKind.TAG_RULE_APPLIED)
    assert applied.after == {"rule": rule.pk, "tag": "Hot", "action": "unassign"}
    unassigned = TimelineEvent.objects.get(kind=TimelineKind.LEAD_UNASSIGNED)
    assert (unassigned.actor_id, unassigned.reason) == (
        None, f"Tag rule #{rule.pk}: tag Hot applied.")


def test_retire_rule_retires_the_lead(w):
    make_tag_rule(w.project, w.vip, "retire")
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["VIP"])
    lead = Lead.objects.get(pk=w.own_lead.pk)
    assert lead.retired_at is not None
    assert (lead.owner_id, lead.original_owner_id) == (None, w.agent.pk)
    assert kinds(w.own_lead)[-1] == TimelineKind.LEAD_RETIRED


def test_notify_rule_tells_the_owner_managers_and_chosen_users(w):
    make_tag_rule(w.project, w.hot, "notify", notify_owner=True, notify_managers=True,
                  notify_users=[w.viewer.pk], message="A hot one!")
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    assert sorted(Notification.objects.filter(kind="tag_rule").values_list("user_id", flat=True)
                  ) == sorted([w.agent.pk, w.manager.pk, w.viewer.pk])
    assert set(Notification.objects.filter(kind="tag_rule")
               .values_list("message", flat=True)) == {"A hot one!"}


def test_rules_of_a_removed_or_unchanged_tag_do_not_run(w):
    make_tag_rule(w.project, w.hot, "unassign")
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    crm_services.assign(Lead.objects.get(pk=w.own_lead.pk), actor=Actor(w.manager),
                        owner=w.agent)
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), remove=["Hot"])
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_RULE_APPLIED).count() == 1
    assert Lead.objects.get(pk=w.own_lead.pk).owner_id == w.agent.pk


def test_inactive_rules_do_not_run(w):
    make_tag_rule(w.project, w.hot, "unassign", active=False)
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    assert Lead.objects.get(pk=w.own_lead.pk).owner_id == w.agent.pk


def test_a_rule_never_sets_itself_off_again_in_one_chain(w, monkeypatch):
    """An action that re-applies tags (as a future action could) must not loop: each rule
    runs once per chain of applications."""
    rule = make_tag_rule(w.project, w.hot, "notify", notify_owner=True)
    other = make_tag_rule(w.project, w.vip, "notify", notify_owner=True)
    original = services.accounts.notify
    calls = []

    def notify_and_retag(user_ids, kind, message, **kwargs):
        calls.append(message)
        original(user_ids, kind, message, **kwargs)
        lead = Lead.objects.get(pk=kwargs["lead_id"])
        services.change_lead_tags(lead, actor=services.RULE_ACTOR, remove=["Hot", "VIP"])
        services.change_lead_tags(lead, actor=services.RULE_ACTOR, add=["Hot", "VIP"])

    monkeypatch.setattr(services.accounts, "notify", notify_and_retag)

    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])

    applied = TimelineEvent.objects.filter(kind=TimelineKind.TAG_RULE_APPLIED)
    assert sorted(e.after["rule"] for e in applied) == sorted([rule.pk, other.pk])
    assert len(calls) == 2
    # A later, separate application runs the rule again.
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), remove=["Hot"])
    monkeypatch.setattr(services.accounts, "notify", original)
    services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=["Hot"])
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_RULE_APPLIED).count() == 3


def test_rule_configuration_is_validated_and_for_managers(w):
    with pytest.raises(PermissionDenied):
        services.create_tag_rule(w.project, actor=Actor(w.agent), tag=w.hot, action="retire")
    with pytest.raises(ValidationFailed) as exc:
        services.create_tag_rule(w.project, actor=Actor(w.manager), tag=w.hot, action="notify")
    assert exc.value.errors[0].field == "notify_users"
    with pytest.raises(ValidationFailed) as exc:
        services.create_tag_rule(w.project, actor=Actor(w.manager), tag=w.hot,
                                 action="notify", notify_users=[w.outsider.pk])
    assert exc.value.errors[0].code == "invalid"
    foreign = make_tag(w.other_project, "Elsewhere")
    with pytest.raises(ValidationFailed):
        services.create_tag_rule(w.project, actor=Actor(w.manager), tag=foreign,
                                 action="retire")


def test_retire_lead_is_idempotent(w):
    from leadflow.crm.services.retirement import retire_lead

    lead = retire_lead(w.own_lead, actor=Actor(w.manager), reason="Neglected")
    before = event_count()
    assert retire_lead(lead, actor=Actor(w.manager)).retired_at == lead.retired_at
    assert event_count() == before
    assert lead_snapshot(lead.pk)["owner_id"] is None
    with pytest.raises(PermissionDenied):
        retire_lead(make_lead(w.project, owner=w.agent), actor=Actor(w.agent))


def test_a_tag_with_only_decided_requests_can_be_deleted(w):
    request = services.change_lead_tags(w.own_lead, actor=Actor(w.agent),
                                        add=["VIP"]).change_requests[0]
    with pytest.raises(Conflict):
        services.delete_tag(w.vip, actor=Actor(w.manager))
    services.reject_change_request(request, actor=Actor(w.manager), reason="No")
    services.delete_tag(w.vip, actor=Actor(w.manager))
    assert not ChangeRequest.objects.exists()
    assert TimelineEvent.objects.filter(kind=TimelineKind.TAG_CHANGE_REJECTED).count() == 1


def test_names_with_nul_or_too_long_are_refused(w):
    for name in ("a\x00b", "x" * 101):
        with pytest.raises(ValidationFailed) as exc:
            services.change_lead_tags(w.own_lead, actor=Actor(w.manager), add=[name])
        assert exc.value.errors[0].code == "invalid"
