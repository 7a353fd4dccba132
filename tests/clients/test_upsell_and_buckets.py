"""Upsell leads (a lead of an existing client, DESIGN §2: keys held non-canonically, no
duplicate check) and buckets that create clients (each processed lead converted at once)."""

import json

import pytest

from leadflow.clients.models import Client
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey
from leadflow.intake.services import submissions
from leadflow.timeline.models import TimelineKind
from tests.factories import (
    World,
    as_actor,
    auth,
    client_events,
    convert,
    events_of,
    make_bucket,
    make_lead,
    post_intake,
    submit,
)


def post_lead(client, user, body):
    return client.post("/api/v1/leads", data=json.dumps(body), content_type="application/json",
                       **auth(user))


# --- upsell ------------------------------------------------------------------------------------


def test_an_upsell_lead_of_a_client_is_created_beside_the_clients_own_lead(client):
    w = World()
    customer = convert(w.own_lead, actor=as_actor(w.agent))

    response = post_lead(client, w.agent, {"project": w.project.pk, "name": w.own_lead.name,
                                           "email": w.own_lead.email, "client": customer.pk})

    assert response.status_code == 201
    upsell = Lead.objects.get(pk=response.json()["id"])
    assert response.json()["client"] == customer.pk
    assert (upsell.client_id, upsell.owner_id, upsell.status) == (
        customer.pk, w.agent.pk, "NOT_CONTACTED")
    keys = DuplicateKey.objects.filter(lead=upsell)
    assert keys.exists() and not keys.filter(canonical=True).exists()
    assert DuplicateKey.objects.get(value=w.own_lead.email, canonical=True).lead_id == (
        w.own_lead.pk)
    assert events_of(upsell.pk)[0][4]["client"] == customer.pk
    assert client_events(customer.pk)[-1][0] == TimelineKind.CLIENT_LEAD_ADDED
    assert client_events(customer.pk)[-1][4]["lead"] == upsell.pk
    assert sorted(customer.leads.values_list("pk", flat=True)) == sorted(
        [w.own_lead.pk, upsell.pk])


def test_without_client_the_same_person_is_a_duplicate(client):
    w = World()
    convert(w.own_lead)

    response = post_lead(client, w.agent, {"project": w.project.pk, "name": "Again",
                                           "email": w.own_lead.email})

    assert response.status_code == 409
    assert response.json()["duplicate_of"] == w.own_lead.pk


def test_an_upsell_lead_does_not_block_a_later_new_person_with_its_keys():
    w = World()
    customer = convert(w.own_lead)
    from leadflow.crm import services as crm_services

    crm_services.create_lead(w.project, LeadInput(name="Shared", email="shared@example.com"),
                             actor=as_actor(w.manager), client=customer)
    fresh = crm_services.create_lead(w.project, LeadInput(name="Shared",
                                                          email="shared@example.com"),
                                     actor=as_actor(w.manager))

    assert fresh.created and fresh.lead.client_id is None
    assert DuplicateKey.objects.get(value="shared@example.com", canonical=True).lead_id == (
        fresh.lead.pk)


def test_upsell_needs_a_client_the_caller_sees_in_that_project(client):
    w = World()
    theirs = convert(w.other_lead)
    foreign = convert(make_lead(w.other_project))

    hidden = post_lead(client, w.agent, {"project": w.project.pk, "name": "X",
                                         "email": "x@example.com", "client": theirs.pk})
    elsewhere = post_lead(client, w.manager, {"project": w.project.pk, "name": "Y",
                                              "email": "y@example.com", "client": foreign.pk})
    allowed = post_lead(client, w.manager, {"project": w.project.pk, "name": "Z",
                                            "email": "z@example.com", "client": theirs.pk})

    assert (hidden.status_code, elsewhere.status_code, allowed.status_code) == (400, 400, 201)
    assert hidden.json()["errors"][0]["field"] == "client"
    assert elsewhere.json()["errors"][0]["field"] == "client"


def test_converting_an_upsell_lead_keeps_it_with_its_client():
    w = World()
    customer = convert(w.own_lead)
    from leadflow.crm import services as crm_services

    upsell = crm_services.create_lead(w.project, LeadInput(name="More", email="more@example.com"),
                                      actor=as_actor(w.agent), client=customer).lead

    result = convert(upsell, actor=as_actor(w.agent))

    assert result == customer and Client.objects.count() == 1
    assert Lead.objects.get(pk=upsell.pk).status == "CONVERTED"
    assert client_events(customer.pk)[-1][0] == TimelineKind.LEAD_CONVERTED


# --- buckets that create clients ---------------------------------------------------------------


def test_a_bucket_that_creates_clients_converts_each_processed_lead(client):
    w = World()
    bucket, key = make_bucket(w.project, creates="client", label="Partner", affiliate_id="P-1",
                              default_manager=w.agent.pk)

    response = post_intake(client, bucket, key, {"name": "Kay", "email": "kay@example.com"})
    duplicate = post_intake(client, bucket, key, {"name": "Kay", "email": "kay@example.com"})

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "processed" and body["client"] is not None
    customer = Client.objects.get()
    lead = Lead.objects.get(pk=body["lead"])
    assert (body["client"], lead.client_id, lead.status) == (customer.pk, customer.pk, "CONVERTED")
    assert (customer.bucket_label, customer.affiliate_id, customer.source_id) == (
        "Partner", "P-1", bucket.source_id)
    assert customer.owner_id == lead.owner_id
    assert [e[0] for e in events_of(lead.pk)][-3:] == [
        TimelineKind.STAGE_CHANGED, TimelineKind.LEAD_CONVERTED,
        TimelineKind.LEAD_REGISTERED_AGAIN]
    assert [e[0] for e in client_events(customer.pk)] == [TimelineKind.CLIENT_CREATED]
    assert client_events(customer.pk)[0][2] == "intake"
    assert duplicate.json()["status"] == "duplicate" and duplicate.json()["client"] is None
    assert Client.objects.count() == 1


def test_a_batch_into_a_client_bucket_converts_every_new_lead(client):
    w = World()
    bucket, key = make_bucket(w.project, creates="client")
    people = [{"name": f"P{i}", "email": f"p{i}@example.com"} for i in range(3)]

    response = post_intake(client, bucket, key, people + [people[0]], path="/batch")

    items = response.json()["items"]
    assert [i["status"] for i in items] == ["processed"] * 3 + ["duplicate"]
    assert len({i["client"] for i in items[:3]}) == 3 and items[3]["client"] is None
    assert Client.objects.count() == 3
    assert Lead.objects.filter(status="CONVERTED", client__isnull=False).count() == 3


def test_a_lead_bucket_still_creates_plain_leads():
    w = World()
    bucket, _key = make_bucket(w.project)

    submission = submit(bucket, {"name": "Lee", "email": "lee@example.com"})

    assert Lead.objects.get(pk=submission.lead_id).client_id is None
    assert not Client.objects.exists()


def test_a_failed_conversion_in_processing_leaves_the_submission_new(monkeypatch):
    w = World()
    bucket, _key = make_bucket(w.project, creates="client")
    from leadflow.clients import services

    def broken(*args, **kwargs):
        raise RuntimeError("no database")

    monkeypatch.setattr(services, "convert_lead", broken)
    with pytest.raises(RuntimeError):
        submissions.submit(bucket, {"name": "Mo", "email": "mo@example.com"})

    assert not Lead.objects.filter(email="mo@example.com").exists()
    assert not Client.objects.exists()
    assert bucket.submissions.get().status == "new"
