"""Navigation for the page shell, from the same predicates the services use."""

from leadflow.accounts.access import can_configure
from leadflow.accounts.selectors import away_anywhere, unread_count


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_can_configure": can_configure(user), "nav_is_admin": user.is_admin,
            # Called by the page shell only (a template calls a callable), never by partials.
            "nav_unread": lambda: unread_count(user),
            "nav_away": lambda: away_anywhere(user)}
