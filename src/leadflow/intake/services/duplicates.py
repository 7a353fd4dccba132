"""Possible duplicates: leads whose names (and companies) are alike though no key matched.
Found after a lead is created, reviewed by managers: merge or dismiss."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, NotFound, ValidationFailed
from leadflow.core.normalize import fold, search_words
from leadflow.core.search import prefix_q
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead, LeadWord
from leadflow.intake.models import DuplicateKey, PairState, PossibleDuplicate
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

NAME_MIN = 85  # token-sort similarity of folded names, 0-100
NAME_ALONE_MIN = 92  # when only one lead names a company
COMPANY_MIN = 80
BLOCK_LIMIT = 300


def _name_words(name: str) -> list[str]:
    return [w for w in search_words(name).split() if len(w) >= 2][:4]


def _candidates(lead: Lead) -> list[Lead]:
    """Blocking: leads of the project sharing one name word exactly and another by its first
    letter, so a typo in either word still meets (typos rarely hit the first letter), while a
    common first name alone does not pull in thousands of rows."""
    words = _name_words(lead.name)
    if len(words) < 2:
        blocks = [Q(pk__in=LeadWord.objects.filter(word=w).values("lead_id")) for w in words]
    else:
        blocks = []
        for exact in words:
            for other in words:
                if other is exact:
                    continue
                blocks.append(
                    Q(pk__in=LeadWord.objects.filter(word=exact).values("lead_id"))
                    & Q(pk__in=LeadWord.objects.filter(prefix_q("word", other[:1]))
                        .values("lead_id"))
                )
    if not blocks:
        return []
    condition = Q()
    for block in blocks:
        condition |= block
    return list(
        Lead.objects.filter(condition, project_id=lead.project_id, merged_into__isnull=True)
        .exclude(pk=lead.pk).only("pk", "name", "company", "project_id")
        .order_by("-pk")[:BLOCK_LIMIT]
    )


def similarity(a: Lead, b: Lead) -> tuple[float, str] | None:
    """(score, reason) when a and b look like one person, else None."""
    name = fuzz.token_sort_ratio(fold(a.name), fold(b.name))
    if name < NAME_MIN:
        return None
    if a.company and b.company:
        company = fuzz.token_set_ratio(fold(a.company), fold(b.company))
        if company < COMPANY_MIN:
            return None
        return round((name + company) / 2, 1), f"name {name:.0f}%, company {company:.0f}%"
    if (a.company or b.company) and name < NAME_ALONE_MIN:
        return None
    return round(name, 1), f"name {name:.0f}%"


def find_possible_duplicates(lead: Lead) -> int:
    """Flag pairs of `lead` with similar leads of its project; idempotent. Leads sharing a
    duplicate key are kept-both on purpose and are not flagged. Returns pairs added."""
    if lead.merged_into_id is not None:
        return 0
    own_keys = DuplicateKey.objects.filter(lead=lead).values("value")
    sharing = set(
        DuplicateKey.objects.filter(value__in=own_keys).values_list("lead_id", flat=True)
    )
    pairs = []
    for other in _candidates(lead):
        if other.pk in sharing:
            continue
        found = similarity(lead, other)
        if found is None:
            continue
        low, high = sorted((lead.pk, other.pk))
        pairs.append(PossibleDuplicate(project_id=lead.project_id, lead_a_id=low, lead_b_id=high,
                                       score=found[0], reason=found[1]))
    before = PossibleDuplicate.objects.filter(Q(lead_a=lead) | Q(lead_b=lead)).count()
    PossibleDuplicate.objects.bulk_create(pairs, ignore_conflicts=True)
    Lead.objects.filter(pk=lead.pk).update(duplicates_checked_at=timezone.now())
    return PossibleDuplicate.objects.filter(Q(lead_a=lead) | Q(lead_b=lead)).count() - before


def sweep_unchecked_leads(*, limit: int = 500) -> int:
    """Check leads whose post-creation check never ran (a lost job). Returns leads checked."""
    leads = list(
        Lead.objects.filter(duplicates_checked_at__isnull=True, merged_into__isnull=True)
        .order_by("pk")[:limit]
    )
    for lead in leads:
        find_possible_duplicates(lead)
    return len(leads)


def pairs_visible_to(actor: Actor):
    return access.managed_by(actor, PossibleDuplicate.objects.select_related("lead_a", "lead_b"))


def get_pair_for(actor: Actor, pair_id: int) -> PossibleDuplicate:
    pair = pairs_visible_to(actor).filter(pk=pair_id).first()
    if pair is None:
        raise NotFound("Possible duplicate not found.")
    return pair


def _decide(pair: PossibleDuplicate, state: str, actor: Actor) -> bool:
    return PossibleDuplicate.objects.filter(pk=pair.pk, state=PairState.OPEN).update(
        state=state, decided_by=actor.user, decided_at=timezone.now()
    ) == 1


def dismiss_pair(pair: PossibleDuplicate, *, actor: Actor) -> PossibleDuplicate:
    """Mark a pair as not one person (managers). Timeline: POSSIBLE_DUPLICATE_DISMISSED on
    both leads. Errors: PermissionDenied, Conflict (already decided)."""
    access.require_manager(actor, pair.project_id)
    with transaction.atomic():
        if not _decide(pair, PairState.DISMISSED, actor):
            raise Conflict("This pair was decided already.", code="decided")
        for lead, other in ((pair.lead_a, pair.lead_b), (pair.lead_b, pair.lead_a)):
            timeline.record(TimelineKind.POSSIBLE_DUPLICATE_DISMISSED, actor=actor, lead=lead,
                            after={"other_lead": other.pk, "score": pair.score})
    pair.refresh_from_db()
    return pair


def merge_pair(pair: PossibleDuplicate, *, actor: Actor, into: int | None = None) -> Lead:
    """Merge a pair (managers): by default the older lead survives. Errors as merge_leads,
    plus Conflict when the pair was decided already."""
    access.require_manager(actor, pair.project_id)
    if pair.state != PairState.OPEN:
        raise Conflict("This pair was decided already.", code="decided")
    survivor_id = into if into is not None else pair.lead_a_id
    if survivor_id not in (pair.lead_a_id, pair.lead_b_id):
        raise ValidationFailed.one("into", "invalid", "The survivor must be one of the pair.")
    survivor, other = (
        (pair.lead_a, pair.lead_b) if survivor_id == pair.lead_a_id else (pair.lead_b, pair.lead_a)
    )
    return crm_services.merge_leads(other, survivor, actor=actor,
                                    reason=f"Possible duplicate ({pair.reason})")
