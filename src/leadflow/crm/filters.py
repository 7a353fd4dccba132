"""Lead filters and ordering, shared by the API and the UI."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from leadflow.core.errors import ErrorCollector
from leadflow.core.normalize import fold, phone_search_prefix, search_words
from leadflow.core.pagination import Ordering
from leadflow.core.search import fetch_ids_q, prefix_q, walk_ids_q
from leadflow.crm.models import LeadQuerySet, LeadWord, unassigned_q
from leadflow.crm.search import MAX_WORD
from leadflow.intake.models import DuplicateKey, KeyKind
from leadflow.projects.models import Status
from leadflow.tags.models import LeadTag, tag_key

ORDERINGS = {
    "-created_at": Ordering("created_at", True, kind="datetime"),
    "created_at": Ordering("created_at", False, kind="datetime"),
    "next_call_at": Ordering("next_call_at", False, nullable=True, kind="datetime"),
    "-last_activity_at": Ordering("last_activity_at", True, nullable=True, kind="datetime"),
    "name": Ordering("name", False),
}


@dataclass
class LeadFilters:
    """Every lead filter of DESIGN §4; None means not filtered."""

    q: str | None = None
    project: int | None = None
    status: str | None = None
    stage: int | None = None
    source: int | None = None
    owner: int | None = None
    pool: int | None = None
    tag: str | None = None
    unassigned: bool | None = None
    # Owned and not touched since it was assigned (Lead.is_fresh): an owner's "Fresh leads".
    fresh: bool | None = None
    retired: bool | None = None
    list: int | None = None
    bucket: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    next_call_before: datetime | None = None
    ordering: str = "-created_at"

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def check_filters(f: LeadFilters) -> None:
    errors = ErrorCollector()
    if f.status is not None and f.status not in Status.values:
        errors.add("status", "invalid", f"status must be one of {', '.join(Status.values)}.")
    if f.ordering not in ORDERINGS:
        errors.add("ordering", "invalid", f"ordering must be one of {', '.join(ORDERINGS)}.")
    if f.q is not None and len(f.q) > 200:
        errors.add("q", "too_long", "At most 200 characters.")
    elif f.q is not None and "\x00" in f.q:
        # PostgreSQL text cannot hold NUL: refused here rather than failing in the query.
        errors.add("q", "invalid", "q cannot contain a NUL character.")
    if f.tag is not None and len(f.tag) > 100:
        errors.add("tag", "too_long", "At most 100 characters.")
    elif f.tag is not None and "\x00" in f.tag:
        errors.add("tag", "invalid", "tag cannot contain a NUL character.")
    errors.raise_if_any()


def _compact(text: str) -> str:
    return text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")


def is_phone_search(q: str) -> bool:
    """`q` is a phone prefix (the one search that reads the project's default region)."""
    text = q.strip()
    return text.startswith(("+", "0")) and _compact(text).lstrip("+").isdigit()


def search_q(q: str, region: str | None, *, walk: bool = False, partial_view: bool = False) -> Q:
    """The `q` rules: digits → id; leading + or 0 → phone prefix; @ → e-mail prefix;
    otherwise word prefix on name and company."""
    text = q.strip()
    compact = _compact(text)
    if is_phone_search(text):
        prefix = phone_search_prefix(compact, region)
        keys = DuplicateKey.objects.filter(prefix_q("value", prefix), kind=KeyKind.PHONE)
        return Q(pk__in=keys.values("lead_id"))
    if compact.isdigit():
        return Q(pk=int(compact)) if len(compact) < 19 else Q(pk__in=[])
    if "@" in text:
        return prefix_q("email_key", text.casefold())
    if not fold(text).strip():
        return Q()
    return word_search_q(text, walk=walk, partial_view=partial_view)


# How a name search finds its page depends on how many leads match (see word_search_q).
WORD_SEARCH_FETCH = 2_000
WORD_SEARCH_FETCH_PARTIAL_VIEW = 4_000
WORD_SEARCH_SET = 20_000
# Orderings whose index a search may walk: creation time says nothing about a lead's name.
WALKABLE_ORDERINGS = ("-created_at", "created_at")
# The only filters a walk allows besides `q`: a project keeps it on (project, created_at, id).
WALK_FILTERS = ("q", "project", "ordering")


def _has_word(word: str, lead) -> Exists:
    return Exists(LeadWord.objects.filter(prefix_q("word", word), lead_id=lead))


def word_search_q(text: str, *, walk: bool = False, partial_view: bool = False) -> Q:
    """Leads having, for every word of `text` (at most 5), a name or company word starting
    with it.

    The fast plan depends on how many leads match, which neither database can estimate for a
    prefix (PostgreSQL guesses about 200 for any word outside its most common 100). Fetching
    every match and sorting costs a row read per match: quick for a rare name, 40 ms and more
    for Smith (13,000 leads in a million). Walking the list's ordering index until a page is
    full costs rows in inverse proportion to the matches. So a bounded query first counts the
    matches (driven by the longest word, the others checked per lead; for several words it
    reads their ids, as the intersection is costly to compute twice):

    - at most WORD_SEARCH_FETCH: the database fetches them by id and sorts them (see
      fetch_ids_q: PostgreSQL's estimate of a prefix can be far off either way); an agent's
      view (`partial_view`: own and pool leads, often a sixth of a project) thins the matches
      out along a walk, so for agents the bound is WORD_SEARCH_FETCH_PARTIAL_VIEW;
    - more, when the caller allows a `walk` (creation order, which names do not correlate
      with, and no other filter, which would thin the matches out too): the list walks its
      index, up to WORD_SEARCH_SET testing each lead against the matching ids collected once
      (walk_ids_q); beyond, with one EXISTS per word and lead, as collecting the ids would
      cost more than the page (and PostgreSQL would not keep them in a hash);
    - more, otherwise: one subquery per word, as before, left to the planner.
    """
    words = list(dict.fromkeys(w[:MAX_WORD] for w in search_words(text).split()[:5]))
    if not words:
        return Q()
    driver = max(words, key=len)
    matches = LeadWord.objects.filter(prefix_q("word", driver))
    for word in words:
        if word != driver:
            matches = matches.filter(_has_word(word, OuterRef("lead_id")))
    matches = matches.values_list("lead_id", flat=True)
    fetch = WORD_SEARCH_FETCH_PARTIAL_VIEW if partial_view else WORD_SEARCH_FETCH
    if len(words) == 1:
        found = matches[: (max(fetch, WORD_SEARCH_SET) if walk else fetch) + 1].count()
        if found <= fetch:
            return fetch_ids_q("pk", matches)
    else:
        ids = set(matches[: fetch + 1])
        if len(ids) <= fetch:
            return Q(pk__in=sorted(ids))
        found = None  # more than `fetch` leads have all the words
    if not walk:
        condition = Q()
        for word in words:
            condition &= Q(pk__in=LeadWord.objects.filter(prefix_q("word", word)).values("lead_id"))
        return condition
    if found is not None and found <= WORD_SEARCH_SET:
        return walk_ids_q("pk", matches)
    condition = Q()
    for word in words:
        condition &= Q(_has_word(word, OuterRef("pk")))
    return condition


def fresh_q() -> Q:
    """Lead.is_fresh as a condition: owned, and no activity since it was assigned."""
    return Q(owner__isnull=False) & (
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=F("assigned_at"))
    )


def apply_lead_filters(qs: LeadQuerySet, f: LeadFilters, *, region: str | None = None,
                       now=None, partial_view: bool = False) -> LeadQuerySet:
    """`qs` filtered by `f`. `partial_view`: `qs` is an agent's share of a project
    (`sees_part_of_projects`), which only tunes how a name search runs."""
    check_filters(f)
    now = now or timezone.now()
    if f.q:
        walk = f.ordering in WALKABLE_ORDERINGS and all(
            getattr(f, name) is None for name in LeadFilters.names() if name not in WALK_FILTERS
        )
        qs = qs.filter(search_q(f.q, region, walk=walk, partial_view=partial_view))
    simple = {
        "project_id": f.project, "status": f.status, "stage_id": f.stage,
        "source_id": f.source, "owner_id": f.owner, "pool_id": f.pool,
        "created_at__gte": f.created_after, "created_at__lt": f.created_before,
        "next_call_at__lt": f.next_call_before,
    }
    qs = qs.filter(**{k: v for k, v in simple.items() if v is not None})
    if f.unassigned is not None:
        qs = qs.filter(unassigned_q(now)) if f.unassigned else qs.exclude(unassigned_q(now))
    if f.fresh is not None:
        qs = qs.filter(fresh_q()) if f.fresh else qs.exclude(fresh_q())
    if f.retired is not None:
        qs = qs.filter(retired_at__isnull=not f.retired)
    if f.bucket is not None:
        qs = qs.filter(bucket_id=f.bucket)
    if f.tag is not None:
        # Through the (key, project) and (tag, lead) indexes.
        tagged = LeadTag.objects.filter(tag__key=tag_key(f.tag)).values("lead_id")
        qs = qs.filter(pk__in=tagged)
    if f.list is not None:
        qs = qs.filter(list_id=f.list)
    return qs
