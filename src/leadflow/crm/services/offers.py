"""Offers: a lead proposed to users, offices or groups — all at once or one after another —
each recipient for an acceptance window; the first to accept becomes owner.

Every window is stored when the offer is made (and moved forward when someone in a sequence
declines), so whether a recipient may accept, and whether the offer has lapsed, is read from the
clock: no job has to run for an offer to move on or lapse. The sweep only materializes lapsed
offers (status, timeline, notification)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from leadflow.accounts import services as accounts
from leadflow.accounts.models import User
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ErrorCollector, NotFound
from leadflow.crm.access import check_lead_action
from leadflow.crm.models import Lead
from leadflow.crm.services.ownership import close_open_offer, is_pool_member
from leadflow.projects.models import Pool, SystemSettings
from leadflow.routing.models import (
    Group,
    Offer,
    OfferMode,
    OfferRecipient,
    OfferStatus,
    Office,
    RecipientState,
)
from leadflow.routing.services import loads
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

MAX_MINUTES = 7 * 24 * 60
MAX_RECIPIENTS = 200


def _recipients(lead: Lead, users: list[int], offices: list[int], groups: list[int],
                errors: ErrorCollector) -> list[int]:
    """Recipient user ids in order: the users named, then the offices' and the groups'
    members. Named users must be in the lead's pool; team members who are not are left out."""
    pool_members = set(
        Pool.members.through.objects.filter(pool_id=lead.pool_id).values_list("user_id",
                                                                              flat=True)
    )
    ordered: list[int] = []
    known = set(User.objects.filter(pk__in=users, is_active=True).values_list("pk", flat=True))
    for user_id in users:
        if user_id not in known:
            errors.add("recipients", "invalid", f"No user {user_id}.")
        elif user_id not in pool_members:
            errors.add("recipients", "not_in_pool", f"User {user_id} is not in the lead's pool.")
        else:
            ordered.append(user_id)
    for model, ids, name in ((Office, offices, "offices"), (Group, groups, "groups")):
        teams = {t.pk: t for t in model.objects.filter(pk__in=ids, project_id=lead.project_id)}
        for team_id in ids:
            if team_id not in teams:
                errors.add(name, "invalid", f"No {name[:-1]} {team_id} in this project.")
                continue
            members = sorted(teams[team_id].members.values_list("pk", flat=True))
            ordered += [u for u in members if u in pool_members]
    return list(dict.fromkeys(ordered))


def make_offer(
    lead: Lead, *, actor: Actor, recipients: list[int] = (), offices: list[int] = (),
    groups: list[int] = (), mode: str = OfferMode.ALL, acceptance_minutes: int | None = None,
    keep_original_owner: bool = False, note: str = "",
) -> Offer:
    """Offer a lead (managers) to users and the members of offices and groups who are in the
    lead's pool. `all`: everyone at once; `sequence`: one after another in the order given.
    The acceptance period comes from the request, else the lead's source, else the system
    setting. With `keep_original_owner` the owner keeps the lead until someone accepts (and if
    nobody does); otherwise the lead waits unowned and is back in its pool when the offer
    lapses. A newer offer replaces an open one. The note travels with the offer.
    Timeline: OFFER_MADE (OFFER_CANCELLED for a replaced offer). Notifies the recipients.
    Errors: PermissionDenied, ValidationFailed (`not_in_pool`, no recipients, period)."""
    check_lead_action(actor, lead, "manage")
    errors = ErrorCollector()
    if mode not in OfferMode.values:
        errors.add("mode", "invalid", "Mode is 'all' or 'sequence'.")
    minutes = acceptance_minutes
    if minutes is None:
        minutes = lead.source.acceptance_minutes or SystemSettings.load().offer_minutes
    if not 1 <= int(minutes) <= MAX_MINUTES:
        errors.add("acceptance_minutes", "out_of_range", f"Between 1 and {MAX_MINUTES} minutes.")
    note = (note or "").strip()
    if len(note) > 2000:
        errors.add("note", "too_long", "At most 2,000 characters.")
    users = _recipients(lead, list(recipients), list(offices), list(groups), errors)
    if not users and not errors.errors:
        errors.add("recipients", "required", "Nobody in the lead's pool would receive the offer.")
    if len(users) > MAX_RECIPIENTS:
        errors.add("recipients", "too_many", f"At most {MAX_RECIPIENTS} recipients.")
    errors.raise_if_any()
    now = timezone.now()
    period = timedelta(minutes=int(minutes))
    windows = [
        (now, now + period) if mode == OfferMode.ALL
        else (now + i * period, now + (i + 1) * period)
        for i in range(len(users))
    ]
    ends_at = windows[-1][1]
    keep = bool(keep_original_owner) and lead.owner_id is not None
    with transaction.atomic():
        values = {"offer_until": ends_at, "claimed_by_id": None, "claimed_until": None,
                  "updated_at": now}
        if not keep:
            values["owner_id"] = None
        won = Lead.objects.filter(
            pk=lead.pk, merged_into__isnull=True, owner_id=lead.owner_id,
            claimed_by_id=lead.claimed_by_id, offer_until=lead.offer_until,
        ).update(**values)
        if won != 1:
            raise Conflict("The lead's ownership changed meanwhile; reload and try again.")
        close_open_offer(lead, actor=actor, now=now, reason="Replaced by a new offer")
        if not keep:
            loads.moved(lead, lead.owner_id, None)
        offer = Offer.objects.create(
            lead=lead, project_id=lead.project_id, mode=mode, acceptance_minutes=int(minutes),
            keep_original_owner=keep, previous_owner_id=lead.owner_id, note=note,
            created_by=actor.user, created_at=now, ends_at=ends_at,
        )
        OfferRecipient.objects.bulk_create([
            OfferRecipient(offer=offer, user_id=user_id, position=i, window_starts_at=start,
                           window_ends_at=end)
            for i, (user_id, (start, end)) in enumerate(zip(users, windows, strict=True))
        ])
        before = {"owner": lead.owner.email} if lead.owner_id and not keep else None
        timeline.record(
            TimelineKind.OFFER_MADE, actor=actor, lead=lead, before=before,
            after={"offer": offer.pk, "mode": mode, "to": users, "minutes": int(minutes),
                   "keep_owner": keep, **({"owner": None} if before else {})},
            reason=note,
        )
        for user_id, (start, _end) in zip(users, windows, strict=True):
            when = "now" if start <= now else f"from {start:%Y-%m-%d %H:%M} UTC"
            accounts.notify([user_id], "offer", f"Lead {lead.name} is offered to you ({when}, "
                            f"{int(minutes)} min to accept)." + (f" Note: {note}" if note else ""),
                            project_id=lead.project_id, lead_id=lead.pk, offer_id=offer.pk)
    return offer


def _recipient_for(offer: Offer, actor: Actor) -> OfferRecipient:
    user_id = actor.user.pk if actor.user else None
    found = offer.recipients.filter(user_id=user_id).first()
    if found is None:
        raise NotFound("Offer not found.")
    found.offer = offer
    return found


def accept_offer(offer: Offer, *, actor: Actor) -> Lead:
    """A recipient whose window is open accepts: they become owner (the first accept wins;
    later ones, or answers outside one's window, are Conflict). Timeline: OFFER_ACCEPTED.
    Notifies whoever made the offer and a replaced owner.
    Errors: NotFound (not a recipient), Conflict."""
    recipient = _recipient_for(offer, actor)
    now = timezone.now()
    state = recipient.state(now)
    if state != RecipientState.PENDING:
        raise Conflict(f"This offer cannot be accepted now ({_explain(offer, state, now)}).",
                       code="offer_closed")
    lead = Lead.objects.select_related("project").get(pk=offer.lead_id)
    if not is_pool_member(lead.pool_id, recipient.user_id):
        raise Conflict("You are no longer in the lead's pool.", code="not_in_pool")
    with transaction.atomic():
        won = Offer.objects.filter(pk=offer.pk, status=OfferStatus.OPEN, ends_at__gt=now).update(
            status=OfferStatus.ACCEPTED, accepted_by_id=recipient.user_id, closed_at=now
        )
        if won != 1:
            raise Conflict("Somebody else accepted this offer first.", code="offer_closed")
        OfferRecipient.objects.filter(pk=recipient.pk).update(
            answer=RecipientState.ACCEPTED, answered_at=now
        )
        lead.refresh_from_db()
        previous = lead.owner_id
        Lead.objects.filter(pk=lead.pk).update(
            owner_id=recipient.user_id, offer_until=None, claimed_by_id=None, claimed_until=None,
            assigned_at=now, retired_at=None,
            original_owner_id=lead.original_owner_id or recipient.user_id, updated_at=now,
        )
        loads.moved(lead, previous, recipient.user_id)
        before = {"owner": lead.owner.email if previous else None}
        after = {"owner": actor.user.email, "offer": offer.pk}
        if lead.retired_at is not None:
            before["retired"], after["retired"] = True, False
        timeline.record(TimelineKind.OFFER_ACCEPTED, actor=actor, lead=lead, before=before,
                        after=after)
        notice = f"{actor.user.email} accepted lead {lead.name}."
        accounts.notify([offer.created_by_id], "offer_accepted", notice,
                        project_id=lead.project_id, lead_id=lead.pk, offer_id=offer.pk)
        if previous and previous != recipient.user_id:
            accounts.notify([previous], "lead_reassigned",
                            f"Lead {lead.name} went to {actor.user.email} (offer accepted).",
                            project_id=lead.project_id, lead_id=lead.pk, offer_id=offer.pk)
    lead.refresh_from_db()
    return lead


def decline_offer(offer: Offer, *, actor: Actor, reason: str = "") -> Offer:
    """A recipient whose window is open declines. In a sequence the next recipient's window
    starts at once (later ones follow); when nobody is left the offer closes as declined and
    the lead is back with its owner (`keep_original_owner`) or in its pool.
    Timeline: OFFER_DECLINED. Errors: NotFound (not a recipient), Conflict."""
    recipient = _recipient_for(offer, actor)
    now = timezone.now()
    state = recipient.state(now)
    if state != RecipientState.PENDING:
        raise Conflict(f"This offer cannot be declined now ({_explain(offer, state, now)}).",
                       code="offer_closed")
    lead = Lead.objects.get(pk=offer.lead_id)
    with transaction.atomic():
        answered = OfferRecipient.objects.filter(pk=recipient.pk, answer="").update(
            answer=RecipientState.DECLINED, answered_at=now
        )
        if answered != 1:
            raise Conflict("You answered this offer already.", code="offer_closed")
        waiting = list(offer.recipients.filter(answer="", window_ends_at__gt=now)
                       .exclude(pk=recipient.pk).order_by("position"))
        period = timedelta(minutes=offer.acceptance_minutes)
        if offer.mode == OfferMode.SEQUENCE:
            for i, later in enumerate(waiting):
                later.window_starts_at = now + i * period
                later.window_ends_at = now + (i + 1) * period
                OfferRecipient.objects.filter(pk=later.pk).update(
                    window_starts_at=later.window_starts_at, window_ends_at=later.window_ends_at
                )
        after = {"offer": offer.pk, "by": actor.user.email}
        if waiting:
            ends_at = max(r.window_ends_at for r in waiting)
            if offer.mode == OfferMode.SEQUENCE:
                after["next"] = waiting[0].user_id
                accounts.notify([waiting[0].user_id], "offer",
                                f"Lead {lead.name} is offered to you now "
                                f"({offer.acceptance_minutes} min to accept).",
                                project_id=lead.project_id, lead_id=lead.pk, offer_id=offer.pk)
        else:
            ends_at = now
            after["closed"] = True
            Offer.objects.filter(pk=offer.pk, status=OfferStatus.OPEN).update(
                status=OfferStatus.DECLINED, closed_at=now
            )
            accounts.notify([offer.created_by_id], "offer_declined",
                            f"Everybody declined lead {lead.name}.",
                            project_id=lead.project_id, lead_id=lead.pk, offer_id=offer.pk)
        Offer.objects.filter(pk=offer.pk).update(ends_at=ends_at)
        Lead.objects.filter(pk=lead.pk, offer_until=lead.offer_until).update(
            offer_until=ends_at if waiting else None, updated_at=now
        )
        timeline.record(TimelineKind.OFFER_DECLINED, actor=actor, lead=lead, after=after,
                        reason=reason)
    offer.refresh_from_db()
    return offer


def cancel_offer(offer: Offer, *, actor: Actor) -> Offer:
    """Withdraw an open offer (managers): the lead is back with the owner it kept, or unowned
    in its pool. Timeline: OFFER_CANCELLED. Errors: PermissionDenied, Conflict (not open)."""
    lead = Lead.objects.select_related("project").get(pk=offer.lead_id)
    check_lead_action(actor, lead, "manage")
    now = timezone.now()
    if offer.effective_status(now) != OfferStatus.OPEN:
        raise Conflict("This offer is not open.", code="offer_closed")
    with transaction.atomic():
        closed = close_open_offer(lead, actor=actor, now=now)
        if closed is None or closed.pk != offer.pk:
            raise Conflict("This offer is not open.", code="offer_closed")
        Lead.objects.filter(pk=lead.pk).update(offer_until=None, updated_at=now)
    offer.refresh_from_db()
    return offer


def _explain(offer: Offer, state: str, now) -> str:
    status = offer.effective_status(now)
    if status != OfferStatus.OPEN:
        return f"the offer is {status}"
    return {
        RecipientState.WAITING: "your turn has not come yet",
        RecipientState.LAPSED: "your window has ended",
        RecipientState.ACCEPTED: "you accepted it",
        RecipientState.DECLINED: "you declined it",
    }.get(state, state)
