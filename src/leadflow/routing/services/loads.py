"""Open-lead counters per project and owner: changed in the transaction of every ownership or
status change, recounted by the sweep."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import cache

from django.db import connection, transaction
from django.db.models import Count

from leadflow.core.db import write
from leadflow.projects.models import OPEN_STATUSES
from leadflow.routing.models import OwnerLoad


def shift(project_id: int, deltas: dict[int, int]) -> None:
    """Add `deltas` (user id → change) to the users' open-lead counts in a project: one upsert
    per user (a counter is created with its first change), sent with the caller's
    `batched_writes()` if one is open."""
    for user_id, delta in deltas.items():
        if delta and user_id is not None:
            write(_shift_sql(), [project_id, user_id, delta])


@cache
def _shift_sql() -> str:
    """Written by hand (names from the model): it runs in every routed intake."""
    quote = connection.ops.quote_name
    table, n = quote(OwnerLoad._meta.db_table), quote("open_leads")
    return (f"INSERT INTO {table} ({quote('project_id')}, {quote('user_id')}, {n}) "
            f"VALUES (%s, %s, %s) ON CONFLICT ({quote('project_id')}, {quote('user_id')}) "
            f"DO UPDATE SET {n} = {table}.{n} + excluded.{n}")


def moved(lead, old_owner_id: int | None, new_owner_id: int | None) -> None:
    """A lead changed owner: the old owner has one open lead less, the new one one more."""
    if old_owner_id == new_owner_id or lead.status not in OPEN_STATUSES:
        return
    shift(lead.project_id, {old_owner_id: -1, new_owner_id: +1})


def owned_leads_changed(project_id: int, owner_ids: Iterable[int | None], sign: int) -> None:
    """Open owned leads appeared (+1) or went away (-1): one count per owner id given."""
    counts = Counter(owner for owner in owner_ids if owner is not None)
    shift(project_id, {owner: sign * n for owner, n in counts.items()})


def loads_of(project_id: int, user_ids: Iterable[int]) -> dict[int, int]:
    """The users' open-lead counts in a project (a user without a counter has none)."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_loads_sql(), [project_id])
        return {user_id: n for user_id, n in cursor.fetchall() if user_id in wanted}


@cache
def _loads_sql() -> str:
    """Every counter of a project, by hand (names from the model): least-loaded routing reads
    them in every routed intake, and a project has one per member."""
    quote = connection.ops.quote_name
    return (f"SELECT {quote('user_id')}, {quote('open_leads')} "
            f"FROM {quote(OwnerLoad._meta.db_table)} WHERE {quote('project_id')} = %s")


def recount(project_id: int | None = None) -> int:
    """Set every counter to the true count of open, owned, not merged-away leads. Returns how
    many counters were wrong."""
    from leadflow.crm.models import Lead

    leads = Lead.objects.filter(owner__isnull=False, status__in=OPEN_STATUSES,
                                merged_into__isnull=True)
    counters = OwnerLoad.objects.all()
    if project_id is not None:
        leads = leads.filter(project_id=project_id)
        counters = counters.filter(project_id=project_id)
    truth = {
        (row["project_id"], row["owner_id"]): row["n"]
        for row in leads.values("project_id", "owner_id").annotate(n=Count("id"))
    }
    wrong = 0
    with transaction.atomic():
        stored = {(c.project_id, c.user_id): c for c in counters}
        for key, counter in stored.items():
            if counter.open_leads != truth.get(key, 0):
                wrong += 1
                OwnerLoad.objects.filter(pk=counter.pk).update(open_leads=truth.get(key, 0))
        missing = [OwnerLoad(project_id=p, user_id=u, open_leads=n)
                   for (p, u), n in truth.items() if (p, u) not in stored]
        wrong += len(missing)
        OwnerLoad.objects.bulk_create(missing, ignore_conflicts=True)
    return wrong
