"""Who may see and change tags, tag rules and change requests. Invisible is NotFound; visible
but not allowed is PermissionDenied."""

from __future__ import annotations

from django.db.models import Q

from leadflow.accounts.access import has_grant, is_manager, managed_by, require_manager
from leadflow.accounts.models import Grant
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound
from leadflow.projects.access import projects_visible_to
from leadflow.tags.models import ChangeRequest, Tag, TagRule


def tags_directly(actor: Actor, project_id: int) -> bool:
    """Managers (and holders of `manage_leads`) apply any tag directly and decide change
    requests; everyone else needs the lead to be theirs and a manager for non-modifiable tags."""
    return is_manager(actor, project_id) or has_grant(actor, project_id, Grant.MANAGE_LEADS)


def tags_visible_to(actor: Actor):
    """The tags of the projects the actor belongs to (every member picks tags by name)."""
    return Tag.objects.filter(project__in=projects_visible_to(actor))


def get_tag_for(actor: Actor, tag_id: int) -> Tag:
    tag = tags_visible_to(actor).select_related("project").filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("Tag not found.")
    return tag


def rules_visible_to(actor: Actor):
    """Tag rules are configuration: only managers of the project (and admins) read them."""
    return managed_by(actor, TagRule.objects.all())


def get_rule_for(actor: Actor, rule_id: int) -> TagRule:
    """A rule of a project the actor belongs to, else NotFound; then only managers."""
    rule = (TagRule.objects.select_related("project", "tag")
            .filter(pk=rule_id, project__in=projects_visible_to(actor)).first())
    if rule is None:
        raise NotFound("Tag rule not found.")
    require_manager(actor, rule.project_id)
    return rule


def change_requests_visible_to(actor: Actor):
    """Managers see the requests of the projects they manage; everyone their own ones."""
    qs = ChangeRequest.objects.all()
    user = actor.user
    if user is None or user.is_admin:
        return qs
    managed = [m.project_id for m in user.memberships_by_project().values()
               if tags_directly(actor, m.project_id)]
    return qs.filter(Q(project_id__in=managed) | Q(requested_by_id=user.pk))


def get_change_request_for(actor: Actor, request_id: int) -> ChangeRequest:
    found = (change_requests_visible_to(actor).select_related("tag", "lead", "requested_by",
                                                                 "decided_by")
             .filter(pk=request_id).first())
    if found is None:
        raise NotFound("Change request not found.")
    return found
