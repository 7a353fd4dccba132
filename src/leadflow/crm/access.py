"""Object-level access to leads. A lead that exists but is not visible is NotFound, exactly
like a missing one; visible but not allowed is PermissionDenied."""

from __future__ import annotations

from typing import Literal

from leadflow.accounts.access import is_manager
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound, PermissionDenied
from leadflow.crm.models import Lead, LeadQuerySet

LeadAction = Literal["view", "change", "stage", "manage", "delete"]


def leads_visible_to(actor: Actor) -> LeadQuerySet:
    if actor.user is None:
        return Lead.objects.filter(merged_into__isnull=True)
    return Lead.objects.visible_to(actor.user)


def get_lead_for(
    actor: Actor, lead_id: int, action: LeadAction = "view", *, merged_into: Lead | None = None
) -> Lead:
    """The lead if `actor` may see it, else NotFound; then the action is checked. With
    `merged_into`, a lead already merged into that (visible) survivor is found too, so that
    repeating a merge is answered, not refused."""
    try:
        lead = leads_visible_to(actor).select_related("project", "stage", "source").get(pk=lead_id)
    except (Lead.DoesNotExist, ValueError, TypeError):
        lead = None
        if merged_into is not None:
            lead = Lead.objects.filter(pk=lead_id, merged_into=merged_into).first()
        if lead is None:
            raise NotFound("Lead not found.")
    check_lead_action(actor, lead, action)
    return lead


def can(actor: Actor, lead: Lead, action: LeadAction) -> bool:
    if is_manager(actor, lead.project_id):
        return True
    if action in ("manage", "delete"):
        return False
    if action == "view":
        return True
    user = actor.user
    return user is not None and lead.owner_id == user.pk


def check_lead_action(actor: Actor, lead: Lead, action: LeadAction) -> None:
    if not can(actor, lead, action):
        messages = {
            "change": "Only the lead's owner or a manager may change it.",
            "stage": "Only the lead's owner or a manager may move its stage.",
            "manage": "Only a manager may do this.",
            "delete": "Only a manager may delete a lead.",
        }
        raise PermissionDenied(messages.get(action, "Not allowed."))




def offers_for_recipient(actor: Actor, *, live: bool = False):
    """Offers `actor` is a recipient of; `live`: those whose window is open for them now."""
    from django.utils import timezone

    from leadflow.routing.models import Offer, OfferRecipient, live_recipient_q

    mine = OfferRecipient.objects.filter(user_id=actor.user.pk if actor.user else None)
    if live:
        mine = mine.filter(live_recipient_q(timezone.now()))
    return Offer.objects.filter(pk__in=mine.values("offer_id"))


def get_offer_for(actor: Actor, offer_id: int):
    """An offer the actor received, or one of a lead they manage; otherwise NotFound."""
    from leadflow.routing.models import Offer

    offer = Offer.objects.select_related("lead").filter(pk=offer_id).first() if isinstance(
        offer_id, int) else None
    if offer is None:
        raise NotFound("Offer not found.")
    user_id = actor.user.pk if actor.user else None
    if is_manager(actor, offer.project_id) and (
        actor.user is None or actor.user.is_admin
        or offer.project_id in actor.user.memberships_by_project()
    ):
        return offer
    if offer.recipients.filter(user_id=user_id).exists():
        return offer
    raise NotFound("Offer not found.")


def get_lead_in_my_pools(actor: Actor, lead_id: int) -> Lead:
    """For claim and take-ownership: a visible lead, or any lead of a pool the actor belongs
    to, so that a pool member who lost a race for it hears 409, not 404."""
    try:
        return get_lead_for(actor, lead_id, "view")
    except NotFound:
        lead = None
        if actor.user is not None and isinstance(lead_id, int):
            lead = (Lead.objects.select_related("project", "stage", "source")
                    .filter(pk=lead_id, merged_into__isnull=True, pool__members=actor.user)
                    .first())
        if lead is None:
            raise
        return lead
