"""Reads behind the ownership screens: a lead's open offer, the offers inbox, pools one works
in, a pool's waiting leads and one's live claims. Shared by the UI (and open to the API)."""

from __future__ import annotations

from django.db.models import Q

from leadflow.accounts.access import managed_by
from leadflow.core.actor import Actor
from leadflow.core.pagination import Ordering, paginate
from leadflow.crm.access import leads_visible_to
from leadflow.crm.models import Lead
from leadflow.projects.models import OPEN_STATUSES, Pool, SystemSettings
from leadflow.routing.models import Offer, OfferRecipient, OfferStatus, RecipientState

POOL_ORDER = Ordering("created_at", False, kind="datetime")
CLOSED_SHOWN = 20
MANAGED_OFFERS_SHOWN = 50


def _attach(offer: Offer, recipients: list[OfferRecipient]) -> Offer:
    for recipient in recipients:
        recipient.offer = offer
    offer.recipient_rows = recipients
    return offer


def open_offer_for(lead: Lead, now) -> Offer | None:
    """The lead's offer that is still open now (not lapsed), with its recipients and users."""
    if not lead.live_offer(now):
        return None
    offer = (Offer.objects.filter(lead_id=lead.pk, status=OfferStatus.OPEN, ends_at__gt=now)
             .select_related("created_by").order_by("-pk").first())
    if offer is None:
        return None
    return _attach(offer, list(offer.recipients.select_related("user").order_by("position")))


def offer_minutes_default(lead: Lead) -> int:
    """The acceptance period an offer of `lead` gets unless told: its source's, else the
    system's."""
    return lead.source.acceptance_minutes or SystemSettings.load().offer_minutes


def inbox_for(actor: Actor, now) -> dict[str, list[OfferRecipient]]:
    """Offers `actor` received, as their recipient rows: `live` (window open now, soonest end
    first), `waiting` (their turn to come, soonest start first) and recent `closed` ones."""
    rows = (OfferRecipient.objects.filter(user_id=actor.user.pk)
            .select_related("offer", "offer__lead", "offer__created_by"))
    pending = Q(answer="", offer__status=OfferStatus.OPEN, window_ends_at__gt=now)
    live = list(rows.filter(pending, window_starts_at__lte=now).order_by("window_ends_at", "pk"))
    waiting = list(rows.filter(pending, window_starts_at__gt=now)
                   .order_by("window_starts_at", "pk"))
    closed = list(rows.exclude(pending).order_by("-offer__created_at", "-pk")[:CLOSED_SHOWN])
    for row in live + waiting + closed:
        row.shown_state = row.state(now)
    return {"live": live, "waiting": waiting, "closed": closed}


def open_offers_managed_by(actor: Actor, now) -> list[Offer]:
    """Open offers of the projects `actor` manages, soonest end first, with recipients."""
    offers = list(
        managed_by(actor, Offer.objects.filter(status=OfferStatus.OPEN, ends_at__gt=now))
        .select_related("lead", "created_by").order_by("ends_at", "pk")[:MANAGED_OFFERS_SHOWN]
    )
    by_offer: dict[int, list[OfferRecipient]] = {}
    recipients = OfferRecipient.objects.filter(offer__in=[o.pk for o in offers])
    for recipient in recipients.select_related("user").order_by("position"):
        by_offer.setdefault(recipient.offer_id, []).append(recipient)
    for offer in offers:
        _attach(offer, by_offer.get(offer.pk, []))
        for recipient in offer.recipient_rows:
            recipient.shown_state = recipient.state(now)
    return offers


def live_recipient_of(offer: Offer | None, actor: Actor, now) -> OfferRecipient | None:
    """The actor's recipient row of `offer` when their window is open now."""
    if offer is None or actor.user is None:
        return None
    for recipient in getattr(offer, "recipient_rows", []):
        if recipient.user_id == actor.user.pk and recipient.state(now) == RecipientState.PENDING:
            return recipient
    return None


def pools_to_work(actor: Actor):
    """Pools `actor` belongs to, and every pool of the projects they manage."""
    pools = Pool.objects.select_related("project")
    if actor.user is None or actor.user.is_admin:
        return pools.order_by("project__name", "-is_default", "name")
    managed = managed_by(actor, Pool.objects.all()).values("pk")
    return (pools.filter(Q(members=actor.user) | Q(pk__in=managed)).distinct()
            .order_by("project__name", "-is_default", "name"))


def waiting_leads(actor: Actor, pool: Pool, now, *, limit: int, cursor: str | None):
    """The pool's unassigned open leads, oldest first (the order "next" takes them in)."""
    leads = (leads_visible_to(actor).unassigned(now=now)
             .filter(pool_id=pool.pk, status__in=OPEN_STATUSES)
             .select_related("stage", "source"))
    return paginate(leads, POOL_ORDER, limit=limit, cursor=cursor)


def live_claims_of(actor: Actor, pool: Pool, now) -> list[Lead]:
    """The leads of `pool` the actor holds a live claim on, the soonest to lapse first."""
    return list(
        leads_visible_to(actor).filter(pool_id=pool.pk, owner__isnull=True,
                                       claimed_by_id=actor.user.pk, claimed_until__gt=now)
        .select_related("stage").order_by("claimed_until", "pk")
    )


def pools_managed_by(actor: Actor) -> list[Pool]:
    """Every pool of the projects `actor` manages (all for admins), by project."""
    return list(managed_by(actor, Pool.objects.select_related("project"))
                .order_by("project__name", "-is_default", "name"))
