"""REST routes of users."""

from __future__ import annotations

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from leadflow.accounts import services
from leadflow.accounts.models import User
from leadflow.core.api import ADMINS, actor_of, responses
from leadflow.core.errors import NotFound

router = Router(tags=["users"])


class MembershipOut(Schema):
    project: int
    role: str


class UserOut(Schema):
    id: int
    email: str
    name: str
    is_admin: bool
    memberships: list[MembershipOut]


class UserIn(Schema):
    model_config = ConfigDict(extra="forbid")

    email: str
    name: str = ""
    password: str | None = None
    is_admin: bool = False


class UserPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    password: str | None = None
    is_admin: bool | None = None
    is_active: bool | None = None


def user_out(user: User) -> dict:
    return {
        "id": user.pk, "email": user.email, "name": user.name, "is_admin": user.is_admin,
        "memberships": [
            {"project": m.project_id, "role": m.role}
            for m in sorted(user.memberships.all(), key=lambda m: m.project_id)
        ],
    }


def users_visible_to(actor):
    """Admins see everyone; others see the members of their projects."""
    qs = User.objects.prefetch_related("memberships")
    if actor.is_admin:
        return qs
    projects = list(actor.user.memberships_by_project())
    return qs.filter(memberships__project_id__in=projects).distinct()


@router.get("/users", response=responses(200, list[UserOut], 401))
def list_users(request):
    return [user_out(u) for u in users_visible_to(actor_of(request)).order_by("email")]


@router.get("/users/me", response=responses(200, UserOut, 401))
def me(request):
    return user_out(request.auth)


@router.post("/users", response=responses(201, UserOut, 400, 401, 403, 409), auth=ADMINS)
def create_user(request, payload: UserIn):
    user = services.create_user(
        payload.email, actor=actor_of(request), name=payload.name, password=payload.password,
        is_admin=payload.is_admin,
    )
    return Status(201, user_out(user))


def _user_for(actor, user_id: int) -> User:
    user = users_visible_to(actor).filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    return user


@router.get("/users/{user_id}", response=responses(200, UserOut, 401, 404))
def get_user(request, user_id: int):
    return user_out(_user_for(actor_of(request), user_id))


@router.patch("/users/{user_id}", response=responses(200, UserOut, 400, 401, 403, 404))
def update_user(request, user_id: int, payload: UserPatch):
    actor = actor_of(request)
    user = _user_for(actor, user_id)
    return user_out(services.update_user(user, actor=actor, **payload.dict(exclude_unset=True)))
