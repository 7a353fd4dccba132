"""Throttles: a sliding log of attempts per key in the database (ThrottleHit), shared by every
web process and host.

An attempt is written first and judged after, against the rows of its key that came before it
(lower ids) within the policy's window. So two concurrent attempts never both take the last
free place: the later row sees the earlier one. A refused attempt deletes its own row, so a
flood of refused requests writes nothing that lasts and a key holds about as many rows as its
policy allows. A window slides: what counts is the attempts of the last `window`, not those
since a clock boundary, so no boundary lets twice the limit through.

Two kinds of policy:
- a limit (`growing=False`): at most `free` attempts in any `window`; the next one waits until
  the oldest counted attempt leaves the window;
- a growing delay (`growing=True`): `free` attempts pass; after that each attempt waits
  2, 4, 8 … seconds (capped at `cap`) after the previous one, and from `lockout_after`
  attempts the key is locked for `lockout` after the last one.

Nothing here checks a role; the services that use it do."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from leadflow.accounts.models import ThrottleHit


@dataclass(frozen=True)
class Policy:
    """How many attempts of a key a window admits, and what happens beyond."""

    window: timedelta
    free: int
    growing: bool = False
    cap: timedelta = timedelta(minutes=15)
    lockout_after: int | None = None
    lockout: timedelta = timedelta(minutes=15)

    def until(self, earlier: list[datetime]) -> datetime | None:
        """When the next attempt may run, given the times (oldest first) of the attempts
        counted before it in the window; None when it may run at once."""
        count = len(earlier)
        if count < self.free:
            return None
        if not self.growing:
            # The attempt passes once enough of the counted ones have left the window.
            return earlier[count - self.free] + self.window
        last = earlier[-1]
        if self.lockout_after is not None and count >= self.lockout_after:
            return last + self.lockout
        seconds = min(2 ** (count - self.free + 1), self.cap.total_seconds())
        return last + timedelta(seconds=seconds)

    def locks(self, count: int) -> bool:
        """Whether `count` attempts in the window lock the key."""
        return self.lockout_after is not None and count >= self.lockout_after


# Sign-in: per account (any address), and per client address (any account).
SIGN_IN_ACCOUNT = Policy(window=timedelta(hours=1), free=5, growing=True,
                         lockout_after=10, lockout=timedelta(minutes=15))
SIGN_IN_ADDRESS = Policy(window=timedelta(hours=1), free=90, growing=True,
                         cap=timedelta(minutes=15))
# A wrong bearer token or bucket key from one address (one budget for both).
WRONG_CREDENTIAL = Policy(window=timedelta(minutes=1), free=20)
# Posts of one source's public web form from one address.
WEB_FORM = Policy(window=timedelta(minutes=10), free=5)

POLICIES = (SIGN_IN_ACCOUNT, SIGN_IN_ADDRESS, WRONG_CREDENTIAL, WEB_FORM)


SIGN_IN_ACCOUNT_PREFIX = "sign-in:account:"


def sign_in_account_key(email: str) -> str:
    return f"{SIGN_IN_ACCOUNT_PREFIX}{email.strip().lower()}"[:320]


def sign_in_address_key(address: str) -> str:
    return f"sign-in:address:{address}"


def wrong_credential_key(address: str) -> str:
    return f"credential:{address}"


def web_form_key(source_id: int, address: str) -> str:
    return f"form:{source_id}:{address}"


@dataclass
class Attempt:
    """The outcome of `attempt`: `wait` seconds (0 when it may run) and, for an attempt that
    runs, its rows (kept as counted failures unless forgiven) and each key's count including
    it."""

    wait: int
    ids: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _earlier(key: str, policy: Policy, now: datetime, before_id: int | None) -> list[datetime]:
    rows = ThrottleHit.objects.filter(key=key, at__gt=now - policy.window)
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    return list(rows.order_by("at", "pk").values_list("at", flat=True))


def seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds from `now` to `moment`, rounded up (0 when it has passed)."""
    if moment is None or moment <= now:
        return 0
    return max(1, math.ceil((moment - now).total_seconds()))


def attempt(checks: list[tuple[str, Policy]]) -> Attempt:
    """Count one attempt under each (key, policy) of `checks`, or refuse it: a refused attempt
    leaves nothing behind and answers how many seconds to wait (the longest of its keys)."""
    with transaction.atomic():
        _serialize([key for key, _ in checks])
        now = timezone.now()  # read after the lock, so the ids' order is the times' order
        rows = ThrottleHit.objects.bulk_create([ThrottleHit(key=key, at=now)
                                                for key, _ in checks])
        # SQLite (3.35+) and PostgreSQL both return the new ids from the one INSERT.
        ids = {key: row.pk for (key, _), row in zip(checks, rows, strict=True)}
        wait, counts = 0, {}
        for key, policy in checks:
            earlier = _earlier(key, policy, now, ids[key])
            counts[key] = len(earlier) + 1
            wait = max(wait, seconds_until(policy.until(earlier), now))
        if wait:
            ThrottleHit.objects.filter(pk__in=list(ids.values())).delete()
            return Attempt(wait=wait)
    return Attempt(wait=0, ids=ids, counts=counts)


def _serialize(keys: list[str]) -> None:
    """Make concurrent attempts of the same keys take turns until the transaction ends.
    SQLite's write transactions (IMMEDIATE) already do. On PostgreSQL, ids come from a sequence
    before commit, so without a lock a later id could commit first and miss an earlier one;
    an advisory lock per key (in sorted order, so two attempts never wait on each other) closes
    that gap."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def waiting(key: str, policy: Policy) -> tuple[datetime | None, int]:
    """When the next attempt of `key` may run (None: now) and how many attempts count in the
    window; writes nothing."""
    now = timezone.now()
    earlier = _earlier(key, policy, now, None)
    until = policy.until(earlier)
    return (until if until is not None and until > now else None), len(earlier)


def waiting_keys(prefix: str, policy: Policy) -> dict[str, datetime]:
    """The keys starting with `prefix` (the prefix cut off) whose next attempt must wait now,
    with until when; one query over the window's rows of those keys."""
    now = timezone.now()
    rows = ThrottleHit.objects.filter(key__startswith=prefix, at__gt=now - policy.window)
    times: dict[str, list[datetime]] = {}
    for key, at in rows.order_by("key", "at", "pk").values_list("key", "at"):
        times.setdefault(key, []).append(at)
    waiting_until = {}
    for key, earlier in times.items():
        until = policy.until(earlier)
        if until is not None and until > now:
            waiting_until[key[len(prefix):]] = until
    return waiting_until


def forgive(ids) -> None:
    """Forget the given attempts (they turned out well)."""
    ThrottleHit.objects.filter(pk__in=list(ids)).delete()


def clear(key: str) -> int:
    """Forget every attempt of `key`; returns how many there were."""
    deleted, _ = ThrottleHit.objects.filter(key=key).delete()
    return deleted


def forget_old_hits() -> int:
    """Delete attempts older than every window (run by the sweep)."""
    longest = max(max(p.window, p.lockout if p.lockout_after else p.window) for p in POLICIES)
    deleted, _ = ThrottleHit.objects.filter(at__lt=timezone.now() - longest).delete()
    return deleted


def in_words(seconds: int) -> str:
    """'30 seconds', '1 minute', '15 minutes' (minutes rounded up)."""
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
