"""The word index behind name and company search."""

from __future__ import annotations

from django.db.models import Q

from leadflow.core.normalize import search_words
from leadflow.core.search import prefix_q
from leadflow.crm.models import Lead, LeadWord

MAX_WORD = 100


def words_of(name: str, company: str) -> set[str]:
    return {w[:MAX_WORD] for w in search_words(name, company).split()}


def index_words(lead: Lead, *, replace: bool = False) -> None:
    """(Re)write the lead's search words. Called by the services that change name or company."""
    if replace:
        LeadWord.objects.filter(lead=lead).delete()
    LeadWord.objects.bulk_create(
        [LeadWord(lead=lead, word=w) for w in sorted(words_of(lead.name, lead.company))]
    )


def word_prefix_q(text: str) -> Q:
    """Leads having, for every word of `text`, a name or company word starting with it."""
    condition = Q()
    for word in search_words(text).split()[:5]:
        ids = LeadWord.objects.filter(prefix_q("word", word[:MAX_WORD])).values("lead_id")
        condition &= Q(pk__in=ids)
    return condition
