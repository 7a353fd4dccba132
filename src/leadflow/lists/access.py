"""Who may see lists and campaigns. They are configuration (DESIGN §2): managers of the
project and admins read and change them; agents never reach them. A list or campaign of a
project the actor does not belong to is NotFound; of a project they belong to but do not
manage, PermissionDenied."""

from __future__ import annotations

from leadflow.accounts.access import managed_by, require_manager
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound
from leadflow.lists.models import Campaign, LeadList
from leadflow.projects.access import projects_visible_to


def lists_visible_to(actor: Actor):
    """The lists of the projects the actor manages (all of them for admins and the system)."""
    return managed_by(actor, LeadList.objects.all())


def campaigns_visible_to(actor: Actor):
    return managed_by(actor, Campaign.objects.all())


def get_list_for(actor: Actor, list_id: int) -> LeadList:
    """A list of a project the actor belongs to, else NotFound; then managers only."""
    found = (LeadList.objects.select_related("project", "owner")
             .filter(pk=list_id, project__in=projects_visible_to(actor)).first()
             if isinstance(list_id, int) else None)
    if found is None:
        raise NotFound("List not found.")
    require_manager(actor, found.project_id)
    return found


def get_campaign_for(actor: Actor, campaign_id: int) -> Campaign:
    """A campaign of a project the actor belongs to, else NotFound; then managers only."""
    found = (Campaign.objects.select_related("project", "own_list")
             .filter(pk=campaign_id, project__in=projects_visible_to(actor)).first()
             if isinstance(campaign_id, int) else None)
    if found is None:
        raise NotFound("Campaign not found.")
    require_manager(actor, found.project_id)
    return found
