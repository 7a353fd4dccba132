"""Who holds a lead: assign, unassign, release, claim, take ownership, request the next lead of a
pool, route on demand, and bulk actions over many leads.

Every change is a conditional UPDATE on the ownership state that was read, so of two
concurrent changes one wins and the other gets Conflict (409); nobody ever ends up with a lead
somebody else also holds. Open-lead counters move in the same transaction."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from leadflow.accounts import services as accounts
from leadflow.accounts.models import User
from leadflow.core.actor import Actor
from leadflow.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from leadflow.crm.access import check_lead_action, is_manager
from leadflow.crm.models import Lead, unassigned_q
from leadflow.jobs.services import register as register_job
from leadflow.projects.models import OPEN_STATUSES, Pool, SystemSettings
from leadflow.routing.models import Offer, OfferStatus
from leadflow.routing.services import loads
from leadflow.routing.services.router import LeadFacts, Router
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

UNSET: Any = object()
NEXT_ATTEMPTS = 10


def _label(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id).only("email").first()
    return user.email if user is not None else str(user_id)


def is_pool_member(pool_id: int, user_id: int | None) -> bool:
    return user_id is not None and Pool.members.through.objects.filter(
        pool_id=pool_id, user_id=user_id
    ).exists()


def _require_pool_member(lead_or_pool_id: int, actor: Actor) -> None:
    if not is_pool_member(lead_or_pool_id, actor.user.pk if actor.user else None):
        raise PermissionDenied("You are not a member of this pool.", code="not_in_pool")


def _same_state(lead: Lead) -> Q:
    """The ownership state `lead` was read with: the condition of every conditional UPDATE."""
    return Q(
        pk=lead.pk, merged_into__isnull=True, owner_id=lead.owner_id, pool_id=lead.pool_id,
        claimed_by_id=lead.claimed_by_id, claimed_until=lead.claimed_until,
        offer_until=lead.offer_until,
    )


def close_open_offer(lead: Lead, *, actor: Actor, now, status=OfferStatus.CANCELLED,
                     reason: str = "") -> Offer | None:
    """Close the lead's open offer, if any (a new assignment, claim or offer supersedes it).
    Timeline: OFFER_CANCELLED when it was still live."""
    offer = Offer.objects.filter(lead=lead, status=OfferStatus.OPEN).order_by("-pk").first()
    if offer is None:
        return None
    Offer.objects.filter(pk=offer.pk, status=OfferStatus.OPEN).update(status=status,
                                                                     closed_at=now)
    if offer.ends_at > now:
        timeline.record(TimelineKind.OFFER_CANCELLED, actor=actor, lead=lead,
                        after={"offer": offer.pk}, reason=reason)
    return offer


def _change_owner(lead: Lead, *, owner_id, pool_id, actor: Actor, now, kind: TimelineKind,
                  reason: str = "", extra: dict | None = None) -> Lead:
    """Give `lead` owner `owner_id` in pool `pool_id` (both as given; the owner must be a
    member), ending any claim and open offer. Records `kind` with the changed fields."""
    if owner_id is not None and not is_pool_member(pool_id, owner_id):
        raise ValidationFailed.one("owner", "not_in_pool", "That user is not in the lead's pool.")
    values: dict[str, Any] = {
        "owner_id": owner_id, "pool_id": pool_id, "claimed_by_id": None,
        "claimed_until": None, "offer_until": None, "updated_at": now,
    }
    if owner_id is not None and owner_id != lead.owner_id:
        values.update(assigned_at=now, retired_at=None,
                      original_owner_id=lead.original_owner_id or owner_id)
    with transaction.atomic():
        if Lead.objects.filter(_same_state(lead)).update(**values) != 1:
            raise Conflict("The lead's ownership changed meanwhile; reload and try again.")
        if lead.offer_until is not None:
            close_open_offer(lead, actor=actor, now=now)
        loads.moved(lead, lead.owner_id, owner_id)
        before, after = {}, {}
        if owner_id != lead.owner_id:
            before["owner"], after["owner"] = _label(lead.owner_id), _label(owner_id)
        if pool_id != lead.pool_id:
            before["pool"] = lead.pool.name
            after["pool"] = Pool.objects.only("name").get(pk=pool_id).name
        if lead.claimed_by_id is not None and lead.live_claim(now):
            before["claimed_by"] = _label(lead.claimed_by_id)
        if lead.retired_at is not None and "retired_at" in values:
            before["retired"], after["retired"] = True, False
        timeline.record(kind, actor=actor, lead=lead, before=before,
                        after={**after, **(extra or {})}, reason=reason)
        if owner_id is not None and owner_id != lead.owner_id and owner_id != getattr(
            actor.user, "pk", None
        ):
            accounts.notify([owner_id], "lead_assigned",
                            f"Lead {lead.name} was assigned to you."
                            + (f" Note: {reason}" if reason else ""),
                            project_id=lead.project_id, lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def assign(lead: Lead, *, actor: Actor, pool: Pool | None = None, owner: Any = UNSET,
           note: str = "") -> Lead:
    """Put a lead in `pool` and/or give it to `owner` (managers). `pool` alone leaves it
    unowned in that pool; `owner` alone keeps the pool; `owner=None` removes the owner. The
    owner must be a member of the (new) pool. Any claim or open offer ends; the first owner
    stays on record as the original owner; the new owner is notified and sees the lead in
    Fresh leads. Nothing changes, and nothing is recorded, when it is already so.
    Timeline: LEAD_ASSIGNED. Errors: PermissionDenied, ValidationFailed (`not_in_pool`,
    other project's pool, nothing given), Conflict (changed meanwhile)."""
    check_lead_action(actor, lead, "manage")
    if pool is None and owner is UNSET:
        raise ValidationFailed.one("owner", "required", "Give a pool, an owner, or both.")
    if pool is not None and pool.project_id != lead.project_id:
        raise ValidationFailed.one("pool", "invalid", "That pool is not in the lead's project.")
    pool_id = pool.pk if pool is not None else lead.pool_id
    if owner is UNSET:
        owner_id = None if pool is not None and pool.pk != lead.pool_id else lead.owner_id
    else:
        owner_id = owner.pk if owner is not None else None
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed.one("note", "too_long", "At most 2,000 characters.")
    now = timezone.now()
    if (owner_id == lead.owner_id and pool_id == lead.pool_id and not lead.live_claim(now)
            and not lead.live_offer(now)):
        if owner_id is not None and not is_pool_member(pool_id, owner_id):
            raise ValidationFailed.one("owner", "not_in_pool",
                                       "That user is not in the lead's pool.")
        return lead
    return _change_owner(lead, owner_id=owner_id, pool_id=pool_id, actor=actor, now=now,
                         kind=TimelineKind.LEAD_ASSIGNED, reason=note)


def unassign(lead: Lead, *, actor: Actor, reason: str = "") -> Lead:
    """Remove the owner (managers): the lead stays in its pool, unowned; a claim or open offer
    ends too. Already unassigned: nothing changes. Timeline: LEAD_UNASSIGNED.
    Errors: PermissionDenied, Conflict."""
    check_lead_action(actor, lead, "manage")
    now = timezone.now()
    if lead.is_unassigned(now):
        return lead
    return _change_owner(lead, owner_id=None, pool_id=lead.pool_id, actor=actor, now=now,
                         kind=TimelineKind.LEAD_UNASSIGNED, reason=reason)


def release(lead: Lead, *, actor: Actor, reason: str = "") -> Lead:
    """Hand a lead back to its pool: its owner gives up ownership, or its claimant the claim
    (managers may release any lead of theirs). Timeline: LEAD_RELEASED.
    Errors: PermissionDenied (neither owner nor claimant), Conflict."""
    now = timezone.now()
    user_id = actor.user.pk if actor.user else None
    holds = user_id is not None and (
        lead.owner_id == user_id or (lead.claimed_by_id == user_id and lead.live_claim(now))
    )
    if not holds and not is_manager(actor, lead.project_id):
        raise PermissionDenied("Only the lead's owner or claimant may hand it back.")
    if lead.is_unassigned(now):
        return lead
    return _change_owner(lead, owner_id=None, pool_id=lead.pool_id, actor=actor, now=now,
                         kind=TimelineKind.LEAD_RELEASED, reason=reason)


def claim(lead: Lead, *, actor: Actor) -> Lead:
    """Hold an unassigned lead of one's pool for the claim window (system setting) without
    becoming owner. Any further claim during the window — even by the same user — is
    Conflict; when the window ends the lead is unassigned again by itself.
    Timeline: LEAD_CLAIMED. Errors: PermissionDenied (not in the pool), Conflict."""
    _require_pool_member(lead.pool_id, actor)
    now = timezone.now()
    until = now + timedelta(hours=SystemSettings.load().claim_hours)
    with transaction.atomic():
        won = Lead.objects.filter(unassigned_q(now), pk=lead.pk, merged_into__isnull=True).update(
            claimed_by_id=actor.user.pk, claimed_until=until, updated_at=now
        )
        if won != 1:
            raise Conflict("This lead is owned, claimed or offered already.", code="not_unassigned")
        if lead.offer_until is not None:
            close_open_offer(lead, actor=actor, now=now, status=OfferStatus.LAPSED)
        timeline.record(TimelineKind.LEAD_CLAIMED, actor=actor, lead=lead,
                        after={"claimed_by": actor.user.email,
                               "claimed_until": until.isoformat()})
    lead.refresh_from_db()
    return lead


def take_ownership(lead: Lead, *, actor: Actor) -> Lead:
    """The claimant becomes owner while the claim is live. Timeline: OWNERSHIP_TAKEN.
    Errors: PermissionDenied (no longer in the pool), Conflict (no live claim of theirs)."""
    user = actor.user
    now = timezone.now()
    if user is None or lead.claimed_by_id != user.pk or not lead.live_claim(now):
        raise Conflict("Only the holder of a live claim may take ownership.", code="no_claim")
    _require_pool_member(lead.pool_id, actor)
    with transaction.atomic():
        won = Lead.objects.filter(
            pk=lead.pk, owner__isnull=True, claimed_by_id=user.pk, claimed_until__gt=now
        ).update(owner_id=user.pk, claimed_by_id=None, claimed_until=None, assigned_at=now,
                 retired_at=None, original_owner_id=lead.original_owner_id or user.pk,
                 updated_at=now)
        if won != 1:
            raise Conflict("Only the holder of a live claim may take ownership.", code="no_claim")
        loads.moved(lead, None, user.pk)
        before, after = {"owner": None}, {"owner": user.email}
        if lead.retired_at is not None:
            before["retired"], after["retired"] = True, False
        timeline.record(TimelineKind.OWNERSHIP_TAKEN, actor=actor, lead=lead,
                        before=before, after=after)
    lead.refresh_from_db()
    return lead


def next_from_pool(pool: Pool, *, actor: Actor) -> Lead:
    """Claim the oldest unassigned open lead of a pool one belongs to. Concurrent callers each
    get a different lead (PostgreSQL skips rows locked by the others; a lost conditional update
    moves on to the next lead). Timeline: LEAD_CLAIMED.
    Errors: PermissionDenied (not in the pool), NotFound (no lead left)."""
    _require_pool_member(pool.pk, actor)
    tried: list[int] = []
    for _attempt in range(NEXT_ATTEMPTS):
        now = timezone.now()
        candidates = (
            Lead.objects.filter(unassigned_q(now), pool=pool, merged_into__isnull=True,
                                status__in=OPEN_STATUSES)
            .exclude(pk__in=tried).order_by("created_at", "id")
        )
        with transaction.atomic():
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            lead = candidates.select_related("project", "pool").first()
            if lead is None:
                break
            try:
                return claim(lead, actor=actor)
            except Conflict:
                tried.append(lead.pk)
    raise NotFound("No unassigned lead is waiting in this pool.")


def route_lead(lead: Lead, *, actor: Actor) -> Lead:
    """Route a lead now (managers): the project's distribution rules pick its pool and owner
    as they would on intake, and the decision is recorded. A lead no rule gives an owner keeps
    its owner. Timeline: LEAD_ROUTED. Errors: PermissionDenied, Conflict."""
    check_lead_action(actor, lead, "manage")
    now = timezone.now()
    router = Router(lead.project_id)
    facts = LeadFacts(source_id=lead.source_id, bucket_id=lead.bucket_id, country=lead.country,
                      language=lead.language, custom=lead.custom)
    with transaction.atomic():
        decision = router.decide(facts, bucket=lead.bucket, source=lead.source, pool=lead.pool)
        if decision.owner_id is None:
            router.forget()
            timeline.record(TimelineKind.LEAD_ROUTED, actor=actor, lead=lead,
                            after=decision.explain)
            return lead
        router.flush()
        # The router counted the new owner already; _change_owner counts the move again.
        loads.shift(lead.project_id, {decision.owner_id: -1})
        pool_id = decision.pool.pk if decision.pool is not None else lead.pool_id
        return _change_owner(lead, owner_id=decision.owner_id, pool_id=pool_id, actor=actor,
                             now=now, kind=TimelineKind.LEAD_ROUTED, extra=decision.explain)


# --- bulk ----------------------------------------------------------------------------------

BULK_LIMIT = 1000
BULK_ACTIONS = ("assign", "unassign", "route", "tag", "add_to_list", "add_to_campaign", "delete")


def bulk_leads(action: str, leads: list[Lead], params: dict, *, actor: Actor) -> dict:
    """Apply one action to each of `leads` (at most BULK_LIMIT), each in its own transaction
    through the single-lead service, so every lead gets its own permission check and timeline
    event. Returns {"done": n, "skipped": n, "errors": [{"lead", "code", "detail"}]}; a lead
    already in the wanted state is skipped. `add_to_list` ({"list": id}) makes that list the
    leads' home list; `add_to_campaign` ({"campaign": id}) puts them in the campaign's own
    list."""
    from leadflow.crm.services.leads import delete_lead
    from leadflow.lists import services as lists
    from leadflow.tags.services import check_tag_names, tag_leads_directly

    if action not in BULK_ACTIONS:
        raise ValidationFailed.one("action", "invalid",
                                   f"Action must be one of: {', '.join(BULK_ACTIONS)}.")
    if len(leads) > BULK_LIMIT:
        raise ValidationFailed.one("ids", "too_many", f"At most {BULK_LIMIT} leads at once.")
    params = params or {}
    assign_args = _bulk_assign_args(leads, params, actor) if action == "assign" else {}
    if action == "tag":
        unknown = set(params) - {"add", "remove"}
        if unknown:
            raise ValidationFailed.one("params", "unknown_field",
                                       f"Unknown parameters: {', '.join(sorted(unknown))}.")
        tag_args = dict(zip(("add", "remove"), check_tag_names(params.get("add"),
                                                               params.get("remove")), strict=False))
    target = bulk_target(action, params, actor)
    done = skipped = 0
    errors = []
    for lead in leads:
        seen = lead.updated_at
        try:
            if action == "assign":
                assign(lead, actor=actor, **assign_args)
            elif action == "unassign":
                unassign(lead, actor=actor, reason=params.get("reason", ""))
            elif action == "route":
                route_lead(lead, actor=actor)
            elif action == "tag":
                tag_leads_directly(lead, actor=actor, **tag_args)
            elif action == "add_to_list":
                lists.add_lead_to_list(target, lead, actor=actor)
            elif action == "add_to_campaign":
                lists.add_lead_to_campaign(target, lead, actor=actor)
            else:
                delete_lead(lead, actor=actor, reason=params.get("reason", ""))
            changed = action == "delete" or lead.updated_at != seen
        except DomainError as exc:
            code = exc.errors[0].code if isinstance(exc, ValidationFailed) else exc.code
            errors.append({"lead": lead.pk, "code": code, "detail": exc.detail})
            continue
        if changed:
            done += 1
        else:
            skipped += 1
    return {"done": done, "skipped": skipped, "errors": errors}


def bulk_target(action: str, params: dict, actor: Actor):
    """The list or campaign named by the params of `add_to_list` / `add_to_campaign` (one the
    actor manages), else None for the other actions. Errors: ValidationFailed."""
    from leadflow.lists.access import campaigns_visible_to, lists_visible_to

    names = {"add_to_list": ("list", lists_visible_to),
             "add_to_campaign": ("campaign", campaigns_visible_to)}
    if action not in names:
        return None
    name, visible = names[action]
    unknown = set(params or {}) - {name}
    if unknown:
        raise ValidationFailed.one("params", "unknown_field",
                                   f"Unknown parameters: {', '.join(sorted(unknown))}.")
    target_id = (params or {}).get(name)
    if target_id is None:
        raise ValidationFailed.one(f"params.{name}", "required", f"Say which {name}.")
    found = (visible(actor).select_related("own_list" if name == "campaign" else "project")
             .filter(pk=target_id).first()
             if isinstance(target_id, int) and not isinstance(target_id, bool) else None)
    if found is None:
        raise ValidationFailed.one(f"params.{name}", "invalid", f"No {name} {target_id}.")
    return found


def _bulk_assign_args(leads: list[Lead], params: dict, actor: Actor) -> dict:
    unknown = set(params) - {"pool", "owner", "note"}
    if unknown:
        raise ValidationFailed.one("params", "unknown_field",
                                   f"Unknown parameters: {', '.join(sorted(unknown))}.")
    args: dict[str, Any] = {"note": params.get("note") or ""}
    projects = {lead.project_id for lead in leads}
    if "pool" in params and params["pool"] is not None:
        pool = Pool.objects.filter(pk=params["pool"], project_id__in=projects).first()
        if pool is None:
            raise ValidationFailed.one("params.pool", "invalid", "No such pool in these leads' "
                                       "project.")
        args["pool"] = pool
    if "owner" in params:
        if params["owner"] is None:
            args["owner"] = None
        else:
            owner = User.objects.filter(pk=params["owner"], is_active=True).first()
            if owner is None:
                raise ValidationFailed.one("params.owner", "invalid", "No such user.")
            args["owner"] = owner
    if "pool" not in args and "owner" not in args:
        raise ValidationFailed.one("params", "required", "Give a pool, an owner, or both.")
    return args


# --- bulk over a filter, as a job -----------------------------------------------------------

JOB_CHUNK = 200


def start_bulk_job(action: str, filters, params: dict, *, actor: Actor):
    """For a filter matching more than BULK_LIMIT leads, store a job that applies `action` to
    them in chunks (by lead id, so a resumed job goes on where it stopped); None when the
    filter matches few enough leads to answer at once. Errors: ValidationFailed."""
    from leadflow.crm.access import leads_visible_to
    from leadflow.crm.filters import apply_lead_filters
    from leadflow.jobs.services import start_job

    if action not in BULK_ACTIONS:
        raise ValidationFailed.one("action", "invalid",
                                   f"Action must be one of: {', '.join(BULK_ACTIONS)}.")
    if action == "tag":
        from leadflow.tags.services import check_tag_names

        check_tag_names((params or {}).get("add"), (params or {}).get("remove"))
    bulk_target(action, params, actor)
    qs = apply_lead_filters(leads_visible_to(actor), filters)
    if qs.order_by().values("pk")[:BULK_LIMIT + 1].count() <= BULK_LIMIT:
        return None
    stored = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
              for k, v in dataclasses.asdict(filters).items() if v is not None}
    return start_job("bulk_leads", {"action": action, "filter": stored, "params": params or {}},
                     actor=actor, project_id=filters.project)


@register_job("bulk_leads")
def _bulk_step(job, actor: Actor):
    from leadflow.crm.access import leads_visible_to
    from leadflow.crm.filters import LeadFilters, apply_lead_filters

    filters = LeadFilters(**job.params["filter"])
    qs = apply_lead_filters(leads_visible_to(actor), filters)
    if job.cursor is not None:
        qs = qs.filter(pk__gt=job.cursor)
    chunk = list(qs.select_related("project", "pool", "source", "bucket", "stage")
                 .order_by("pk")[:JOB_CHUNK])
    result = bulk_leads(job.params["action"], chunk, job.params["params"], actor=actor)
    cursor = chunk[-1].pk if len(chunk) == JOB_CHUNK else None
    counts = {"done": result["done"], "skipped": result["skipped"],
              "errors": len(result["errors"])}
    return cursor, counts, len(chunk), result["errors"]
