"""Navigation for the page shell, from the same predicates the services use."""

from functools import cache

from leadflow.accounts.access import can_configure

# Beyond this many unread notifications the badge says "99+"; the count stops there.
UNREAD_SHOWN = 99


def unread_notifications(user) -> int:
    """How many unread notifications `user` has, up to UNREAD_SHOWN + 1: one COUNT over a
    LIMIT on the partial unread index, so a flood of notifications never slows a page."""
    from leadflow.accounts.models import Notification

    return Notification.objects.filter(user=user, read_at__isnull=True)[:UNREAD_SHOWN + 1].count()


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: templates call it only where the page shell shows the badge (full pages),
    # never for htmx fragments.
    return {"nav_can_configure": can_configure(user), "nav_is_admin": user.is_admin,
            "nav_unread": cache(lambda: unread_notifications(user))}
