"""Materializing what time decided: lapsed claims and lapsed offers. Who may act was already
read from the stored timestamps; these sweeps only clear the fields, write the timeline events
and notifications, set-based and idempotent (each row is taken by a conditional UPDATE, so two
sweeps never record the same lapse twice)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from leadflow.accounts import services as accounts
from leadflow.core.actor import Actor
from leadflow.crm.models import Lead
from leadflow.routing.models import Offer, OfferStatus
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

CHUNK = 500
SYSTEM = Actor.system("job")


def lapse_claims(now=None) -> int:
    """Clear claims whose window has ended; CLAIM_LAPSED on each lead."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                Lead.objects.filter(claimed_until__lte=now)
                .values("pk", "project_id", "name", "claimed_by_id", "claimed_until")[:CHUNK]
            )
            if not rows:
                return total
            lapsed = []
            for row in rows:
                if Lead.objects.filter(pk=row["pk"], claimed_until=row["claimed_until"]).update(
                    claimed_by_id=None, claimed_until=None
                ):
                    lapsed.append(row)
            timeline.record_many(
                {"kind": TimelineKind.CLAIM_LAPSED, "actor": SYSTEM, "lead": _Subject(row),
                 "before": {"claimed_by": row["claimed_by_id"],
                            "claimed_until": row["claimed_until"].isoformat()},
                 "occurred_at": row["claimed_until"]}
                for row in lapsed
            )
            total += len(lapsed)


def lapse_offers(now=None) -> int:
    """Close open offers whose last window has ended: status lapsed, the lead's offer mark
    cleared, OFFER_LAPSED on the lead and a notification to whoever made it."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            offers = list(
                Offer.objects.filter(status=OfferStatus.OPEN, ends_at__lte=now)
                .select_related("lead")[:CHUNK]
            )
            if not offers:
                return total
            lapsed = [
                o for o in offers
                if Offer.objects.filter(pk=o.pk, status=OfferStatus.OPEN).update(
                    status=OfferStatus.LAPSED, closed_at=now)
            ]
            for offer in lapsed:
                Lead.objects.filter(pk=offer.lead_id, offer_until=offer.ends_at).update(
                    offer_until=None
                )
                accounts.notify([offer.created_by_id], "offer_lapsed",
                                f"Nobody accepted lead {offer.lead.name} in time.",
                                project_id=offer.project_id, lead_id=offer.lead_id,
                                offer_id=offer.pk)
            timeline.record_many(
                {"kind": TimelineKind.OFFER_LAPSED, "actor": SYSTEM, "lead": offer.lead,
                 "after": {"offer": offer.pk, "owner_kept": offer.keep_original_owner},
                 "occurred_at": offer.ends_at}
                for offer in lapsed
            )
            total += len(lapsed)


class _Subject:
    """A lead's id, project and name for timeline.record_many without loading the lead."""

    def __init__(self, row: dict):
        self.pk, self.project_id, self.name = row["pk"], row["project_id"], row["name"]
