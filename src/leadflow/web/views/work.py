"""Where agents pick up work: the offers inbox, pools with their waiting leads and "give me
the next lead", and in-app notifications."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadflow.accounts import services as accounts
from leadflow.accounts.access import can_configure
from leadflow.accounts.selectors import notifications_for
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
from leadflow.web.views.base import ui_view

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


@require_GET
@ui_view
def pool_list(request, actor):
    return render(request, "work/pool_list.html", {"pools": pools_to_work(actor)})


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


@require_POST
@ui_view
def notifications_read(request, actor):
    marked = accounts.mark_notifications_read(actor.user)
    messages.success(request, f"{marked} notification{'' if marked == 1 else 's'} marked read.")
    return redirect("work:notifications")
