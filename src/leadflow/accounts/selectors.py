"""Reads of a user's own rows: in-app notifications and memberships."""

from __future__ import annotations

from leadflow.accounts.models import Membership, Notification
from leadflow.core.pagination import Ordering, paginate

NOTIFICATION_ORDER = Ordering("created_at", True, kind="datetime")
# The bell shows "99+" beyond this: counting stops there, so the query stays cheap.
UNREAD_SHOWN = 99


def unread_count(user) -> int:
    """How many unread notifications `user` has, up to UNREAD_SHOWN + 1 (one indexed query)."""
    unread = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    return unread.order_by()[: UNREAD_SHOWN + 1].count()


def notifications_for(user, *, limit: int, cursor: str | None):
    """The user's notifications, newest first, in keyset pages."""
    return paginate(Notification.objects.filter(user_id=user.pk), NOTIFICATION_ORDER,
                    limit=limit, cursor=cursor)


def memberships_of(user) -> list[Membership]:
    """The user's memberships with their projects, by project name (their away flags)."""
    return list(Membership.objects.filter(user_id=user.pk).select_related("project")
                .order_by("project__name", "project_id"))


def away_anywhere(user) -> bool:
    """Whether the user is marked away in any project (the page shell says so)."""
    return any(m.away for m in user.memberships_by_project().values())
