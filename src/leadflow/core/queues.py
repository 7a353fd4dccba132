"""Background work's order and coalescing. One queue serves every consumer; a task's priority
decides what a free consumer thread takes next, and each consumer runs several tasks at once
(`leadflow worker --jobs N`), so user work (an import, an export, a bulk action, a resumed job)
starts as soon as a thread is free and never waits behind housekeeping, whose tasks run in
short slices and are coalesced: at most one of a kind pending and one running."""

from __future__ import annotations

import time

from huey.contrib.djhuey import HUEY

# Higher runs first.
USER = 100  # jobs a user started or waits for
SWEEP = 50  # the minute sweep: lapses, stalled jobs and submissions
HOUSEKEEPING = 10  # possible-duplicate checks and other catch-up work


def take_flag(key: str, *, stale_after: float) -> bool:
    """Set `key` in the queue's store unless it is set already (by any process); a flag older
    than `stale_after` seconds is taken over, so one left by a killed process never blocks."""
    now = time.time()
    if HUEY.put_if_empty(key, now):
        return True
    since = HUEY.get(key, peek=True)
    if since is None or now - float(since) > stale_after:
        HUEY.delete(key)
        return bool(HUEY.put_if_empty(key, now))
    return False


def drop_flag(key: str) -> None:
    HUEY.delete(key)
