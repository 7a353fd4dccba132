"""Retiring a lead: its owner lets it go, and it waits under Retired leads for a manager to
reassign it. Nothing is deleted."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict
from leadflow.crm.access import check_lead_action
from leadflow.crm.models import Lead
from leadflow.crm.services.ownership import _label, _same_state, close_open_offer
from leadflow.projects.models import OPEN_STATUSES
from leadflow.routing.services import loads
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind


def retire_lead(lead: Lead, *, actor: Actor, reason: str = "") -> Lead:
    """Retire an open lead (managers and the system): `retired_at` is set, the owner and any
    claim are cleared (the first owner stays the original owner) and the owner's open-lead
    count drops. An already retired lead, or one no longer open, is returned unchanged with
    nothing recorded. Timeline: LEAD_RETIRED with the reason.
    Errors: PermissionDenied, Conflict (ownership changed meanwhile)."""
    check_lead_action(actor, lead, "manage")
    if lead.retired_at is not None or lead.status not in OPEN_STATUSES:
        return lead
    now = timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(_same_state(lead), retired_at__isnull=True).update(
            retired_at=now, owner_id=None, claimed_by_id=None, claimed_until=None,
            offer_until=None, original_owner_id=lead.original_owner_id or lead.owner_id,
            updated_at=now,
        )
        if won != 1:
            raise Conflict("The lead changed meanwhile; reload and try again.")
        if lead.offer_until is not None:
            close_open_offer(lead, actor=actor, now=now)
        loads.moved(lead, lead.owner_id, None)
        before = {"owner": _label(lead.owner_id)} if lead.owner_id is not None else {}
        if lead.claimed_by_id is not None and lead.live_claim(now):
            before["claimed_by"] = _label(lead.claimed_by_id)
        timeline.record(TimelineKind.LEAD_RETIRED, actor=actor, lead=lead, before=before,
                        after={"retired": True}, reason=reason)
    lead.refresh_from_db()
    return lead
