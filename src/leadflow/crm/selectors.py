"""Reads shared by the API and the UI."""

from __future__ import annotations

from django.utils import timezone

from leadflow.core.pagination import Ordering, paginate
from leadflow.crm.models import Lead
from leadflow.tags.selectors import tag_names
from leadflow.timeline.models import TimelineEvent

TIMELINE_ORDER = Ordering("occurred_at", True, kind="datetime")


def lead_ids_of_history(lead: Lead) -> list[int]:
    """The lead and every lead merged into it, directly or through others."""
    ids, frontier = [lead.pk], [lead.pk]
    while frontier:
        merged = Lead.objects.filter(merged_into_id__in=frontier)
        frontier = list(merged.values_list("pk", flat=True))
        ids.extend(frontier)
    return ids


def timeline_for(lead: Lead, *, limit: int, cursor: str | None):
    """The lead's events newest first, merged-away leads' included, in keyset pages."""
    events = TimelineEvent.objects.filter(lead_id__in=lead_ids_of_history(lead))
    return paginate(events, TIMELINE_ORDER, limit=limit, cursor=cursor)


def lead_out(lead: Lead, now=None) -> dict:
    """The API shape of a lead (DESIGN §4, plus `assigned_at` and `offered_until`). A lapsed
    claim or offer reads as none."""
    now = now or timezone.now()
    live = lead.claimed_until is not None and lead.claimed_until > now
    return {
        "id": lead.pk,
        "project": lead.project_id,
        "name": lead.name,
        "email": lead.email,
        "phones": lead.phones,
        "company": lead.company,
        "timezone": lead.timezone,
        "country": lead.country,
        "language": lead.language,
        "source": lead.source_id,
        "bucket": lead.bucket_id,
        "bucket_label": lead.bucket_label,
        "affiliate_id": lead.affiliate_id,
        "utm": lead.utm,
        "stage": lead.stage_id,
        "status": lead.status,
        "lost_reason": lead.lost_reason,
        "owner": lead.owner_id,
        "pool": lead.pool_id,
        "claimed_by": lead.claimed_by_id if live else None,
        "claimed_until": lead.claimed_until if live else None,
        "original_owner": lead.original_owner_id,
        "assigned_at": lead.assigned_at,
        "offered_until": lead.offer_until if lead.live_offer(now) else None,
        "tags": tag_names(lead),
        "next_call_at": lead.next_call_at,
        "last_activity_at": lead.last_activity_at,
        "retired": lead.retired_at is not None,
        "list": lead.list_id,
        "client": lead.client_id,
        "custom": lead.custom,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
    }


def event_out(event: TimelineEvent) -> dict:
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at,
        "kind": event.kind,
        "actor": {"id": event.actor_id, "email": event.actor_label} if event.actor_label
        and event.actor_label != "system" else None,
        "channel": event.channel,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "batch_id": str(event.batch_id) if event.batch_id else None,
    }


OFFER_ORDER = Ordering("created_at", True, kind="datetime")


def offer_out(offer, now=None) -> dict:
    """The API shape of an offer; statuses and recipient states as of now."""
    now = now or timezone.now()
    recipients = list(offer.recipients.all())
    for recipient in recipients:
        recipient.offer = offer
    return {
        "id": offer.pk,
        "lead": offer.lead_id,
        "status": offer.effective_status(now),
        "mode": offer.mode,
        "recipients": [
            {"user": r.user_id, "state": r.state(now), "window_starts_at": r.window_starts_at,
             "window_ends_at": r.window_ends_at}
            for r in recipients
        ],
        "acceptance_minutes": offer.acceptance_minutes,
        "keep_original_owner": offer.keep_original_owner,
        "note": offer.note,
        "created_by": offer.created_by_id,
        "created_at": offer.created_at,
        "ends_at": offer.ends_at,
        "accepted_by": offer.accepted_by_id,
    }
