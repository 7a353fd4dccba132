"""SQLite with a writer queue: every write transaction first takes an exclusive `flock` on
`<database>-writer.lock`, then `BEGIN IMMEDIATE`, and lets go at commit or rollback.

SQLite admits one writer at a time and makes the others wait in its busy handler, which sleeps
and polls (up to tens of milliseconds between tries), so a waiting writer often sleeps on while
the lock is already free. A waiter blocked in `flock` is woken by the kernel the moment the lock
is released, across threads and processes alike. The busy timeout stays as the fallback for
writers that do not take the file lock (statements in autocommit mode, other programs).

An in-memory database has a single connection and needs no lock."""

from __future__ import annotations

import fcntl
import os

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer_fd: int | None = None
        self._writer_locked = False

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
            return super()._commit()
        finally:
            self._release_writer()

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
