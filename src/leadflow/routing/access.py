"""Reading routing configuration the actor may see: offices, groups and distribution rules.

They are configuration, so only managers of their project (and admins) see them. A direct id in
a project the actor does not belong to is NotFound, like a missing one; in a project where the
actor is only an agent it is PermissionDenied (visible project, action not allowed)."""

from __future__ import annotations

from leadflow.accounts.access import managed_by, require_manager
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound
from leadflow.projects.access import projects_visible_to
from leadflow.routing.models import DistributionRule, Group, Office


def offices_visible_to(actor: Actor):
    return managed_by(actor, Office.objects.all())


def groups_visible_to(actor: Actor):
    return managed_by(actor, Group.objects.all())


def rules_visible_to(actor: Actor):
    return managed_by(actor, DistributionRule.objects.all())


def _get_for(model, actor: Actor, pk: int, label: str):
    try:
        found = model.objects.select_related("project").get(
            pk=pk, project__in=projects_visible_to(actor)
        )
    except (model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"{label} not found.")
    require_manager(actor, found.project_id)
    return found


def get_office_for(actor: Actor, pk: int) -> Office:
    return _get_for(Office, actor, pk, "Office")


def get_group_for(actor: Actor, pk: int) -> Group:
    return _get_for(Group, actor, pk, "Group")


def get_rule_for(actor: Actor, pk: int) -> DistributionRule:
    return _get_for(DistributionRule, actor, pk, "Distribution rule")
