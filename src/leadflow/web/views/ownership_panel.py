"""What the lead page's ownership panel shows and which of its actions the viewer gets
(DESIGN §2): managers assign, unassign, route and offer; pool members claim, take ownership
and release; a recipient whose window is open accepts or declines."""

from __future__ import annotations

from django.utils import timezone

from leadflow.crm.access import can
from leadflow.crm.ownership_selectors import (
    live_recipient_of,
    offer_minutes_default,
    open_offer_for,
)
from leadflow.crm.services.ownership import is_pool_member
from leadflow.projects.access import pools_of_project
from leadflow.routing.models import Group, Office
from leadflow.web.forms import AssignForm, OfferForm, pool_members


def ownership_context(actor, lead, *, assign_form=None, offer_form=None, error=None,
                      open_dialog: str = "") -> dict:
    now = timezone.now()
    user_id = actor.user.pk if actor.user else None
    manages = can(actor, lead, "manage")
    offer = open_offer_for(lead, now)
    claim_live = lead.live_claim(now)
    in_pool = is_pool_member(lead.pool_id, user_id)
    context = {
        "now": now,
        "offer": offer,
        "my_recipient": live_recipient_of(offer, actor, now),
        "claim_live": claim_live,
        "can_manage": manages,
        "can_claim": in_pool and lead.is_unassigned(now),
        "can_take": claim_live and lead.claimed_by_id == user_id and lead.owner_id is None,
        "can_release": user_id is not None and (
            lead.owner_id == user_id or (claim_live and lead.claimed_by_id == user_id)
        ),
        "can_unassign": manages and not lead.is_unassigned(now),
        "ownership_error": error,
        "open_dialog": open_dialog,
    }
    if manages:
        members = None
        if assign_form is None or offer_form is None:
            members = pool_members(lead.pool_id)
        if assign_form is None:
            assign_form = AssignForm(
                pools=pools_of_project(lead.project_id), members=members,
                initial={"pool": lead.pool_id, "owner": lead.owner_id},
            )
        if offer_form is None:
            offer_form = offer_form_for(lead, members=members)
        context.update(assign_form=assign_form, offer_form=offer_form)
    return context


def offer_form_for(lead, data=None, *, members=None) -> OfferForm:
    return OfferForm(
        data,
        members=members if members is not None else pool_members(lead.pool_id),
        offices=Office.objects.filter(project_id=lead.project_id).order_by("name"),
        groups=Group.objects.filter(project_id=lead.project_id).order_by("name"),
        initial={"mode": "all", "acceptance_minutes": offer_minutes_default(lead)},
    )
