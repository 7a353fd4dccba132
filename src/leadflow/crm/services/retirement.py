"""Retirement: a neglected lead goes back to its pool, listed under Retired leads, and one
reassignment gives it a second chance.

A lead is due when it is owned, open, not retired, not merged away and not on offer, and both
its last meaningful activity (none counts as never) and its assignment are older than the
system threshold an admin sets (`SystemSettings.retirement_days`). Retiring unassigns it, keeps
the first owner on record as the original owner and the last one in the LEAD_RETIRED event,
moves the open-lead counters, and deletes nothing. Assigning the lead again (assign, take
ownership, an accepted offer) clears the mark."""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from django.db import connection, connections, transaction
from django.utils import timezone

from leadflow.accounts import services as accounts
from leadflow.accounts.models import User
from leadflow.core.actor import Actor
from leadflow.core.db import Slices, checkpoint
from leadflow.core.errors import Conflict
from leadflow.crm.access import check_lead_action
from leadflow.crm.models import Lead
from leadflow.projects.models import OPEN_STATUSES, SystemSettings
from leadflow.routing.services import loads
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

SYSTEM = Actor.system("job")


def retire_lead(lead: Lead, *, actor: Actor, reason: str = "") -> Lead:
    """Retire one open lead now (a tag rule's "retire" action): retired_at is set, owner and
    claim are cleared (the first owner stays the original owner), an open offer is cancelled,
    the owner's open-lead count drops and the owner is told unless they did it. Managers and
    the system (a rule a manager configured, the sweep) may. Already retired, closed or merged
    away: returned unchanged, nothing recorded. Timeline: LEAD_RETIRED (before: the owner).
    Errors: PermissionDenied, Conflict (its ownership changed meanwhile)."""
    check_lead_action(actor, lead, "manage")
    if lead.retired_at is not None or lead.status not in OPEN_STATUSES or lead.merged_into_id:
        return lead
    from leadflow.crm.services.ownership import _label, _same_state, close_open_offer

    now = timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(
            _same_state(lead), retired_at__isnull=True, status__in=OPEN_STATUSES
        ).update(owner_id=None, claimed_by_id=None, claimed_until=None, offer_until=None,
                 retired_at=now, updated_at=now,
                 original_owner_id=lead.original_owner_id or lead.owner_id)
        if won != 1:
            current = Lead.objects.filter(pk=lead.pk).first()
            if current is not None and current.retired_at is not None:
                return current
            raise Conflict("The lead changed meanwhile; reload and try again.")
        if lead.offer_until is not None:
            close_open_offer(lead, actor=actor, now=now, reason=reason)
        loads.moved(lead, lead.owner_id, None)
        before = {"owner": _label(lead.owner_id), "retired": False}
        if lead.live_claim(now):
            before["claimed_by"] = _label(lead.claimed_by_id)
        timeline.record(TimelineKind.LEAD_RETIRED, actor=actor, lead=lead, before=before,
                        after={"owner": None, "retired": True}, reason=reason, occurred_at=now)
        if lead.owner_id is not None and lead.owner_id != getattr(actor.user, "pk", None):
            accounts.notify([lead.owner_id], "lead_retired",
                            f"Lead {lead.name} was retired and went back to its pool."
                            + (f" Reason: {reason}" if reason else ""),
                            project_id=lead.project_id, lead_id=lead.pk)
    lead.refresh_from_db()
    return lead


def retire_due(now=None) -> int:
    """Retire every due lead (see the module docstring); returns how many. Run by the sweep.

    Set-based, in chunks, each its own short transaction: the due leads are read in the order
    of the `lead_retirement_quiet` index (keyset on quiet since, id; the leads due are the
    start of that index, so no other lead is read) and retired by one UPDATE whose WHERE checks
    again that they are owned, open and not retired; only the rows it changed get their
    LEAD_RETIRED event, counter changes and notification (one per previous owner and chunk).
    On PostgreSQL the walk locks its rows (SKIP LOCKED: a concurrent sweep takes other leads)
    in the same statement as the UPDATE, and two connections retire at once, one from each end
    of the due range. A second run, or a concurrent one, finds nothing left to do."""
    now = now or timezone.now()
    days = SystemSettings.load().retirement_days
    sweep = _Sweep(now=now, days=days, batch_id=uuid.uuid4())
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:  # the caller's transaction: its own connection only
            return sweep.run()
        # Each chunk's UPDATE is CPU-bound in its backend (a lead that changes owner gets a new
        # entry in every index of the lead table), so two connections use two cores. One walks
        # the due leads from the oldest, the other from the newest, so neither steps over the
        # other's locked chunk until they meet; SKIP LOCKED keeps them on different leads.
        return sum(_in_threads([sweep.run, partial(sweep.run, newest_first=True)]))
    with _sqlite_cache():
        return sweep.run()


# Leads retired per transaction, at most. On SQLite a transaction holds the one write lock, so
# chunks are sized to hold it about SLICE seconds (core.db.Slices), while every chunk rewrites
# the owner index's pages again: fewer, larger chunks write far less. On PostgreSQL only the
# chunk's own rows are locked.
CHUNK = {"sqlite": 20000, "postgresql": 10000}
SLICE = 0.2


def chunk_size() -> int:
    return CHUNK.get(connection.vendor, 5000)


class _Sweep:
    """One retirement run: its time, threshold and batch, shared by its workers."""

    def __init__(self, *, now, days: int, batch_id):
        self.now, self.days, self.batch_id = now, days, batch_id
        self.cutoff = now - timedelta(days=days)
        self.reason = f"No activity and no new assignment for {days} days."

    def run(self, newest_first: bool = False) -> int:
        """Retire chunk after chunk on this thread's connection until none is due, walking
        the due leads from the oldest (or the newest) on."""
        total, after_key = 0, None
        slices = Slices(chunk_size(), seconds=SLICE)
        while True:
            started = time.monotonic()
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    _commit_without_waiting()
                    retired = _retire_next(self.cutoff, self.now, after_key, newest_first)
                    if not retired:
                        return total
                    after_key = (retired[-1][4], retired[-1][0])
                else:
                    rows = _due_chunk(self.cutoff, self.now, after_key, slices.size)
                    if not rows:
                        return total
                    after_key = (rows[-1][4], rows[-1][0])
                    retired = _retire_rows(rows, self.now, self.cutoff)
                if retired:
                    _record(retired, now=self.now, days=self.days, reason=self.reason,
                            batch_id=self.batch_id)
                total += len(retired)
            if connection.vendor != "postgresql":
                slices.wrote(len(rows), time.monotonic() - started)


def _commit_without_waiting() -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk (a
    chunk writes tens of megabytes of it). A crash just after may lose the last chunks, each
    whole, never half: the next sweep retires those leads again. SQLite's synchronous=NORMAL
    gives every commit that same guarantee."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _in_threads(works: list) -> list:
    """Each of `works` called on a thread of its own, at once, each with its own database
    connection (closed when it ends); their results, or the first error."""

    def one(work):
        try:
            return work()
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        futures = [pool.submit(one, work) for work in works]
        return [future.result() for future in futures]


SWEEP_CACHE_KIB = 262144


@contextmanager
def _sqlite_cache():
    """On SQLite, while the sweep runs: a page cache big enough for a chunk's dirty pages (with
    the default 2 MB, SQLite spills them to the WAL mid-transaction and writes them again at
    commit), restored afterwards, and one checkpoint at the end (connections never checkpoint
    by themselves: see leadflow/core/sqlite/base.py)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{SWEEP_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")
        checkpoint()


INDEX = "lead_retirement_quiet"


def _column(name: str) -> str:
    return connection.ops.quote_name(Lead._meta.get_field(name).column)


def quiet_since_sql() -> str:
    """The later of a lead's assignment and last activity, written exactly as the
    `lead_retirement_quiet` index holds it (so both engines walk that index)."""
    assigned, activity = _column("assigned_at"), _column("last_activity_at")
    greatest = "MAX" if connection.vendor == "sqlite" else "GREATEST"
    return f"{greatest}({assigned}, COALESCE({activity}, {assigned}))"


def due_sql(cutoff, now, after_key=None, limit: int | None = None, newest_first: bool = False
            ) -> tuple[str, list]:
    """The next `limit` due leads after `after_key` (quiet since, id) in the order of the
    `lead_retirement_quiet` index, or in reverse with `newest_first`: (id, project id, name,
    owner id, quiet since) each. The leads due are exactly the start of that index, up to the
    cutoff, so the walk reads only them (and the rare merged-away or offered lead among them).

    Written by hand because SQLite uses a partial index only when the query repeats its
    condition word for word, literals included (`status IN ('NOT_CONTACTED', …)`, not bound
    parameters); the statuses are constants of the code, never input."""
    quote, col = connection.ops.quote_name, _column
    adapt = connection.ops.adapt_datetimefield_value
    statuses = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
    table = quote(Lead._meta.db_table)
    # SQLite's planner has no statistics on a fresh database: name the index it must walk.
    hint = f" INDEXED BY {quote(INDEX)}" if connection.vendor == "sqlite" else ""
    quiet, offer, pk = quiet_since_sql(), col("offer_until"), quote(Lead._meta.pk.column)
    sql = (
        f"SELECT {pk}, {col('project')}, {col('name')}, {col('owner')}, {quiet} AS quiet_since "
        f"FROM {table}{hint} WHERE {col('owner')} IS NOT NULL AND {col('retired_at')} IS NULL "
        f"AND {col('status')} IN ({statuses}) AND {quiet} < %s "
        f"AND {col('merged_into')} IS NULL AND ({offer} IS NULL OR {offer} <= %s)"
    )
    params = [adapt(cutoff), adapt(now)]
    if after_key is not None:
        # `q >= x AND (q > x OR id > y)`: the leading range lets both engines seek the index.
        # On PostgreSQL the key comes back as text (see _retire_next), cast here.
        key = "CAST(%s AS timestamp with time zone)" if connection.vendor == "postgresql" else "%s"
        ge, gt = ("<=", "<") if newest_first else (">=", ">")
        sql += f" AND {quiet} {ge} {key} AND ({quiet} {gt} {key} OR {pk} {gt} %s)"
        params += [after_key[0], after_key[0], after_key[1]]
    order = " DESC" if newest_first else ""
    sql += f" ORDER BY {quiet}{order}, {pk}{order} LIMIT %s"
    params.append(limit or chunk_size())
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    return sql, params


def _due_chunk(cutoff, now, after_key, limit: int) -> list[tuple]:
    sql, params = due_sql(cutoff, now, after_key, limit=limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _retire_next(cutoff, now, after_key, newest_first: bool = False) -> list[tuple]:
    """PostgreSQL: lock the next chunk of due leads (SKIP LOCKED) and retire them in one
    statement; (id, project id, name, previous owner id, quiet since) of each, in walk order.
    The lock re-checks the walk's conditions on the current row, so a lead assigned or worked
    meanwhile is left alone. Every changed row gets new entries in all the lead table's indexes
    anyway, so the first owner is kept in the same UPDATE, not a second one. Quiet since comes
    back as text, all the next walk needs (parsing a timestamp per lead cost more than the rest
    of reading the rows)."""
    meta = Lead._meta
    quote, column = connection.ops.quote_name, _column
    adapt = connection.ops.adapt_datetimefield_value
    walk, walk_params = due_sql(cutoff, now, after_key, newest_first=newest_first)
    order = " DESC" if newest_first else ""
    pk, owner, first = quote(meta.pk.column), column("owner"), column("original_owner")
    sql = (
        f"WITH due AS ({walk}), done AS ("
        f"UPDATE {quote(meta.db_table)} AS lead SET {first} = COALESCE(lead.{first}, "
        f"lead.{owner}), {owner} = NULL, {column('retired_at')} = %s, "
        f"{column('updated_at')} = %s FROM due WHERE lead.{pk} = due.{pk} "
        f"RETURNING lead.{pk}, due.{column('project')}, due.{column('name')}, "
        f"due.{owner}, due.quiet_since) "
        f"SELECT {pk}, {column('project')}, {column('name')}, {owner}, quiet_since::text "
        f"FROM done ORDER BY quiet_since{order}, {pk}{order}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*walk_params, adapt(now), adapt(now)])
        return cursor.fetchall()


def _retire_rows(rows: list[tuple], now, cutoff) -> list[tuple]:
    """One conditional UPDATE for the chunk; the rows it changed, as read."""
    meta = Lead._meta
    quote, column = connection.ops.quote_name, _column
    adapt = connection.ops.adapt_datetimefield_value
    ids = [row[0] for row in rows]
    owner, retired_at, status = column("owner"), column("retired_at"), column("status")
    activity = column("last_activity_at")
    id_list = f"{quote(meta.pk.column)} IN ({', '.join(['%s'] * len(ids))})"
    # An owned lead has its original owner on record already and no claim (a claim needs an
    # unowned lead), so only the columns that change are set: on SQLite every index holding a
    # column of the SET list is rewritten, whether the value changes or not.
    keep_first = (f"UPDATE {quote(meta.db_table)} SET {column('original_owner')} = {owner} "
                  f"WHERE {id_list} AND {column('original_owner')} IS NULL")
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {owner} = NULL, {retired_at} = %s, "
        f"{column('updated_at')} = %s "
        f"WHERE {id_list} AND {retired_at} IS NULL AND {owner} IS NOT NULL "
        f"AND {status} IN ({', '.join(['%s'] * len(OPEN_STATUSES))}) "
        f"AND {column('assigned_at')} < %s AND ({activity} IS NULL OR {activity} < %s) "
        f"RETURNING {quote(meta.pk.column)}"
    )
    params = [adapt(now), adapt(now), *ids, *[str(s) for s in OPEN_STATUSES], adapt(cutoff),
              adapt(cutoff)]
    with connection.cursor() as cursor:
        cursor.execute(keep_first, ids)
        cursor.execute(sql, params)
        changed = {row[0] for row in cursor.fetchall()}
    return [row for row in rows if row[0] in changed]


def _record(rows: list[tuple], *, now, days: int, reason: str, batch_id) -> None:
    emails = dict(User.objects.filter(pk__in={row[3] for row in rows})
                  .values_list("pk", "email"))
    # One before dict per owner and one after dict: encoded once for the whole chunk.
    before = {owner: {"owner": emails.get(owner, str(owner)), "retired": False}
              for owner in {row[3] for row in rows}}
    after = {"owner": None, "retired": True}
    timeline.record_for_leads(
        TimelineKind.LEAD_RETIRED,
        ((row[0], row[1], row[2], before[row[3]], after) for row in rows),
        actor=SYSTEM, reason=reason, batch_id=batch_id, occurred_at=now,
    )
    per_project: dict[int, Counter] = defaultdict(Counter)
    one_lead = {}
    for row in rows:
        per_project[row[1]][row[3]] += 1
        one_lead[(row[1], row[3])] = row[0]
    notices = []
    # Counters in one order (project, user), so two sweeps never wait on each other in a cycle.
    for project_id, counts in sorted(per_project.items()):
        loads.shift(project_id, {owner: -n for owner, n in sorted(counts.items())})
        for owner, n in sorted(counts.items()):
            text = (f"{n} of your leads had no activity for {days} days and were retired; "
                    "they wait in their pools." if n > 1 else
                    f"A lead of yours had no activity for {days} days and was retired; it "
                    "waits in its pool.")
            lead_id = one_lead[(project_id, owner)] if n == 1 else None
            notices.append((owner, "leads_retired", text, project_id, lead_id))
    accounts.notify_each(notices)


# --- reading -------------------------------------------------------------------------------


def retired_leads_visible_to(actor: Actor, filters, *, had_it: User | None = None):
    """Retired leads of the projects `actor` manages (all for admins), narrowed by the lead
    filters and, with `had_it`, to those that user owned when they retired. Managers and
    admins only. Errors: PermissionDenied."""
    from django.db.models import Exists, OuterRef

    from leadflow.accounts.access import can_configure, managed_by
    from leadflow.core.errors import PermissionDenied
    from leadflow.crm.access import leads_visible_to
    from leadflow.crm.filters import apply_lead_filters
    from leadflow.timeline.models import TimelineEvent

    if actor.user is None or not can_configure(actor.user):
        raise PermissionDenied("Only managers and admins see retired leads.")
    filters.retired = True
    qs = managed_by(actor, apply_lead_filters(leads_visible_to(actor), filters))
    if had_it is not None:
        qs = qs.filter(Exists(TimelineEvent.objects.filter(
            lead_id=OuterRef("pk"), kind=TimelineKind.LEAD_RETIRED,
            occurred_at=OuterRef("retired_at"), before__owner=had_it.email)))
    return qs


def last_owners(lead_ids) -> dict[int, str]:
    """Who owned each lead when it last retired (e-mail), from its LEAD_RETIRED events."""
    from leadflow.timeline.models import TimelineEvent

    owners: dict[int, str] = {}
    events = (TimelineEvent.objects.filter(lead_id__in=list(lead_ids),
                                           kind=TimelineKind.LEAD_RETIRED)
              .order_by("lead_id", "occurred_at", "id").values_list("lead_id", "before"))
    for lead_id, before in events:
        owners[lead_id] = (before or {}).get("owner") or ""
    return owners
