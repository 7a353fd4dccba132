"""Reads of lists and campaigns shared by the API and the UI."""

from __future__ import annotations

from django.db.models import Q

from leadflow.core.pagination import Ordering
from leadflow.crm.models import Lead
from leadflow.lists.models import Campaign, CampaignList, LeadList

NAME_ORDER = Ordering("name", False)


def assigned_list_ids(campaign: Campaign) -> list[int]:
    return list(CampaignList.objects.filter(campaign=campaign).values_list("list_id", flat=True))


def campaign_leads(campaign: Campaign, leads=None):
    """The campaign's leads: those whose home list is the campaign's own list or a list
    assigned to it, and is enabled. A disabled list keeps its leads out (its own list too)."""
    leads = Lead.objects.all() if leads is None else leads
    assigned = CampaignList.objects.filter(campaign=campaign).values("list_id")
    lists = LeadList.objects.filter(Q(pk=campaign.own_list_id) | Q(pk__in=assigned),
                                    enabled=True)
    return leads.filter(list_id__in=lists.values("pk"), merged_into__isnull=True)


def lists_of_project(project_id: int, *, own: bool = True) -> list[LeadList]:
    """A project's lists by name; `own=False` leaves campaigns' own lists out."""
    qs = LeadList.objects.filter(project_id=project_id)
    if not own:
        qs = qs.exclude(pk__in=Campaign.objects.values("own_list_id"))
    return list(qs.order_by("name", "pk"))


def campaigns_of_project(project_id: int) -> list[Campaign]:
    return list(Campaign.objects.filter(project_id=project_id).select_related("own_list")
                .order_by("name", "pk"))


def own_campaigns(lists) -> dict[int, int]:
    """list id → id of the campaign owning it, for the lists given."""
    ids = [lead_list.pk for lead_list in lists]
    return dict(Campaign.objects.filter(own_list_id__in=ids).values_list("own_list_id", "pk"))


def list_out(lead_list: LeadList, campaign_id: int | None = None) -> dict:
    return {
        "id": lead_list.pk, "project": lead_list.project_id, "name": lead_list.name,
        "timezone": lead_list.timezone, "owner": lead_list.owner_id,
        "description": lead_list.description, "enabled": lead_list.enabled,
        "campaign": campaign_id, "created_at": lead_list.created_at,
        "updated_at": lead_list.updated_at,
    }


def campaign_out(campaign: Campaign, lists: list[int] | None = None) -> dict:
    return {
        "id": campaign.pk, "project": campaign.project_id, "name": campaign.name,
        "channel": campaign.channel, "description": campaign.description,
        "active": campaign.active, "own_list": campaign.own_list_id,
        "lists": sorted(assigned_list_ids(campaign) if lists is None else lists),
        "created_at": campaign.created_at, "updated_at": campaign.updated_at,
    }
