"""Use cases of clients: convert a lead (into a new client or an existing one), edit a client's
contact fields, change its owner; and the clients a lead's duplicate keys point to.

Each function checks access, changes rows in one transaction and records its timeline events
in that same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leadflow.clients.access import check_client_action, clients_visible_to
from leadflow.clients.models import Client
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ErrorCollector, ValidationFailed
from leadflow.crm.access import check_lead_action
from leadflow.crm.contact import clean_contact, require_reachable
from leadflow.crm.models import Lead
from leadflow.crm.services.leads import set_stage
from leadflow.intake.models import DuplicateKey
from leadflow.projects.models import Stage, Status
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

CLIENT_CONTACT_FIELDS = ("name", "email", "phones", "company")
INHERITED = ("project_id", "owner_id", "source_id", "bucket_label", "affiliate_id")


@dataclass
class Conversion:
    """What a conversion answered: the client, the lead, and whether this call converted it
    (False when the lead had been converted already, by this caller or a concurrent one)."""

    client: Client
    lead: Lead
    converted: bool


def convert_lead(
    lead: Lead, *, actor: Actor, into: Client | None = None, reason: str = ""
) -> Conversion:
    """Convert a lead: move it to its project's Converted stage (through `set_stage`, with its
    rules and event) and create a client from it, or link it to `into`, an existing client of
    the same project. A new client takes the lead's contact details and inherits its project,
    owner, source, bucket label and affiliate ID; the lead stays as history under the client.
    An upsell lead converts into its own client.

    All in one transaction. The lead is claimed for conversion by a conditional update, so a
    repeated or concurrent conversion creates nothing and returns the client of the first.
    Who: the lead's owner (converting moves it forward) or a manager.
    Timeline: STAGE_CHANGED and LEAD_CONVERTED on the lead; CLIENT_CREATED on a new client, or
    LEAD_CONVERTED on the existing one.
    Errors: PermissionDenied, ValidationFailed (client of another project, or not the upsell
    lead's client), Conflict (lost or merged lead; already converted into another client)."""
    check_lead_action(actor, lead, "stage")
    if lead.converted_at is not None:
        return _already_converted(lead, into)
    if lead.merged_into_id is not None:
        raise Conflict("This lead was merged into another lead.", code="merged")
    if lead.status == Status.LOST:
        raise Conflict("A lost lead cannot be converted.", code="lost")
    if into is not None:
        if into.project_id != lead.project_id:
            raise ValidationFailed.one("client", "other_project",
                                       "The client must be in the lead's project.")
        if lead.client_id is not None and lead.client_id != into.pk:
            raise ValidationFailed.one("client", "other_client",
                                       f"This lead belongs to client #{lead.client_id}.")
    converted = Stage.objects.get(project_id=lead.project_id, status=Status.CONVERTED)
    now = timezone.now()
    batch = uuid.uuid4()
    with transaction.atomic():
        won = Lead.objects.filter(
            pk=lead.pk, converted_at__isnull=True, merged_into__isnull=True
        ).exclude(status=Status.LOST).update(converted_at=now)
        if won != 1:
            lead.refresh_from_db()
            if lead.converted_at is not None:
                return _already_converted(lead, into)
            raise Conflict("The lead was lost or merged meanwhile.", code="conflict")
        if lead.stage_id != converted.pk:
            set_stage(lead, converted, actor=actor, reason=reason)
        client = into if into is not None else lead.client
        if client is None:
            client = _new_client(lead, now)
            timeline.record(
                TimelineKind.CLIENT_CREATED, actor=actor, client=client, reason=reason,
                batch_id=batch, after={
                    "lead": lead.pk, "name": client.name, "email": client.email,
                    "phones": client.phones, "company": client.company,
                    "owner": lead.owner.email if lead.owner_id else None,
                    "source": lead.source.name, "bucket_label": client.bucket_label,
                    "affiliate_id": client.affiliate_id,
                },
            )
            merged = False
        else:
            timeline.record(TimelineKind.LEAD_CONVERTED, actor=actor, client=client,
                            reason=reason, batch_id=batch, after={"lead": lead.pk,
                                                                  "name": lead.name})
            merged = True
        Lead.objects.filter(pk=lead.pk).update(client=client, updated_at=now)
        timeline.record(
            TimelineKind.LEAD_CONVERTED, actor=actor, lead=lead, reason=reason, batch_id=batch,
            before={"client": lead.client_id},
            after={"client": client.pk, "client_name": client.name, "existing_client": merged},
        )
    lead.refresh_from_db()
    return Conversion(client=client, lead=lead, converted=True)


def _already_converted(lead: Lead, into: Client | None) -> Conversion:
    client = Client.objects.get(pk=lead.client_id)
    if into is not None and into.pk != client.pk:
        raise Conflict(f"This lead was converted into client #{client.pk} already.",
                       code="converted", client=client.pk)
    return Conversion(client=client, lead=lead, converted=False)


def _new_client(lead: Lead, now) -> Client:
    return Client.objects.create(
        project_id=lead.project_id, name=lead.name, email=lead.email, email_key=lead.email_key,
        phones=list(lead.phones), company=lead.company, owner_id=lead.owner_id,
        source_id=lead.source_id, bucket_label=lead.bucket_label,
        affiliate_id=lead.affiliate_id, created_at=now, updated_at=now,
    )


def client_candidates(lead: Lead, *, actor: Actor) -> list[Client]:
    """Existing clients the lead may be merged into on conversion: the clients of leads that
    share one of its duplicate keys (matching a client means matching its lead), visible to
    `actor`, in the lead's project."""
    keys = list(DuplicateKey.objects.filter(lead=lead).values_list("scope", "kind", "value"))
    if not keys:
        return []
    condition = Q()
    for scope, kind, value in keys:
        condition |= Q(scope=scope, kind=kind, value=value)
    matching = DuplicateKey.objects.filter(condition).exclude(lead=lead).values("lead_id")
    client_ids = Lead.objects.filter(pk__in=matching, client__isnull=False).values("client_id")
    qs = clients_visible_to(actor).filter(project_id=lead.project_id, pk__in=client_ids)
    if lead.client_id is not None:
        qs = qs.exclude(pk=lead.client_id)
    return list(qs.select_related("owner").order_by("-created_at", "-pk")[:20])


def update_client(client: Client, changes: dict[str, Any], *, actor: Actor,
                  reason: str = "") -> Client:
    """Change a client's contact fields (name, email, phones, company) — its owner or a
    manager — and, with `owner` in `changes` (a user of the project, or None), its owner
    (managers). Source and project never change.
    Timeline: CLIENT_UPDATED with before/after of the contact fields that really changed,
    CLIENT_OWNER_CHANGED; nothing when nothing changed.
    Errors: PermissionDenied, ValidationFailed."""
    check_client_action(actor, client, "manage" if "owner" in changes else "change")
    errors = ErrorCollector()
    for key in changes:
        if key in ("source", "project"):
            errors.add(key, "immutable", f"{key} cannot be changed.")
        elif key not in CLIENT_CONTACT_FIELDS and key != "owner":
            errors.add(key, "unknown_field", f"'{key}' cannot be changed here.")
    contact = {k: v for k, v in changes.items() if k in CLIENT_CONTACT_FIELDS}
    cleaned = clean_contact(contact, region=client.project.default_region, errors=errors)
    merged = {k: getattr(client, k) for k in CLIENT_CONTACT_FIELDS} | cleaned
    if not merged.get("name"):
        errors.add("name", "required", "Name is required.")
    require_reachable(merged, errors)
    owner = changes.get("owner")
    if owner is not None and client.project_id not in owner.memberships_by_project():
        errors.add("owner", "not_member", f"{owner} is not in this project.")
    errors.raise_if_any()
    before = {k: getattr(client, k) for k, v in cleaned.items() if getattr(client, k) != v}
    after = {k: cleaned[k] for k in before}
    new_owner = "owner" in changes and (owner.pk if owner else None) != client.owner_id
    if not before and not new_owner:
        return client
    with transaction.atomic():
        fields = ["updated_at"]
        if before:
            for key, value in after.items():
                setattr(client, key, value)
            client.email_key = client.email.casefold()
            fields += [*after, "email_key"]
            timeline.record(TimelineKind.CLIENT_UPDATED, actor=actor, client=client,
                            before=before, after=after, reason=reason)
        if new_owner:
            was = client.owner.email if client.owner_id else None
            client.owner = owner
            fields.append("owner")
            timeline.record(TimelineKind.CLIENT_OWNER_CHANGED, actor=actor, client=client,
                            before={"owner": was}, after={"owner": owner.email if owner else None},
                            reason=reason)
        client.updated_at = timezone.now()
        client.save(update_fields=fields)
    return client


def client_leads(client: Client):
    """The client's leads, newest first: the ones converted into it and its upsell leads."""
    return (Lead.objects.filter(client=client).select_related("stage", "owner")
            .order_by("-created_at", "-pk"))
