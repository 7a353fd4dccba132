"""Possible duplicates: leads whose names (and companies) are alike though no key matched.
Found after a lead is created, reviewed by managers: merge or dismiss."""

from __future__ import annotations

import functools
import time

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz, process

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.db import Slices, fetch, insert_tuples
from leadflow.core.errors import Conflict, NotFound, ValidationFailed
from leadflow.core.normalize import fold, search_words
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey, NameBlock, PairState, PossibleDuplicate
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

NAME_MIN = 85  # token-sort similarity of folded names, 0-100
NAME_ALONE_MIN = 92  # when only one lead names a company
COMPANY_MIN = 80
# The most recent leads read per name block: a common name (thousands of "J… Smith") costs a
# bounded read, and a person registering twice mostly does so within days.
BLOCK_LIMIT = 200
PAIRS_PER_LEAD = 10  # the best-scoring pairs kept per checked lead
CHECK_BATCH = 250  # leads checked together at most (one read per distinct block, one write)
# SQLite: a batch's write (blocks, pairs, checked times) is sized to hold the write lock about
# this long; 250 leads of common names (2,000 pairs) held it 110–430 ms during an import.
WRITE_SLICE = 0.05
ID_CHUNK = 500  # ids per IN (…) list: one prepared statement, the last chunk padded


@functools.lru_cache(maxsize=65536)
def _folded(text: str) -> str:
    """fold(), remembered: candidates' names repeat (common names, the same recent leads
    read for batch after batch)."""
    return fold(text)


def _name_words(name: str) -> list[str]:
    return [w for w in search_words(name).split() if len(w) >= 2][:4]


def name_blocks(name: str) -> list[str]:
    """The blocking keys of a name: each word with the first letter of each other word, so a
    typo in either word still meets (typos rarely hit the first letter), while a common first
    name alone does not pull in thousands of rows; a one-word name is its own block."""
    words = _name_words(name)
    if len(words) == 1:
        return [f"{words[0]}|"]
    return sorted({f"{exact}|{other[0]}" for i, exact in enumerate(words)
                   for j, other in enumerate(words) if i != j})


def similarity(a: Lead, b: Lead) -> tuple[float, str] | None:
    """(score, reason) when a and b look like one person, else None."""
    return _similarity(_folded(a.name), _folded(a.company), _folded(b.name), _folded(b.company))


def _similarity(name_a: str, company_a: str, name_b: str, company_b: str,
                name: float | None = None) -> tuple[float, str] | None:
    if name is None:
        name = fuzz.token_sort_ratio(name_a, name_b)
    if name < NAME_MIN:
        return None
    if company_a and company_b:
        company = fuzz.token_set_ratio(company_a, company_b)
        if company < COMPANY_MIN:
            return None
        return round((name + company) / 2, 1), f"name {name:.0f}%, company {company:.0f}%"
    if (company_a or company_b) and name < NAME_ALONE_MIN:
        return None
    return round(name, 1), f"name {name:.0f}%"


def _chunks(ids: list[int]):
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start:start + ID_CHUNK]


def _names_sql() -> str:
    table, marks = Lead._meta.db_table, ", ".join(["%s"] * ID_CHUNK)
    return (f"SELECT id, name, company FROM {table} WHERE id IN ({marks}) "
            f"AND merged_into_id IS NULL")


def _names_of(ids: list[int]) -> list[tuple[int, str, str]]:
    """(id, name, company) of the leads of `ids` not merged away, by one prepared statement
    per ID_CHUNK ids (a shorter last chunk repeats its last id); on PostgreSQL one statement
    for all."""
    if connection.vendor == "postgresql":
        table = Lead._meta.db_table
        return fetch(f"SELECT id, name, company FROM {table} WHERE id = ANY(%s) "
                     f"AND merged_into_id IS NULL", [ids]) if ids else []
    rows, sql = [], _names_sql()
    for chunk in _chunks(ids):
        rows += fetch(sql, chunk + [chunk[-1]] * (ID_CHUNK - len(chunk)))
    return rows


def _block_sql() -> str:
    table = NameBlock._meta.db_table
    return (f"SELECT lead_id FROM {table} WHERE project_id = %s AND block = %s "
            f"ORDER BY lead_id DESC LIMIT {BLOCK_LIMIT}")


def _stored_members(keys: list[tuple[int, str]]) -> dict[tuple[int, str], list[int]]:
    """The most recent BLOCK_LIMIT checked leads of each (project, block). SQLite: one
    prepared statement per block, run in-process; PostgreSQL: one statement per project for
    all its blocks (a LATERAL read of each block's newest entries), saving a round trip per
    block."""
    found: dict[tuple[int, str], list[int]] = {}
    if connection.vendor != "postgresql":
        sql = _block_sql()
        for project_id, block in keys:
            found[(project_id, block)] = [r[0] for r in fetch(sql, [project_id, block])]
        return found
    table = NameBlock._meta.db_table
    sql = (f"SELECT b.block, n.lead_id FROM unnest(%s::text[]) AS b(block) CROSS JOIN LATERAL "
           f"(SELECT lead_id FROM {table} WHERE project_id = %s AND block = b.block "
           f"ORDER BY lead_id DESC LIMIT {BLOCK_LIMIT}) n")
    by_project: dict[int, list[str]] = {}
    for project_id, block in keys:
        by_project.setdefault(project_id, []).append(block)
    for project_id, blocks in by_project.items():
        for block, lead_id in fetch(sql, [blocks, project_id]):
            found.setdefault((project_id, block), []).append(lead_id)
    return found


def _sharing_keys(pairs: dict[int, set[int]]) -> set[tuple[int, int]]:
    """The (lead, other) pairs among `pairs` that hold a duplicate key of the same value:
    kept both on purpose, never flagged."""
    if not pairs:
        return set()
    values: dict[int, set[str]] = {}
    for chunk in _chunks(list(pairs)):
        for lead_id, value in DuplicateKey.objects.filter(lead_id__in=chunk).values_list(
                "lead_id", "value"):
            values.setdefault(lead_id, set()).add(value)
    others = sorted({o for found in pairs.values() for o in found})
    held: dict[int, set[str]] = {}
    for chunk in _chunks(others):
        for lead_id, value in DuplicateKey.objects.filter(lead_id__in=chunk).values_list(
                "lead_id", "value"):
            held.setdefault(lead_id, set()).add(value)
    return {(lead, other) for lead, found in pairs.items() for other in found
            if values.get(lead, set()) & held.get(other, set())}


def check_leads(lead_ids: list[int], *, slices: Slices | None = None) -> int:
    """Check leads for possible duplicates, set-based: each lead is compared with the most
    recent BLOCK_LIMIT checked leads of each of its name blocks and with the other leads of
    the batch, by rapidfuzz over folded names (and companies); pairs sharing a duplicate key
    are kept-both on purpose and not flagged; the PAIRS_PER_LEAD best pairs of a lead are
    stored. Reads run before a short write transaction (the lead's blocks, the pairs, its
    checked time). Idempotent; a decided pair is never flagged again. Returns pairs added."""
    rows = []
    for chunk in _chunks(sorted(set(lead_ids))):
        rows += Lead.objects.filter(pk__in=chunk, merged_into__isnull=True).values_list(
            "pk", "project_id", "name", "company")
    if not rows:
        return 0
    folded: dict[int, tuple[str, str]] = {}
    blocks_of: dict[int, list[str]] = {}
    members: dict[tuple[int, str], list[int]] = {}
    for pk, project_id, name, company in rows:
        folded[pk] = (_folded(name), _folded(company))
        blocks_of[pk] = name_blocks(name)
        for block in blocks_of[pk]:
            members.setdefault((project_id, block), []).append(pk)
    stored = _stored_members(list(members))
    for key, batch_members in members.items():
        members[key] = sorted(set(stored.get(key, ())) | set(batch_members))
    candidates: dict[int, set[int]] = {pk: set() for pk in folded}
    for (_project, _block), ids in members.items():
        for pk in ids:
            if pk in candidates:
                candidates[pk].update(ids)
    unknown = sorted({o for found in candidates.values() for o in found} - folded.keys())
    for pk, name, company in _names_of(unknown):
        folded[pk] = (_folded(name), _folded(company))
    found: dict[int, dict[int, tuple[float, str]]] = {}
    for pk, others in candidates.items():
        name, company = folded[pk]
        choices = {o: folded[o][0] for o in others if o != pk and o in folded}
        for _choice, score, other in process.extract(
                name, choices, scorer=fuzz.token_sort_ratio, score_cutoff=NAME_MIN, limit=None):
            result = _similarity(name, company, folded[other][0], folded[other][1], score)
            if result is not None:
                found.setdefault(pk, {})[other] = result
    kept_both = _sharing_keys({pk: set(others) for pk, others in found.items()})
    pairs: dict[tuple[int, int], PossibleDuplicate] = {}
    project_of = {pk: project_id for pk, project_id, _n, _c in rows}
    for pk, others in found.items():
        best = sorted(((score, other, why) for other, (score, why) in others.items()
                       if (pk, other) not in kept_both), reverse=True)[:PAIRS_PER_LEAD]
        for score, other, why in best:
            low, high = sorted((pk, other))
            pairs.setdefault((low, high), PossibleDuplicate(
                project_id=project_of[pk], lead_a_id=low, lead_b_id=high, score=score,
                reason=why))
    started = time.monotonic()
    added = _store_check(rows, blocks_of, list(pairs.values()))
    if slices is not None:
        slices.wrote(len(rows), time.monotonic() - started)
    return added


def _store_check(rows, blocks_of, pairs: list[PossibleDuplicate]) -> int:
    """The write half of check_leads, in one short transaction. A lead deleted meanwhile
    fails its rows' foreign keys: the batch is written again without it."""
    for _attempt in range(3):
        ids = [pk for pk, *_rest in rows]
        try:
            with transaction.atomic():
                pair_q = Q(lead_a_id__in=ids) | Q(lead_b_id__in=ids)
                before = PossibleDuplicate.objects.filter(pair_q).count()
                NameBlock.objects.filter(lead_id__in=ids).delete()
                insert_tuples(NameBlock, ["project_id", "block", "lead_id"], [
                    (project_id, block, pk) for pk, project_id, *_rest in rows
                    for block in blocks_of[pk]])
                PossibleDuplicate.objects.bulk_create(pairs, ignore_conflicts=True)
                Lead.objects.filter(pk__in=ids).update(duplicates_checked_at=timezone.now())
                return PossibleDuplicate.objects.filter(pair_q).count() - before
        except IntegrityError:
            alive = set(Lead.objects.filter(pk__in=ids).values_list("pk", flat=True))
            rows = [row for row in rows if row[0] in alive]
            pairs = [p for p in pairs if p.lead_a_id in alive and p.lead_b_id in alive]
    raise Conflict("The leads are being changed concurrently; try again.", code="busy")


def find_possible_duplicates(lead: Lead) -> int:
    """Flag pairs of `lead` with similar leads of its project (check_leads for one lead).
    Returns pairs added."""
    return check_leads([lead.pk])


def sweep_unchecked_leads(*, limit: int = CHECK_BATCH * 4,
                          budget: float | None = None) -> int:
    """Check leads not checked yet (new ones, renamed ones, those whose job was lost), oldest
    first, up to CHECK_BATCH at a time (on SQLite as many as one short write takes), up to
    `limit` leads or until `budget` seconds have passed.
    Returns leads checked."""
    started, checked = time.monotonic(), 0
    slices = Slices(CHECK_BATCH, seconds=WRITE_SLICE, least=10)
    while checked < limit:
        ids = list(
            Lead.objects.filter(duplicates_checked_at__isnull=True, merged_into__isnull=True)
            .order_by("pk").values_list("pk", flat=True)[:min(slices.size, limit - checked)]
        )
        if not ids:
            break
        check_leads(ids, slices=slices)
        checked += len(ids)
        if budget is not None and time.monotonic() - started >= budget:
            break
    return checked


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
