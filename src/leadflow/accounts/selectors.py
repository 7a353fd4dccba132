"""Reads of a user's own rows: in-app notifications."""

from __future__ import annotations

from leadflow.accounts.models import Notification
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
