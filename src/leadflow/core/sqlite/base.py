"""SQLite with a writer queue: every write transaction first takes an exclusive `flock` on
`<database>-writer.lock`, then `BEGIN IMMEDIATE`, and lets go at commit or rollback.

SQLite admits one writer at a time and makes the others wait in its busy handler, which sleeps
and polls (up to tens of milliseconds between tries), so a waiting writer often sleeps on while
the lock is already free. A waiter blocked in `flock` is woken by the kernel the moment the lock
is released, across threads and processes alike. The busy timeout stays as the fallback for
writers that do not take the file lock (statements in autocommit mode, other programs).

Checkpoints (copying the committed log into the database file) run off the request path:
connections start with `wal_autocheckpoint = 0` (settings), and every CHECKPOINT_EVERY-th commit
of a process wakes that process's checkpointer thread, which runs a PASSIVE checkpoint on a
connection of its own. SQLite's automatic checkpoint would run inside the commit that crosses
its threshold, while that writer still holds the lock, every other writer waits and its client
waits on top; a PASSIVE checkpoint runs beside readers and writers alike.

A PASSIVE checkpoint beside busy writers never catches up with the last of them, and the log
starts over only once every frame is copied, so the log would grow without end. When it holds
RESTART_PAGES frames, the checkpointer takes the writer lock and runs one more PASSIVE
checkpoint: only the frames written since its last run are left to copy (a few milliseconds of
holding the lock), every frame is then in the database file, and the next writer starts the
log over (truncated to `journal_size_limit`, settings). A RESTART checkpoint would also wait for
readers, polling, while every writer waits behind the lock.

An in-memory database has a single connection and needs no lock."""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
import threading

from django.db.backends.sqlite3 import base
from django.utils.asyncio import async_unsafe

# Commits of this process between two checkpoints: at 20–40 log pages per intake commit, a few
# hundred pages, as often as SQLite's own default of 1,000 pages with two or three processes.
CHECKPOINT_EVERY = 16
# Log frames (pages) from which the checkpointer has the log start over: 32 MB.
RESTART_PAGES = 8192
_commits = itertools.count(1)
# Statements converted to SQLite's placeholders, by their text (see _Cursor).
CONVERTED_MAX = 4096
_converted: dict[str, str] = {}


class _Cursor(base.SQLiteCursorWrapper):
    """Django's cursor, converting each statement's `%s` placeholders to `?` once per process
    instead of on every run: a regular-expression pass over the whole text, which for a
    multi-row INSERT of thousands of parameters cost about 5 % of a bulk write."""

    def convert_query(self, query, *, param_names=None):
        if param_names is not None:
            return super().convert_query(query, param_names=param_names)
        converted = _converted.get(query)
        if converted is None:
            if len(_converted) >= CONVERTED_MAX:
                _converted.clear()
            converted = _converted[query] = super().convert_query(query)
        return converted


class _Checkpointer:
    """A daemon thread of this process that runs a PASSIVE checkpoint of one database file
    each time it is woken (wakes while it runs fold into one more run)."""

    def __init__(self, path: str):
        self.path, self.pid = path, os.getpid()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()

    def _run(self) -> None:
        lock = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            self.wake.wait()
            self.wake.clear()
            checkpoint(self.path, lock)


def checkpoint(path: str, lock: int) -> None:
    """One run of a checkpointer: a PASSIVE checkpoint and, once the log holds RESTART_PAGES
    frames, one more under the writer lock (`lock`: a descriptor of the lock file), after which
    the next writer starts the log over. A connection per run: one held open between runs would
    stop anything in this process that needs the database to itself (changing its journal
    mode)."""
    conn = sqlite3.connect(path, timeout=20, isolation_level=None)
    try:
        _busy, pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages >= RESTART_PAGES:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except sqlite3.Error:
        pass  # another connection is checkpointing: its run covers these pages
    finally:
        conn.close()


_checkpointers: dict[str, _Checkpointer] = {}
_checkpointers_lock = threading.Lock()


def wake_checkpointer(path: str) -> None:
    """Have this process's checkpointer of `path` run (started on first use, and again in a
    forked child, which inherits no threads)."""
    with _checkpointers_lock:
        checkpointer = _checkpointers.get(path)
        if checkpointer is None or checkpointer.pid != os.getpid():
            checkpointer = _checkpointers[path] = _Checkpointer(path)
    checkpointer.wake.set()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer_fd: int | None = None
        self._writer_locked = False

    @async_unsafe
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=_Cursor)

    def _writer_lock_fd(self) -> int | None:
        if self._writer_fd is None and not self.is_in_memory_db():
            path = f"{self.settings_dict['NAME']}-writer.lock"
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._writer_fd

    def _release_writer(self) -> None:
        if self._writer_locked:
            self._writer_locked = False
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self):
        fd = self._writer_lock_fd()
        if fd is not None and not self._writer_locked:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks, without the GIL, until the writer before ends
            self._writer_locked = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._release_writer()
        if next(_commits) % CHECKPOINT_EVERY == 0 and not self.is_in_memory_db():
            wake_checkpointer(str(self.settings_dict["NAME"]))

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None
