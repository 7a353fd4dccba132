"""Converting a lead into a client (DESIGN §1 Client, §4 /leads/{id}/convert): the stage move,
what the client inherits, merging into an existing client, all or nothing, idempotence, who may,
and what the timeline records."""

from unittest import mock

import pytest

from leadflow.clients import services
from leadflow.clients.models import Client
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.routing.services.loads import recount
from leadflow.timeline.models import TimelineKind
from tests.factories import (
    World,
    as_actor,
    client_events,
    convert,
    events_of,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    stage_named,
    submit,
)


def test_an_agent_converts_their_lead_into_a_new_client_that_inherits_it():
    w = World()
    bucket, _key = make_bucket(w.project, affiliate_id="AFF-7", label="Spring promo")
    submission = submit(bucket, {"name": "Ada Byron", "email": "ada@example.com",
                                 "phone": "+1 202 555 0101", "company": "Engines"})
    lead = Lead.objects.get(pk=submission.lead_id)
    crm_services.assign(lead, owner=w.agent, actor=as_actor(w.manager))
    lead.refresh_from_db()

    result = services.convert_lead(lead, actor=as_actor(w.agent))

    client = Client.objects.get()
    assert result.converted and result.client == client
    assert (client.project_id, client.owner_id, client.source_id) == (
        w.project.pk, w.agent.pk, bucket.source_id)
    assert (client.bucket_label, client.affiliate_id) == ("Spring promo", "AFF-7")
    assert (client.name, client.email, client.phones, client.company) == (
        "Ada Byron", "ada@example.com", ["+12025550101"], "Engines")
    lead.refresh_from_db()
    assert lead.client_id == client.pk
    assert lead.status == "CONVERTED" and lead.stage.name == "Converted"
    assert list(client.leads.values_list("pk", flat=True)) == [lead.pk]


def test_conversion_is_on_the_lead_and_starts_the_clients_timeline():
    w = World()

    client = convert(w.own_lead, actor=as_actor(w.agent))

    lead_kinds = [e[0] for e in events_of(w.own_lead.pk)]
    assert lead_kinds[-2:] == [TimelineKind.STAGE_CHANGED, TimelineKind.LEAD_CONVERTED]
    kind, actor_id, channel, before, after = events_of(w.own_lead.pk)[-1]
    assert (actor_id, channel) == (w.agent.pk, "api")
    assert after["client"] == client.pk and after["existing_client"] is False
    assert before == {"client": None}
    events = client_events(client.pk)
    assert [e[0] for e in events] == [TimelineKind.CLIENT_CREATED]
    assert events[0][1] == w.agent.pk
    assert events[0][4]["lead"] == w.own_lead.pk
    assert events[0][4]["owner"] == w.agent.email


def test_converting_into_an_existing_client_links_the_lead_and_adds_no_client():
    w = World()
    client = convert(w.own_lead, actor=as_actor(w.agent))
    second = make_lead(w.project, owner=w.agent, email="second@example.com")

    result = services.convert_lead(second, actor=as_actor(w.manager), into=client)

    assert result.client == client and Client.objects.count() == 1
    assert sorted(client.leads.values_list("pk", flat=True)) == sorted(
        [w.own_lead.pk, second.pk])
    assert [e[0] for e in client_events(client.pk)] == [
        TimelineKind.CLIENT_CREATED, TimelineKind.LEAD_CONVERTED]
    assert client_events(client.pk)[-1][4] == {"lead": second.pk, "name": second.name}
    assert events_of(second.pk)[-1][4]["existing_client"] is True


def test_a_second_conversion_returns_the_same_client_and_records_nothing():
    w = World()
    first = services.convert_lead(w.own_lead, actor=as_actor(w.agent))
    counted = len(events_of(w.own_lead.pk))

    again = services.convert_lead(Lead.objects.get(pk=w.own_lead.pk), actor=as_actor(w.agent))
    stale = services.convert_lead(w.own_lead, actor=as_actor(w.agent))

    assert (again.converted, stale.converted) == (False, False)
    assert again.client == first.client == stale.client
    assert Client.objects.count() == 1
    assert len(events_of(w.own_lead.pk)) == counted


def test_a_converted_lead_cannot_be_converted_into_another_client():
    w = World()
    convert(w.own_lead)
    other = convert(w.other_lead)

    with pytest.raises(Conflict) as exc:
        services.convert_lead(Lead.objects.get(pk=w.own_lead.pk), actor=as_actor(w.manager),
                              into=other)

    assert exc.value.code == "converted"


def test_a_failure_mid_conversion_leaves_no_client_and_the_lead_unconverted():
    w = World()
    stage_before = w.own_lead.stage_id
    real_record = services.timeline.record

    def failing(kind, **kwargs):
        if kind == TimelineKind.LEAD_CONVERTED:
            raise RuntimeError("disk full")
        return real_record(kind, **kwargs)

    with mock.patch.object(services.timeline, "record", failing), \
            pytest.raises(RuntimeError):
        services.convert_lead(w.own_lead, actor=as_actor(w.agent))

    lead = Lead.objects.get(pk=w.own_lead.pk)
    assert not Client.objects.exists()
    assert (lead.stage_id, lead.client_id, lead.converted_at) == (stage_before, None, None)
    assert [e[0] for e in events_of(lead.pk)] == [TimelineKind.LEAD_CREATED]
    assert recount() == 0


def test_lost_and_merged_leads_are_not_converted():
    w = World()
    crm_services.set_stage(w.own_lead, stage_named(w.project, "Lost"), actor=as_actor(w.agent),
                           lost_reason="Chose a competitor")
    crm_services.merge_leads(w.other_lead, make_lead(w.project), actor=as_actor(w.manager))

    with pytest.raises(Conflict) as lost:
        services.convert_lead(Lead.objects.get(pk=w.own_lead.pk), actor=as_actor(w.manager))
    with pytest.raises(Conflict) as merged:
        services.convert_lead(Lead.objects.get(pk=w.other_lead.pk), actor=as_actor(w.manager))

    assert (lost.value.code, merged.value.code) == ("lost", "merged")
    assert not Client.objects.exists()


def test_an_agent_may_not_convert_someone_elses_lead():
    w = World()

    with pytest.raises(PermissionDenied):
        services.convert_lead(w.other_lead, actor=as_actor(w.agent))

    assert not Client.objects.exists()


def test_a_client_of_another_project_is_refused():
    w = World()
    foreign = convert(make_lead(w.other_project))

    with pytest.raises(ValidationFailed) as exc:
        services.convert_lead(w.own_lead, actor=as_actor(w.manager), into=foreign)

    assert exc.value.errors[0].code == "other_project"


def test_a_lead_already_at_converted_gets_its_client_without_a_second_stage_event():
    w = World()
    crm_services.set_stage(w.own_lead, stage_named(w.project, "Converted"),
                           actor=as_actor(w.agent))
    lead = Lead.objects.get(pk=w.own_lead.pk)

    client = convert(lead, actor=as_actor(w.agent))

    kinds = [e[0] for e in events_of(lead.pk)]
    assert kinds.count(TimelineKind.STAGE_CHANGED) == 1
    assert kinds[-1] == TimelineKind.LEAD_CONVERTED
    assert Lead.objects.get(pk=lead.pk).client_id == client.pk


def test_conversion_takes_the_lead_out_of_the_owners_open_leads():
    w = World()

    convert(w.own_lead, actor=as_actor(w.agent))

    assert recount() == 0


def test_candidates_are_clients_whose_lead_shares_a_key():
    w = World()
    client = convert(w.own_lead)
    again = crm_services.create_lead(
        w.project, _input(w.own_lead.email), actor=as_actor(w.manager),
        on_duplicate="keep_both").lead
    stranger = make_lead(w.project)
    outsider = make_user(make_project(), "agent")

    assert services.client_candidates(again, actor=as_actor(w.manager)) == [client]
    assert services.client_candidates(stranger, actor=as_actor(w.manager)) == []
    assert services.client_candidates(again, actor=as_actor(w.other_agent)) == []
    assert services.client_candidates(again, actor=as_actor(outsider)) == []


def _input(email):
    from leadflow.crm.contact import LeadInput

    return LeadInput(name="Returning person", email=email)
