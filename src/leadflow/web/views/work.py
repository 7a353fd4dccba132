"""Where agents pick up work: the offers inbox, pools with their waiting leads and "give me
the next lead", and in-app notifications."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadflow.accounts import services as accounts
from leadflow.accounts.access import can_configure
from leadflow.accounts.selectors import memberships_of, notifications_for
from leadflow.core.errors import NotFound, PermissionDenied
from leadflow.crm import services
from leadflow.crm.ownership_selectors import (
    inbox_for,
    live_claims_of,
    open_offers_managed_by,
    pools_to_work,
    waiting_leads,
)
from leadflow.crm.services.ownership import is_pool_member
from leadflow.projects.access import get_pool_to_work
from leadflow.web.views.base import ui_view, wants_partial

POOL_PAGE = 50
NOTIFICATION_PAGE = 50


@require_GET
@ui_view
def offer_inbox(request, actor):
    now = timezone.now()
    context = {"now": now, **inbox_for(actor, now)}
    if can_configure(actor.user):
        context["managed_offers"] = open_offers_managed_by(actor, now)
    return render(request, "work/offer_inbox.html", context)


def _availability(request, actor, **extra):
    memberships = memberships_of(actor.user)
    # The header's "Away" follows too; read from these fresh rows, not the user's cache.
    context = {"memberships": memberships, "away_anywhere": any(m.away for m in memberships)}
    return render(request, "work/partials/_availability.html", {**context, **extra})


@require_GET
@ui_view
def pool_list(request, actor):
    context = {"pools": pools_to_work(actor), "memberships": memberships_of(actor.user)}
    return render(request, "work/pool_list.html", context)


@require_POST
@ui_view
def my_away(request, actor, project_id: int):
    """The user marks themselves away in a project (automatic routing skips them) or back."""
    away = request.POST.get("away") == "true"
    membership = accounts.set_away(project_id, actor.user, away, actor=actor)
    done = (f"You are away in {membership.project.name}: automatic routing skips you."
            if away else f"You are back in {membership.project.name}: automatic routing "
            "includes you again.")
    if wants_partial(request):
        return _availability(request, actor, done_message=done)
    messages.success(request, done)
    return redirect("work:pool_list")


@require_GET
@ui_view
def pool_detail(request, actor, pool_id: int):
    pool = get_pool_to_work(actor, pool_id)
    now = timezone.now()
    cursor = request.GET.get("cursor") or None
    leads, next_cursor = waiting_leads(actor, pool, now, limit=POOL_PAGE, cursor=cursor)
    context = {
        "pool": pool, "now": now, "leads": leads, "next_cursor": next_cursor,
        "paged": bool(cursor), "claims": live_claims_of(actor, pool, now),
        "in_pool": is_pool_member(pool.pk, actor.user.pk),
    }
    return render(request, "work/pool_detail.html", context)


@require_POST
@ui_view
def pool_next(request, actor, pool_id: int):
    pool = get_pool_to_work(actor, pool_id)
    try:
        lead = services.next_from_pool(pool, actor=actor)
    except NotFound:
        messages.info(request, "No lead is waiting in this pool.")
        return redirect("work:pool_detail", pool.pk)
    except PermissionDenied as exc:
        messages.error(request, exc.detail)
        return redirect("work:pool_detail", pool.pk)
    until = timezone.localtime(lead.claimed_until)
    messages.success(request, f"You claimed {lead.name} until {until:%Y-%m-%d %H:%M}. "
                              "Take ownership to make it yours.")
    return redirect("crm:lead_detail", lead.pk)


@require_GET
@ui_view
def notification_list(request, actor):
    cursor = request.GET.get("cursor") or None
    rows, next_cursor = notifications_for(actor.user, limit=NOTIFICATION_PAGE, cursor=cursor)
    context = {"notifications": rows, "next_cursor": next_cursor, "paged": bool(cursor)}
    return render(request, "work/notification_list.html", context)


# Notifications that ask the user to act in the offers inbox open there; the rest at the lead.
OPENS_IN_INBOX = {"offer"}


def _notification_target(notification, wanted: str) -> str:
    """Where an opened notification leads, built from its own row: the offers inbox or the
    lead page (`wanted` only picks one of those two), else the notifications page."""
    if wanted not in ("lead", "offer"):
        wanted = "offer" if notification.kind in OPENS_IN_INBOX else "lead"
    if notification.offer_id and (wanted == "offer" or not notification.lead_id):
        return reverse("work:offer_inbox")
    if notification.lead_id:
        return reverse("crm:lead_detail", args=[notification.lead_id])
    return reverse("work:notifications")


@require_GET
@ui_view
def notification_open(request, actor, notification_id: int):
    """Open one of the user's notifications: mark it read, then go to what it tells of. A GET,
    so it is an ordinary link; it changes only the opener's own notification."""
    notification = accounts.open_notification(actor.user, notification_id)
    return redirect(_notification_target(notification, request.GET.get("to", "")))


@require_POST
@ui_view
def notifications_read(request, actor):
    marked = accounts.mark_notifications_read(actor.user)
    messages.success(request, f"{marked} notification{'' if marked == 1 else 's'} marked read.")
    return redirect("work:notifications")
