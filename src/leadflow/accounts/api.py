"""REST routes of users."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from leadflow.accounts import services
from leadflow.accounts.models import Notification, User
from leadflow.core.api import ADMINS, DbId, actor_of, responses
from leadflow.core.errors import NotFound
from leadflow.core.pagination import Ordering, check_limit, paginate

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
def get_user(request, user_id: DbId):
    return user_out(_user_for(actor_of(request), user_id))


@router.patch("/users/{user_id}", response=responses(200, UserOut, 400, 401, 403, 404))
def update_user(request, user_id: DbId, payload: UserPatch):
    actor = actor_of(request)
    user = _user_for(actor, user_id)
    return user_out(services.update_user(user, actor=actor, **payload.dict(exclude_unset=True)))


@router.post("/users/{user_id}/unlock", response=responses(200, UserOut, 401, 403, 404),
             auth=ADMINS)
def unlock_user(request, user_id: DbId):
    """Lift a sign-in lockout or delay of the user at once (admins): their failed sign-ins
    are forgotten."""
    actor = actor_of(request)
    user = _user_for(actor, user_id)
    services.unlock_user(user, actor=actor)
    return user_out(user)


# --- notifications (the caller's own) ----------------------------------------------------------

NOTIFICATION_ORDER = Ordering("created_at", True, kind="datetime")


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    project: int | None
    lead: int | None
    offer: int | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None


class MarkReadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] | None = Field(default=None, max_length=1000)


class MarkedOut(Schema):
    marked: int


def notification_out(n: Notification) -> dict:
    return {"id": n.pk, "kind": n.kind, "message": n.message, "project": n.project_id,
            "lead": n.lead_id, "offer": n.offer_id, "created_at": n.created_at,
            "read_at": n.read_at}


@router.get("/notifications", response=responses(200, NotificationPage, 400, 401))
def list_notifications(request, unread: bool | None = None, limit: int | None = None,
                       cursor: str | None = None):
    """The caller's notifications, newest first; `unread=true`: only those not yet read."""
    qs = Notification.objects.filter(user=request.auth)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    rows, next_cursor = paginate(qs, NOTIFICATION_ORDER, limit=check_limit(limit), cursor=cursor)
    return {"items": [notification_out(n) for n in rows], "next_cursor": next_cursor}


@router.post("/notifications/read", response=responses(200, MarkedOut, 400, 401),
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": MarkReadIn.model_json_schema()}}}})
def mark_notifications_read(request):
    """Mark the caller's notifications read: those named in `ids`, or every unread one (no
    body, or no `ids`)."""
    ids = None
    if request.body.strip():
        try:
            ids = MarkReadIn.model_validate_json(request.body).ids
        except PydanticValidationError as exc:
            raise NinjaValidationError([{**e, "loc": ("body", *e["loc"])}
                                        for e in exc.errors(include_url=False)])
    return {"marked": services.mark_notifications_read(request.auth, ids)}
