"""The logged-in user's notifications: newest first in keyset pages, marked read on demand."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leadflow.accounts import services as account_services
from leadflow.accounts.models import Notification
from leadflow.core.pagination import Ordering, paginate
from leadflow.web.views.base import ui_view

ORDER = Ordering("created_at", True, kind="datetime")
PAGE = 50


@ui_view
def notification_list(request, actor):
    qs = Notification.objects.filter(user=actor.user)
    unread_only = request.GET.get("unread") == "true"
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    rows, next_cursor = paginate(qs, ORDER, limit=PAGE, cursor=request.GET.get("cursor"))
    context = {"notifications": rows, "next_cursor": next_cursor, "unread_only": unread_only}
    return render(request, "notifications.html", context)


@require_POST
@ui_view
def notifications_read(request, actor):
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()] or None
    marked = account_services.mark_notifications_read(actor.user, ids)
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect("notifications")
