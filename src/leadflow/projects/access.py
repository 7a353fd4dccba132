"""Reading configuration objects the actor may see; invisible is NotFound."""

from __future__ import annotations

from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.projects.models import (
    CallOutcome,
    FieldDefinition,
    LostReason,
    Pool,
    Project,
    Source,
    Stage,
)


def projects_visible_to(actor: Actor):
    if actor.user is None or actor.user.is_admin:
        return Project.objects.all()
    return Project.objects.filter(pk__in=list(actor.user.memberships_by_project()))


def get_project_for(actor: Actor, project_id: int) -> Project:
    try:
        return projects_visible_to(actor).get(pk=project_id)
    except (Project.DoesNotExist, ValueError, TypeError):
        raise NotFound("Project not found.")


def project_for_new_lead(actor: Actor, project_id: int | None) -> Project:
    """The named project, or the caller's only one; several without a choice is 400."""
    if project_id is not None:
        return get_project_for(actor, project_id)
    candidates = list(projects_visible_to(actor)[:2])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFound("You are not a member of any project.")
    raise ValidationFailed.one("project", "required", "Say which project the lead belongs to.")


def _get_for(model, actor: Actor, pk: int, label: str):
    try:
        return model.objects.select_related("project").get(
            pk=pk, project__in=projects_visible_to(actor)
        )
    except (model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"{label} not found.")


def get_source_for(actor: Actor, pk: int) -> Source:
    return _get_for(Source, actor, pk, "Source")


def get_pool_for(actor: Actor, pk: int) -> Pool:
    return _get_for(Pool, actor, pk, "Pool")


def get_stage_for(actor: Actor, pk: int) -> Stage:
    return _get_for(Stage, actor, pk, "Stage")


def get_lost_reason_for(actor: Actor, pk: int) -> LostReason:
    return _get_for(LostReason, actor, pk, "Lost reason")


def get_call_outcome_for(actor: Actor, pk: int) -> CallOutcome:
    return _get_for(CallOutcome, actor, pk, "Call outcome")


def get_field_definition_for(actor: Actor, pk: int) -> FieldDefinition:
    return _get_for(FieldDefinition, actor, pk, "Custom field")


def active_lost_reasons(project_id: int) -> list[LostReason]:
    return list(LostReason.objects.filter(project_id=project_id, active=True))


def active_call_outcomes(project_id: int) -> list[CallOutcome]:
    return list(CallOutcome.objects.filter(project_id=project_id, active=True))


def get_pool_to_work(actor: Actor, pk: int) -> Pool:
    """A pool whose leads the actor may work: a member's pool, or any pool of a project they
    manage. Invisible is NotFound; a visible pool of someone else's is PermissionDenied."""
    from leadflow.accounts.access import is_manager
    from leadflow.core.errors import PermissionDenied

    pool = get_pool_for(actor, pk)
    if is_manager(actor, pool.project_id):
        return pool
    if actor.user is not None and pool.members.filter(pk=actor.user.pk).exists():
        return pool
    raise PermissionDenied("You are not a member of this pool.")


def pools_of_project(project_id: int) -> list[Pool]:
    """A project's pools, the default one first (for choosing among them)."""
    return list(Pool.objects.filter(project_id=project_id).order_by("-is_default", "name"))
