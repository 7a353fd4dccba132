"""Backups of the whole database (`leadflow backup FILE`, `leadflow restore FILE`).

A backup file starts with the line `LEADFLOW-BACKUP`, then one line of JSON (the manifest: the
engine it came from, when, how many leads, the tables it holds), then the engine's own dump:

- SQLite: a copy of the database file made with `VACUUM INTO` on a read-only connection. The
  copy is one read transaction, so it is the consistent state of one moment while the server
  keeps writing (under WAL a reader never blocks writers, nor they it). The online backup API
  (`sqlite3.Connection.backup`) would do as well when copying everything in one step; copying
  in steps, it starts over each time another connection writes, which a busy server may never
  let it finish. `VACUUM INTO` also leaves out free pages, so the copy is as small as it gets.
- PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore --clean --if-exists
  --no-owner --single-transaction`. The client tools must be those of the server's major
  version (or newer).

A restore replaces the whole database with the backup's content: on SQLite through the backup
API into the live file (under the writer lock, so no Leadflow writer is half-way), on
PostgreSQL in one transaction; tables the backup does not hold (added by a later migration)
are dropped, so the database is the backup's, table for table. A backup of one engine is
refused by the other."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

MAGIC = b"LEADFLOW-BACKUP\n"
FORMAT = 1
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is one line for the operator."""


@dataclass
class BackupResult:
    path: Path
    engine: str
    leads: int
    size: int


@dataclass
class Manifest:
    engine: str
    created_at: str
    leads: int
    tables: list[str]
    offset: int  # where the engine's dump starts in the file


def _vendor(alias: str) -> str:
    vendor = connections[alias].vendor
    if vendor not in ENGINES:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {vendor}")
    return vendor


def backup_database(path: str | os.PathLike, *, alias: str = DEFAULT_DB_ALIAS) -> BackupResult:
    """Write a backup of the database to `path` (replaced atomically when it exists), while
    the server runs. Errors: BackupError (tools missing, dump failed, cannot write)."""
    target = Path(path)
    vendor = _vendor(alias)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise BackupError(f"cannot write {target}: no directory {directory}")
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=directory)
    os.close(fd)
    try:
        if vendor == "sqlite":
            leads, tables = _backup_sqlite(alias, Path(partial))
        else:
            leads, tables = _backup_postgresql(alias, Path(partial))
        os.replace(partial, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return BackupResult(target, vendor, leads, target.stat().st_size)


def _header(vendor: str, leads: int, tables: list[str]) -> bytes:
    manifest = {"format": FORMAT, "engine": vendor, "created_at": timezone.now().isoformat(),
                "leads": leads, "tables": sorted(tables)}
    return MAGIC + json.dumps(manifest, separators=(",", ":")).encode() + b"\n"


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%'").fetchall()
    return [name for (name,) in rows]


def _backup_sqlite(alias: str, partial: Path) -> tuple[int, list[str]]:
    source = connections[alias].settings_dict["NAME"]
    if str(source) == ":memory:" or not os.path.exists(source):
        raise BackupError(f"no database file {source}")
    copy = partial.with_name(partial.name + ".sqlite3")
    try:
        reader = sqlite3.connect(f"{Path(source).resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=20, isolation_level=None)
        try:
            reader.execute("VACUUM INTO ?", (str(copy),))
        finally:
            reader.close()
        snapshot = sqlite3.connect(copy)
        try:
            leads = snapshot.execute("SELECT count(*) FROM crm_lead").fetchone()[0]
            tables = _sqlite_tables(snapshot)
        finally:
            snapshot.close()
        with open(partial, "wb") as out, open(copy, "rb") as data:
            out.write(_header("sqlite", leads, tables))
            shutil.copyfileobj(data, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from exc
    finally:
        copy.unlink(missing_ok=True)
    return leads, tables


def postgresql_command(tool: str, alias: str) -> tuple[list[str], dict]:
    """The argv and environment of a PostgreSQL client tool for database `alias`."""
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} not found: install the PostgreSQL client tools of the "
                          f"server's major version (Debian: postgresql-client-NN)")
    settings = connections[alias].settings_dict
    argv = [tool, "--dbname", settings["NAME"], "--no-password"]
    if settings.get("HOST"):
        argv += ["--host", str(settings["HOST"])]
    if settings.get("PORT"):
        argv += ["--port", str(settings["PORT"])]
    if settings.get("USER"):
        argv += ["--username", str(settings["USER"])]
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    options = settings.get("OPTIONS") or {}
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"),
                             ("sslcert", "PGSSLCERT"), ("sslkey", "PGSSLKEY")):
        if options.get(option):
            env[variable] = str(options[option])
    return argv, env


def _pg_tables(alias: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        return connections[alias].introspection.table_names(cursor)


def _first_line(text: bytes) -> str:
    lines = [line for line in text.decode(errors="replace").splitlines() if line.strip()]
    return lines[0].strip() if lines else "no message"


def _backup_postgresql(alias: str, partial: Path) -> tuple[int, list[str]]:
    argv, env = postgresql_command("pg_dump", alias)
    connection = connections[alias]
    # The lead count and the dump read one snapshot: pg_dump joins this transaction's.
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM crm_lead")
        leads = cursor.fetchone()[0]
        tables = connection.introspection.table_names(cursor)
        with open(partial, "wb") as out:
            out.write(_header("postgresql", leads, tables))
            out.flush()
            done = subprocess.run(  # noqa: S603
                [*argv, "--format=custom", f"--snapshot={snapshot}"], stdout=out,
                stderr=subprocess.PIPE, env=env, check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {_first_line(done.stderr)}")
            os.fsync(out.fileno())
    return leads, tables


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The manifest of a backup file. Errors: BackupError (missing, not a Leadflow backup)."""
    try:
        with open(path, "rb", buffering=0) as raw:
            magic = raw.readline(len(MAGIC))
            line = raw.readline(1024 * 1024) if magic == MAGIC else b""
            offset = raw.tell()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(line)
        manifest = Manifest(engine=data["engine"], created_at=data["created_at"],
                            leads=int(data["leads"]), tables=list(data["tables"]),
                            offset=offset)
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path} is not a Leadflow backup") from None
    if data.get("format") != FORMAT or manifest.engine not in ENGINES:
        raise BackupError(f"{path} is a backup of a format this version cannot read")
    return manifest


def check_restorable(path: str | os.PathLike, *, alias: str = DEFAULT_DB_ALIAS) -> Manifest:
    """The backup's manifest when it can be restored into database `alias`. Errors:
    BackupError (not a backup, or a backup of the other engine)."""
    manifest = read_manifest(path)
    vendor = _vendor(alias)
    if manifest.engine != vendor:
        raise BackupError(f"{path} is a {ENGINES[manifest.engine]} backup; this install uses "
                          f"{ENGINES[vendor]}: restore it into a {ENGINES[manifest.engine]} "
                          f"install")
    return manifest


def restore_database(path: str | os.PathLike, *, alias: str = DEFAULT_DB_ALIAS) -> Manifest:
    """Replace the whole database `alias` with the backup at `path`. The server should be
    stopped meanwhile (its open requests would see the database change under them). Errors:
    BackupError (not a backup, other engine, tools missing, restore failed: on PostgreSQL the
    database is then unchanged)."""
    manifest = check_restorable(path, alias=alias)
    connection = connections[alias]
    connection.close()
    if manifest.engine == "sqlite":
        _restore_sqlite(path, manifest, connection.settings_dict["NAME"])
    else:
        _restore_postgresql(path, manifest, alias)
    return manifest


def _restore_sqlite(path, manifest: Manifest, target: str) -> None:
    if str(target) == ":memory:":
        raise BackupError("cannot restore into an in-memory database")
    directory = Path(target).resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, copy = tempfile.mkstemp(prefix=".restore.", suffix=".sqlite3", dir=directory)
    lock = os.open(f"{target}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with open(path, "rb") as data, os.fdopen(fd, "wb") as out:
            data.seek(manifest.offset)
            shutil.copyfileobj(data, out, 1024 * 1024)
        source = sqlite3.connect(copy)
        destination = sqlite3.connect(target, timeout=60, isolation_level=None)
        # Leadflow's writers queue on this lock (leadflow/core/sqlite): none is half-way while
        # the pages are replaced.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} holds a damaged database")
            source.backup(destination)
            destination.execute("PRAGMA journal_mode=WAL").fetchall()
            destination.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            source.close()
            destination.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore failed: {exc}") from exc
    finally:
        os.close(lock)
        os.unlink(copy)


def _restore_postgresql(path, manifest: Manifest, alias: str) -> None:
    argv, env = postgresql_command("pg_restore", alias)
    argv += ["--clean", "--if-exists", "--no-owner", "--single-transaction",
             "--exit-on-error"]
    with open(path, "rb", buffering=0) as data:
        data.seek(manifest.offset)
        done = subprocess.run(argv, stdin=data, stdout=subprocess.DEVNULL,  # noqa: S603
                              stderr=subprocess.PIPE, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {_first_line(done.stderr)}")
    extra = sorted(set(_pg_tables(alias)) - set(manifest.tables))
    if extra:
        connection = connections[alias]
        with connection.cursor() as cursor:
            for table in extra:
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} "
                               "CASCADE")
        connection.close()
