"""List and campaign services: configuration by role, a lead's home list and its timeline,
deleting lists, campaigns' own and assigned lists, and which leads a campaign works."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm.models import Lead
from leadflow.lists import services
from leadflow.lists.models import Campaign, CampaignList, LeadList
from leadflow.lists.selectors import campaign_leads
from leadflow.timeline.models import TimelineKind
from tests.factories import (
    World,
    event_count,
    events_of,
    lead_snapshot,
    make_campaign,
    make_lead,
    make_list,
    put_on_list,
)


@pytest.fixture
def w():
    return World()


# --- configuration ----------------------------------------------------------------------------


def test_manager_creates_a_list_with_every_field(w):
    lead_list = services.create_list(
        w.project, actor=Actor(w.manager), name=" Spring fair ", timezone_name="Europe/Berlin",
        owner=w.agent, description="Met at the fair", enabled=False)

    found = LeadList.objects.get(pk=lead_list.pk)
    assert (found.project_id, found.name, found.key, found.timezone, found.owner_id,
            found.description, found.enabled) == (
        w.project.pk, "Spring fair", "spring fair", "Europe/Berlin", w.agent.pk,
        "Met at the fair", False)


@pytest.mark.parametrize(("_case", "who", "error"), [
    ("agent", "agent", PermissionDenied),
    ("agent with view_all", "viewer", PermissionDenied),
    ("member of another project", "outsider", NotFound),
    ("manager of another project", "foreign_manager", NotFound),
])
def test_only_managers_of_the_project_create_lists(w, _case, who, error):
    with pytest.raises(error):
        services.create_list(w.project, actor=Actor(w.user(who)), name="Nope")
    assert not LeadList.objects.exists()


def test_admin_creates_a_list_in_any_project(w):
    lead_list = services.create_list(w.project, actor=Actor(w.admin), name="Admin's")
    assert lead_list.project_id == w.project.pk


def test_list_fields_are_validated(w):
    with pytest.raises(ValidationFailed) as exc:
        services.create_list(w.project, actor=Actor(w.manager), name=" ",
                             timezone_name="Mars/Olympus", owner=w.outsider)
    assert sorted((e.field, e.code) for e in exc.value.errors) == [
        ("name", "required"), ("owner", "not_member"), ("timezone", "invalid")]
    assert not LeadList.objects.exists()


def test_list_names_are_unique_per_project_whatever_their_case(w):
    make_list(w.project, name="Hot")
    with pytest.raises(Conflict) as exc:
        services.create_list(w.project, actor=Actor(w.manager), name="HOT")
    assert exc.value.code == "exists"
    assert make_list(w.other_project, name="Hot").project_id == w.other_project.pk


def test_the_project_of_a_list_never_changes(w):
    lead_list = make_list(w.project, name="Fixed")
    with pytest.raises(ValidationFailed) as exc:
        services.update_list(lead_list, actor=Actor(w.manager), project=w.other_project.pk,
                             name="Moved")
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == ("project", "immutable")
    found = LeadList.objects.get(pk=lead_list.pk)
    assert (found.project_id, found.name) == (w.project.pk, "Fixed")
    same = services.update_list(lead_list, actor=Actor(w.manager), project=w.project.pk,
                                name="Renamed")
    assert same.name == "Renamed"


def test_manager_updates_a_list(w):
    lead_list = make_list(w.project, name="Old", timezone_name="UTC")
    services.update_list(lead_list, actor=Actor(w.manager), name="New", owner=w.manager.pk,
                         timezone="America/New_York", enabled=False, description="d")
    found = LeadList.objects.get(pk=lead_list.pk)
    assert (found.name, found.owner_id, found.timezone, found.enabled, found.description) == (
        "New", w.manager.pk, "America/New_York", False, "d")


def test_agent_cannot_update_a_list(w):
    lead_list = make_list(w.project, name="Keep")
    with pytest.raises(PermissionDenied):
        services.update_list(lead_list, actor=Actor(w.agent), name="Changed")
    assert LeadList.objects.get(pk=lead_list.pk).name == "Keep"


# --- a lead's home list -------------------------------------------------------------------------


def test_adding_a_lead_to_a_list_is_recorded_on_its_timeline(w):
    lead_list = make_list(w.project, name="Callbacks")

    lead = services.add_lead_to_list(lead_list, w.own_lead, actor=Actor(w.manager, "ui"))

    assert Lead.objects.get(pk=lead.pk).list_id == lead_list.pk
    assert events_of(lead.pk)[-1] == (TimelineKind.LEAD_ADDED_TO_LIST, w.manager.pk, "ui",
                                      None, {"list": "Callbacks"})


def test_adding_a_lead_moves_it_from_its_list(w):
    first, second = make_list(w.project, name="First"), make_list(w.project, name="Second")
    put_on_list(first, w.own_lead)

    services.add_lead_to_list(second, Lead.objects.get(pk=w.own_lead.pk),
                              actor=Actor(w.manager))

    assert Lead.objects.get(pk=w.own_lead.pk).list_id == second.pk
    assert events_of(w.own_lead.pk)[-1][3:] == ({"list": "First"}, {"list": "Second"})


def test_adding_a_lead_to_its_own_list_again_records_nothing(w):
    lead_list = make_list(w.project)
    put_on_list(lead_list, w.own_lead)
    lead = Lead.objects.get(pk=w.own_lead.pk)
    before = event_count()

    services.add_lead_to_list(lead_list, lead, actor=Actor(w.manager))

    assert event_count() == before


def test_a_lead_of_another_project_cannot_join_a_list(w):
    lead_list = make_list(w.project)
    foreign = make_lead(w.other_project)
    with pytest.raises(ValidationFailed) as exc:
        services.add_lead_to_list(lead_list, foreign, actor=Actor(w.admin))
    assert exc.value.errors[0].code == "other_project"
    assert Lead.objects.get(pk=foreign.pk).list_id is None


@pytest.mark.parametrize(("_case", "who"), [("agent, own lead", "agent"),
                                            ("agent with view_all", "viewer")])
def test_agents_cannot_put_leads_on_lists(w, _case, who):
    lead_list = make_list(w.project)
    snapshot, before = lead_snapshot(w.own_lead.pk), event_count()
    with pytest.raises(PermissionDenied):
        services.add_lead_to_list(lead_list, w.own_lead, actor=Actor(w.user(who)))
    assert lead_snapshot(w.own_lead.pk) == snapshot
    assert event_count() == before


def test_a_stale_lead_loses_the_race_to_a_concurrent_move(w):
    first, second = make_list(w.project), make_list(w.project)
    stale = Lead.objects.get(pk=w.own_lead.pk)
    put_on_list(first, w.own_lead)
    with pytest.raises(Conflict):
        services.add_lead_to_list(second, stale, actor=Actor(w.manager))
    assert Lead.objects.get(pk=w.own_lead.pk).list_id == first.pk


def test_removing_a_lead_from_its_list(w):
    lead_list = make_list(w.project, name="Trade show")
    put_on_list(lead_list, w.own_lead)

    services.remove_lead_from_list(Lead.objects.get(pk=w.own_lead.pk), actor=Actor(w.manager),
                                   lead_list=lead_list)

    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None
    assert events_of(w.own_lead.pk)[-1] == (TimelineKind.LEAD_REMOVED_FROM_LIST, w.manager.pk,
                                            "ui", {"list": "Trade show"}, None)


def test_removing_a_lead_from_a_list_it_is_not_on_is_not_found(w):
    lead_list = make_list(w.project)
    with pytest.raises(NotFound):
        services.remove_lead_from_list(w.own_lead, actor=Actor(w.manager), lead_list=lead_list)


def test_deleting_a_list_unlinks_its_leads_in_one_update_and_keeps_them(w):
    lead_list, other = make_list(w.project, name="Gone"), make_list(w.project, name="Stays")
    put_on_list(lead_list, w.own_lead, w.other_lead)
    third = make_lead(w.project)
    put_on_list(other, third)
    campaign = make_campaign(w.project, lists=[lead_list])

    with CaptureQueriesContext(connection) as queries:
        unlinked = services.delete_list(lead_list, actor=Actor(w.manager))

    assert unlinked == 2
    updates = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith("UPDATE") and "crm_lead" in q["sql"]]
    assert len(updates) == 1
    assert not LeadList.objects.filter(pk=lead_list.pk).exists()
    assert list(Lead.objects.filter(pk__in=[w.own_lead.pk, w.other_lead.pk])
                .values_list("list_id", flat=True)) == [None, None]
    assert Lead.objects.get(pk=third.pk).list_id == other.pk
    assert not CampaignList.objects.filter(campaign=campaign).exists()
    for lead in (w.own_lead, w.other_lead):
        kind, actor_id, _channel, before, after = events_of(lead.pk)[-1]
        assert (kind, actor_id, before, after) == (TimelineKind.LEAD_REMOVED_FROM_LIST,
                                                   w.manager.pk, {"list": "Gone"}, None)


def test_agent_cannot_delete_a_list(w):
    lead_list = make_list(w.project)
    put_on_list(lead_list, w.own_lead)
    with pytest.raises(PermissionDenied):
        services.delete_list(lead_list, actor=Actor(w.agent))
    assert Lead.objects.get(pk=w.own_lead.pk).list_id == lead_list.pk


# --- campaigns ----------------------------------------------------------------------------------


def test_creating_a_campaign_creates_its_own_list(w):
    campaign = services.create_campaign(w.project, actor=Actor(w.manager), name="Q3 calls",
                                        channel="mail", description="Summer")
    found = Campaign.objects.select_related("own_list").get(pk=campaign.pk)
    assert (found.name, found.channel, found.description, found.active) == (
        "Q3 calls", "mail", "Summer", True)
    assert (found.own_list.name, found.own_list.project_id) == ("Q3 calls (campaign)",
                                                                w.project.pk)


def test_agent_cannot_create_a_campaign(w):
    with pytest.raises(PermissionDenied):
        services.create_campaign(w.project, actor=Actor(w.agent), name="No")
    assert not Campaign.objects.exists()
    assert not LeadList.objects.exists()


def test_a_campaign_channel_is_call_or_mail(w):
    with pytest.raises(ValidationFailed) as exc:
        services.create_campaign(w.project, actor=Actor(w.manager), name="X", channel="fax")
    assert exc.value.errors[0].field == "channel"


def test_renaming_a_campaign_renames_its_own_list(w):
    campaign = make_campaign(w.project, name="Old")
    services.update_campaign(campaign, actor=Actor(w.manager), name="New", active=False)
    found = Campaign.objects.select_related("own_list").get(pk=campaign.pk)
    assert (found.name, found.active, found.own_list.name) == ("New", False, "New (campaign)")


def test_a_campaigns_own_list_is_deleted_only_with_the_campaign(w):
    campaign = make_campaign(w.project, name="Drive")
    put_on_list(campaign.own_list, w.own_lead)
    with pytest.raises(Conflict) as exc:
        services.delete_list(campaign.own_list, actor=Actor(w.manager))
    assert exc.value.code == "campaign_list"

    assert services.delete_campaign(campaign, actor=Actor(w.manager)) == 1

    assert not Campaign.objects.exists()
    assert not LeadList.objects.exists()
    assert Lead.objects.get(pk=w.own_lead.pk).list_id is None
    assert events_of(w.own_lead.pk)[-1][0] == TimelineKind.LEAD_REMOVED_FROM_LIST


def test_assigning_and_unassigning_lists(w):
    first, second = make_list(w.project), make_list(w.project)
    campaign = make_campaign(w.project)

    assert services.assign_lists(campaign, [first, second, first], actor=Actor(w.manager)) == 2
    assert services.assign_lists(campaign, [first], actor=Actor(w.manager)) == 0
    assert set(CampaignList.objects.values_list("list_id", flat=True)) == {first.pk, second.pk}
    assert CampaignList.objects.get(list=first).assigned_by_id == w.manager.pk

    assert services.unassign_lists(campaign, [first], actor=Actor(w.manager)) == 1
    assert list(CampaignList.objects.values_list("list_id", flat=True)) == [second.pk]


def test_only_lists_of_the_same_project_are_assigned(w):
    campaign = make_campaign(w.project)
    foreign = make_list(w.other_project)
    other_campaign = make_campaign(w.project)
    with pytest.raises(ValidationFailed) as exc:
        services.assign_lists(campaign, [foreign, other_campaign.own_list],
                              actor=Actor(w.admin))
    assert [e.code for e in exc.value.errors] == ["other_project", "campaign_list"]
    assert not CampaignList.objects.exists()


def test_agent_cannot_assign_lists(w):
    campaign, lead_list = make_campaign(w.project), make_list(w.project)
    with pytest.raises(PermissionDenied):
        services.assign_lists(campaign, [lead_list], actor=Actor(w.agent))
    assert not CampaignList.objects.exists()


def test_a_campaigns_leads_are_those_of_its_enabled_lists(w):
    enabled, disabled, unassigned = (make_list(w.project), make_list(w.project),
                                     make_list(w.project))
    campaign = make_campaign(w.project, lists=[enabled, disabled])
    on_enabled, on_disabled, on_unassigned, in_campaign = (make_lead(w.project)
                                                           for _ in range(4))
    put_on_list(enabled, on_enabled)
    put_on_list(disabled, on_disabled)
    put_on_list(unassigned, on_unassigned)
    services.add_lead_to_campaign(campaign, in_campaign, actor=Actor(w.manager))
    services.update_list(disabled, actor=Actor(w.manager), enabled=False)

    assert set(campaign_leads(campaign).values_list("pk", flat=True)) == {on_enabled.pk,
                                                                          in_campaign.pk}

    services.update_list(disabled, actor=Actor(w.manager), enabled=True)
    assert set(campaign_leads(campaign).values_list("pk", flat=True)) == {
        on_enabled.pk, on_disabled.pk, in_campaign.pk}


def test_adding_a_lead_to_a_campaign_puts_it_in_the_campaigns_own_list(w):
    lead_list = make_list(w.project, name="Before")
    put_on_list(lead_list, w.own_lead)
    campaign = make_campaign(w.project, name="Autumn")

    services.add_lead_to_campaign(campaign, Lead.objects.get(pk=w.own_lead.pk),
                                  actor=Actor(w.manager))

    assert Lead.objects.get(pk=w.own_lead.pk).list_id == campaign.own_list_id
    kind, _actor, _channel, before, after = events_of(w.own_lead.pk)[-1]
    assert (kind, before, after) == (TimelineKind.LEAD_ADDED_TO_LIST, {"list": "Before"},
                                     {"list": "Autumn (campaign)"})
