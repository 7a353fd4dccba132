"""The router: who owns a new lead, decided inside the transaction that creates (or re-routes)
it. Direct-to-user first (the bucket's fixed user, then the source's target user), then the
first active distribution rule whose conditions hold, picking among its pool's members by
round robin, weighted rotation or least load, skipping away members and members at their cap.

Each decision is explained with compact codes for the timeline:
    {"via": "rule", "rule": 3, "m": "rr", "cand": [4, 5, 6], "skip": {"5": "away"},
     "cur": [4, 6], "to": 6}
`via` is rule | bucket | source | none; `m` rr | w | ll; `skip` codes: away, cap, not_in_pool;
`cur` is the rotation cursor before and after; `why` says why nobody was picked (no_match,
no_candidate).

Conditions are matched against the project's active rules as read without locks, or as a
caller keeps them (intake keeps them per process, at most a few seconds old, so a project
without rules costs intake no query). Once a rule matches, the active rules are read again
under row locks (PostgreSQL `SELECT … FOR UPDATE`, in rule order, so two routers never
deadlock; SQLite's write transactions are serialized already) and the matching rule's current
row decides; its rotation state is written before the transaction ends, so concurrent intakes
take turns and the rotation stays fair."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from functools import cache

from django.db import connection

from leadflow.accounts.models import Membership, User
from leadflow.core.cache import CONFIG_TTL, config_generation
from leadflow.core.db import json_value, naive_utc, update_sql, write
from leadflow.projects.models import Pool
from leadflow.routing.models import DistributionRule, Method
from leadflow.routing.services import loads

METHOD_CODES = {Method.ROUND_ROBIN: "rr", Method.WEIGHTED: "w", Method.LEAST_LOADED: "ll"}


@dataclass
class LeadFacts:
    """What routing conditions look at."""

    source_id: int | None = None
    bucket_id: int | None = None
    country: str = ""
    language: str = ""
    custom: dict = field(default_factory=dict)


@dataclass
class Decision:
    owner_id: int | None
    pool: Pool | None  # None: the lead keeps the pool it would have had
    explain: dict

    @property
    def routed(self) -> bool:
        return self.explain.get("via") != "none"


def rule_matches(rule: DistributionRule, facts: LeadFacts) -> bool:
    if rule.sources and facts.source_id not in rule.sources:
        return False
    if rule.buckets and facts.bucket_id not in rule.buckets:
        return False
    if rule.countries and (facts.country or "").upper() not in rule.countries:
        return False
    if rule.languages and (facts.language or "").lower() not in rule.languages:
        return False
    for name, wanted in (rule.custom or {}).items():
        value = (facts.custom or {}).get(name)
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if value not in allowed:
            return False
    return True


def active_rules(project_id: int) -> list[DistributionRule]:
    """The project's active distribution rules in order, with their pools (no locks)."""
    return list(DistributionRule.objects.filter(project_id=project_id, active=True)
                .select_related("pool").order_by("position", "id"))


class Router:
    """Routing for one project inside one transaction; `decide()` per lead, then `flush()`
    writes the rotation state and the open-lead counters it changed."""

    def __init__(self, project_id: int, rules: list[DistributionRule] | None = None):
        """`rules`: the project's active rules in order, as the caller keeps them (only read
        here, never changed), for matching. A caller that keeps rules takes pool members
        (with their away flags) as kept by this process too, as fresh as the rules."""
        self.project_id = project_id
        self._rules: list[DistributionRule] | None = rules
        self._kept = rules is not None
        self._locked: dict[int, DistributionRule] = {}
        self._state: dict[int, tuple] = {}
        self._lock_taken = False
        self._members: dict[int, list[int]] = {}
        self._away: set[int] = set()
        self.emails: dict[int, str] = {}
        self._loads: dict[int, int] = {}
        self._loaded_users: set[int] = set()
        self._deltas: dict[int, int] = {}

    # --- reading --------------------------------------------------------------------------

    def rules(self) -> list[DistributionRule]:
        """The project's active rules in order, for matching."""
        if self._rules is None:
            self._rules = active_rules(self.project_id)
        return self._rules

    def members(self, pool_id: int) -> list[int]:
        """The pool's active members by id; their away flags and e-mails come with them."""
        if pool_id not in self._members:
            ids = []
            for user_id, away, email in _member_rows(self.project_id, pool_id, self._kept):
                ids.append(user_id)
                self.emails[user_id] = email
                if away:
                    self._away.add(user_id)
            self._members[pool_id] = sorted(ids)
        return self._members[pool_id]

    def away(self) -> set[int]:
        return self._away

    def load(self, user_ids: list[int]) -> dict[int, int]:
        missing = [u for u in user_ids if u not in self._loaded_users]
        if missing:
            self._loads.update(loads.loads_of(self.project_id, missing))
            self._loaded_users.update(missing)
        return {u: self._loads.get(u, 0) for u in user_ids}

    def _locked_rule(self, rule: DistributionRule) -> DistributionRule | None:
        """The rule as it is now, its rotation state read under a row lock, or None when it
        is no longer active. The first call of a transaction locks every active rule of the
        project, in rule order, so two routers never wait on each other in a cycle, and reads
        their rotation state (cursor, credits) and `updated_at`, which only a change of the
        rule's configuration moves: where it equals the kept copy's, the copy is current and
        only the rotation state is taken over; otherwise the rule is read again whole."""
        if not self._lock_taken:
            with connection.cursor() as cursor:
                cursor.execute(_locked_rules_sql(), [self.project_id])
                self._state = {row[0]: row[1:] for row in cursor.fetchall()}
            self._lock_taken = True
        if rule.pk in self._locked:
            return self._locked[rule.pk]
        state = self._state.get(rule.pk)
        if state is None:
            return None
        updated_at, cursor_value, credits = state
        if naive_utc(updated_at) == naive_utc(rule.updated_at):
            current = copy.copy(rule)  # the kept copy is shared: never change it
            current.cursor, current.credits = cursor_value, json_value(credits) or {}
        else:
            current = DistributionRule.objects.select_related("pool").get(pk=rule.pk)
        self._locked[rule.pk] = current
        return current

    # --- deciding -------------------------------------------------------------------------

    def decide(self, facts: LeadFacts, *, bucket=None, source=None, pool: Pool | None = None
               ) -> Decision:
        """Who should own a lead with `facts`. `pool` is the pool the lead would otherwise be
        in (direct-to-user keeps it when the target is a member)."""
        skipped: dict[str, str] = {}
        for via, target_id in (("bucket", getattr(bucket, "default_manager_id", None)),
                               ("source", getattr(source, "target_user_id", None))):
            if target_id is None:
                continue
            target_pool = self._pool_with(target_id, prefer=pool)
            if target_pool is None:
                skipped[str(target_id)] = "not_in_pool"
                continue
            self._count(target_id)
            explain = {"via": via, "to": target_id}
            if skipped:
                explain["skip"] = skipped
            return Decision(target_id, target_pool, explain)
        for rule in self.rules():
            if rule_matches(rule, facts):
                current = self._locked_rule(rule)
                # A kept copy may be a few seconds old: the current row decides.
                if current is not None and rule_matches(current, facts):
                    return self._by_rule(current, skipped)
        explain = {"via": "none", "why": "no_match"}
        if skipped:
            explain["skip"] = skipped
        return Decision(None, None, explain)

    def up_next(self, rule: DistributionRule) -> int | None:
        """Whom `rule` would pick now, without moving its rotation."""
        candidates, eligible, _skipped = self._eligible(rule)
        if not eligible:
            return None
        current = self.load(eligible) if rule.method == Method.LEAST_LOADED else {}
        chosen, _cursor, _credits = _pick(rule, eligible, current)
        return chosen

    def _pool_with(self, user_id: int, prefer: Pool | None) -> Pool | None:
        """Direct-to-user keeps the lead's pool; the target must be a member of it."""
        if prefer is not None and user_id in self.members(prefer.pk):
            return prefer
        return None

    def _eligible(self, rule: DistributionRule) -> tuple[list[int], list[int], dict[str, str]]:
        candidates = self.members(rule.pool_id)
        away = self._away
        capped = rule.agent_cap is not None or any(v is not None for v in rule.caps.values())
        current = self.load(candidates) if capped else {}
        eligible, skipped = [], {}
        for user_id in candidates:
            cap = rule.caps.get(str(user_id), rule.agent_cap)
            if user_id in away:
                skipped[str(user_id)] = "away"
            elif cap is not None and current[user_id] >= cap:
                skipped[str(user_id)] = "cap"
            else:
                eligible.append(user_id)
        return candidates, eligible, skipped

    def _by_rule(self, rule: DistributionRule, skipped: dict[str, str]) -> Decision:
        candidates, eligible, rule_skipped = self._eligible(rule)
        skipped = {**skipped, **rule_skipped}
        explain = {"via": "rule", "rule": rule.pk, "m": METHOD_CODES[rule.method],
                   "cand": candidates}
        if skipped:
            explain["skip"] = skipped
        if not eligible:
            explain["why"] = "no_candidate"
            return Decision(None, rule.pool, explain)
        before = rule.cursor
        current = self.load(eligible) if rule.method == Method.LEAST_LOADED else {}
        chosen, rule.cursor, rule.credits = _pick(rule, eligible, current)
        rule._routing_dirty = True
        explain["cur"] = [before, rule.cursor]
        explain["to"] = chosen
        self._count(chosen)
        return Decision(chosen, rule.pool, explain)

    def _count(self, user_id: int) -> None:
        if user_id in self._loaded_users:
            self._loads[user_id] = self._loads.get(user_id, 0) + 1
        self._deltas[user_id] = self._deltas.get(user_id, 0) + 1

    # --- writing --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the rotation state and the counters changed by `decide()`; call inside the
        transaction that stores the leads (with its `batched_writes()`, if one is open)."""
        for rule in self._locked.values():
            if getattr(rule, "_routing_dirty", False):
                # Rotation state only: `updated_at` tells when the configuration changed.
                write(*update_sql(DistributionRule, rule.pk,
                                  {"cursor": rule.cursor, "credits": rule.credits}))
                rule._routing_dirty = False
        if self._deltas:
            loads.shift(self.project_id, self._deltas)
            self._deltas = {}

    def forget(self) -> None:
        """Drop what `decide()` changed (the transaction rolled back)."""
        self._locked.clear()
        self._state = {}
        self._lock_taken = False
        self._loads.clear()
        self._loaded_users.clear()
        self._deltas = {}


# Hand-written statements (table and column names from the models, never input): routing runs
# in every intake, and building these through the ORM cost more than running them.


# (project id, pool id) → (configuration generation, when read, member rows)
_kept_members: dict[tuple[int, int], tuple[int, float, list]] = {}


def _member_rows(project_id: int, pool_id: int, kept: bool) -> list[tuple[int, bool, str]]:
    """(user id, away, e-mail) of the pool's active members; with `kept`, as this process
    read them at most CONFIG_TTL seconds ago (see leadflow.core.cache)."""
    key = (project_id, pool_id)
    if kept:
        entry = _kept_members.get(key)
        if (entry is not None and entry[0] == config_generation()
                and time.monotonic() - entry[1] <= CONFIG_TTL):
            return entry[2]
    generation, read_at = config_generation(), time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(_members_sql(), [project_id, pool_id])
        rows = [(user_id, bool(away), email) for user_id, away, email in cursor.fetchall()]
    if kept:
        _kept_members[key] = (generation, read_at, rows)
    return rows


@cache
def _members_sql() -> str:
    quote = connection.ops.quote_name
    through = Pool.members.through._meta
    return (
        f"SELECT m.{quote('user_id')}, m.{quote('away')}, u.{quote('email')} "
        f"FROM {quote(Membership._meta.db_table)} m "
        f"JOIN {quote(through.db_table)} pm ON pm.{quote('user_id')} = m.{quote('user_id')} "
        f"JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = m.{quote('user_id')} "
        f"WHERE m.{quote('project_id')} = %s AND pm.{quote('pool_id')} = %s "
        f"AND u.{quote('is_active')}"
    )


@cache
def _locked_rules_sql() -> str:
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('id')}, {quote('updated_at')}, {quote('cursor')}, {quote('credits')} "
        f"FROM {quote(DistributionRule._meta.db_table)} "
        f"WHERE {quote('project_id')} = %s AND {quote('active')} "
        f"ORDER BY {quote('position')}, {quote('id')}"
    )
    if connection.vendor == "postgresql":
        # The lightest lock that still makes concurrent routers take turns; it does not block
        # the foreign-key checks of leads and events that name the rule's pool.
        sql += " FOR NO KEY UPDATE"
    return sql


def _after(order: list[int], cursor: int | None) -> list[int]:
    """`order` rotated to start after `cursor`."""
    if cursor is None:
        return order
    later = [u for u in order if u > cursor]
    return later + [u for u in order if u <= cursor]


def _pick(rule: DistributionRule, eligible: list[int], current: dict[int, int]
          ) -> tuple[int, int | None, dict]:
    """(chosen user, new cursor, new credits) for a non-empty `eligible` list."""
    if rule.method == Method.WEIGHTED:
        weights = {u: max(int(rule.weights.get(str(u), 1)), 0) for u in eligible}
        if not any(weights.values()):
            weights = dict.fromkeys(eligible, 1)
        credits = dict(rule.credits or {})
        total = sum(weights.values())
        best = None
        for user_id in _after(eligible, rule.cursor):
            credits[str(user_id)] = credits.get(str(user_id), 0) + weights[user_id]
            if best is None or credits[str(user_id)] > credits[str(best)]:
                best = user_id
        credits[str(best)] -= total
        return best, best, credits
    if rule.method == Method.LEAST_LOADED:
        lowest = min(current[u] for u in eligible)
        chosen = next(u for u in _after(eligible, rule.cursor) if current[u] == lowest)
        return chosen, chosen, rule.credits
    chosen = _after(eligible, rule.cursor)[0]
    return chosen, chosen, rule.credits
