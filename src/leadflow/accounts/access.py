"""Project-level permission checks: memberships, roles and grants."""

from __future__ import annotations

from leadflow.accounts.models import Grant, Membership, Role
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound, PermissionDenied


def membership(user, project_id: int) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.memberships_by_project().get(project_id)


def member_project_ids(user) -> list[int]:
    if user is None:
        return []
    return list(user.memberships_by_project())


def has_grant(actor: Actor, project_id: int, grant: str) -> bool:
    if actor.user is None:
        return actor.channel in ("job", "cli", "intake")
    if actor.user.is_admin:
        return True
    m = membership(actor.user, project_id)
    return m is not None and m.has(grant)


def is_manager(actor: Actor, project_id: int) -> bool:
    """Manager of the project (or admin, or the system)."""
    if actor.user is None or actor.user.is_admin:
        return actor.user is not None or actor.channel in ("job", "cli", "intake")
    m = membership(actor.user, project_id)
    return m is not None and m.role == Role.MANAGER


def require_member(actor: Actor, project_id: int) -> None:
    """The project must be one the actor belongs to; otherwise it does not exist for them."""
    if actor.user is None or actor.user.is_admin:
        return
    if membership(actor.user, project_id) is None:
        raise NotFound("Project not found.")


def require(actor: Actor, grant: str, project_id: int) -> None:
    require_member(actor, project_id)
    if not has_grant(actor, project_id, grant):
        raise PermissionDenied(f"You need the '{grant}' permission in this project.")


def require_manager(actor: Actor, project_id: int) -> None:
    require_member(actor, project_id)
    if not is_manager(actor, project_id):
        raise PermissionDenied("Only a manager of this project may do this.")


def require_admin(actor: Actor) -> None:
    if actor.user is None and actor.channel == "cli":
        return
    if not actor.is_admin:
        raise PermissionDenied("Only an admin may do this.")


def managed_by(actor: Actor, qs, field: str = "project_id"):
    """`qs` narrowed to the projects `actor` manages; admins and the system see all."""
    if actor.user is None or actor.user.is_admin:
        return qs
    managed = [m.project_id for m in actor.user.memberships_by_project().values()
               if m.role == Role.MANAGER]
    return qs.filter(**{f"{field}__in": managed})


def can_configure(user) -> bool:
    """Admins and managers of at least one project reach configuration screens."""
    if user.is_admin:
        return True
    return any(m.role == Role.MANAGER for m in user.memberships_by_project().values())


__all__ = [
    "Grant",
    "can_configure",
    "has_grant",
    "is_manager",
    "managed_by",
    "member_project_ids",
    "membership",
    "require",
    "require_admin",
    "require_manager",
    "require_member",
]
