"""SQLite's log is copied into the database file off the request path, and starts over while
writers keep committing (a standalone database file: the same on either test engine)."""

import os
import sqlite3

from leadflow.core.sqlite import base


def log_pages(conn) -> int:
    """Frames in the log now (a PASSIVE checkpoint reports them and copies nothing new here)."""
    return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def new_database(tmp_path) -> tuple[str, sqlite3.Connection]:
    """A WAL database with one table and a writer connection that never checkpoints."""
    path = str(tmp_path / "db.sqlite3")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.executescript("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; "
                         "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);")
    return path, writer


def commit_rows(conn, count: int) -> None:
    for _ in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", [os.urandom(3000).hex()])
        conn.execute("COMMIT")


def test_the_log_starts_over_once_the_checkpointer_has_copied_it_under_the_writer_lock(
        tmp_path, monkeypatch):
    path, writer = new_database(tmp_path)
    lock = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    monkeypatch.setattr(base, "RESTART_PAGES", 100)

    commit_rows(writer, 150)
    grown = log_pages(writer)
    base.checkpoint(path, lock)
    commit_rows(writer, 1)

    assert grown >= 150
    assert log_pages(writer) < 10  # the writer after the checkpoint started the log over


def test_below_the_threshold_the_checkpointer_copies_without_waiting_for_the_writer_lock(
        tmp_path, monkeypatch):
    import fcntl
    import threading

    path, writer = new_database(tmp_path)
    monkeypatch.setattr(base, "RESTART_PAGES", 10_000)
    commit_rows(writer, 20)
    before = os.path.getsize(path)
    held = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)  # a writer holds the lock
    run = threading.Thread(target=base.checkpoint,
                           args=(path, os.open(f"{path}-writer.lock", os.O_RDWR)))
    try:
        run.start()
        run.join(timeout=10)
        finished = not run.is_alive()
    finally:
        fcntl.flock(held, fcntl.LOCK_UN)
        run.join()

    assert finished
    assert os.path.getsize(path) > before + 20 * 3000  # the rows are in the database file
