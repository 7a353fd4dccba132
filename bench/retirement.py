#!/usr/bin/env python
"""Retirement sweep benchmark: `retire_due()` over 1,000,000 leads of which 10 % are due.

    python bench/retirement.py --database sqlite [--leads 1000000] [--due 0.10] [--reload]
    python bench/retirement.py --database postgres --url postgres://postgres@127.0.0.1:5432/bench_retirement

The leads are the leads-API benchmark's (bench/leads_api.py: same generator and loaders, same
seed). They are loaded once into a base copy — var/bench/retirement-sqlite/base.sqlite3, or the
PostgreSQL database `<name>_base` — and every run starts from a fresh copy of it (a file copy;
CREATE DATABASE … TEMPLATE), since a run retires leads. Database names must start with bench_.

Setting the scene (not timed): the threshold is 30 days and "now" is the generator's last day.
Every owned open lead is marked worked within the last 20 days, then exactly --due of all
leads, drawn with the seed among owned open leads assigned more than 32 days ago, are made
neglected (no activity, or activity right after the assignment). So the sweep walks every
owned open lead assigned before the threshold — most of them worked recently and passed over
— and retires the due ones; statistics are refreshed and the open-lead counters recounted.

Timed: one `retire_due(now)` call in process, as `leadflow sweep` makes it. Then checked: the
retired leads and LEAD_RETIRED events are exactly the due ones, the counters need no fix, and a
second run (also timed) retires nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import leads_api  # noqa: E402
from leads_api import log  # noqa: E402

TARGET_SECONDS = 5.0
NOW = leads_api.END
DAYS = 30
UPDATE_CHUNK = 5000


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/bench_retirement",
                   help="PostgreSQL URL; the database name must start with bench_")
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--due", type=float, default=0.10, help="share of all leads that is due")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--reload", action="store_true", help="load the base copy again")
    return p.parse_args(argv)


# --- the base copy and the fresh run database ----------------------------------------------------


def _pg_admin(args):
    import psycopg

    parts = urlsplit(args.url)
    return psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)


def _names(args) -> tuple[str, str]:
    name = urlsplit(args.url).path.lstrip("/")
    return name, f"{name}_base"


def base_matches(args, home: Path) -> bool:
    info_path = home / "base.json"
    if args.reload or not info_path.exists():
        return False
    info = json.loads(info_path.read_text())
    if (info.get("seed"), info.get("leads")) != (args.seed, args.leads):
        return False
    if args.database == "sqlite":
        return (home / "base.sqlite3").exists()
    with _pg_admin(args) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [_names(args)[1]]).fetchone() is not None


def copy_base(args, home: Path, *, to_base: bool) -> None:
    """Copy the run database to the base (after a load) or the base to the run database."""
    from django.db import connections

    connections.close_all()
    if args.database == "sqlite":
        run, base = home / "leadflow.sqlite3", home / "base.sqlite3"
        for suffix in ("-wal", "-shm"):
            (home / f"leadflow.sqlite3{suffix}").unlink(missing_ok=True)
        source, target = (run, base) if to_base else (base, run)
        shutil.copyfile(source, target)
        return
    from psycopg import sql

    run, base = _names(args)
    source, target = (run, base) if to_base else (base, run)
    with _pg_admin(args) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(target)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(target), sql.Identifier(source)))


def fresh_database(args, home: Path) -> dict:
    import django

    django.setup()
    if base_matches(args, home):
        log("copying the loaded base …")
        started = time.perf_counter()
        copy_base(args, home, to_base=False)
        log(f"  {time.perf_counter() - started:.0f} s")
        leads_api.migrate()
        return json.loads((home / "base.json").read_text())
    leads_api.recreate_database(args, home)
    leads_api.migrate()
    info = leads_api.load(args, home)
    (home / "base.json").write_text(json.dumps(info, indent=2))
    copy_base(args, home, to_base=True)
    return info


# --- the scene ---------------------------------------------------------------------------------


def set_scene(args) -> int:
    """Make exactly round(leads × due) leads due at NOW; returns that number."""
    from django.db import connection, transaction

    from leadflow.core.actor import Actor
    from leadflow.crm.models import Lead
    from leadflow.projects.models import OPEN_STATUSES
    from leadflow.projects.services import update_settings
    from leadflow.routing.services.loads import recount

    cast = leads_api.find_cast()
    update_settings(actor=Actor(cast.admin, "cli"), retirement_days=DAYS)
    cutoff = NOW - timedelta(days=DAYS)
    candidates = Lead.objects.filter(owner__isnull=False, retired_at__isnull=True,
                                     merged_into__isnull=True, status__in=OPEN_STATUSES)
    old = list(candidates.filter(assigned_at__lt=cutoff - timedelta(days=2))
               .order_by("pk").values_list("pk", flat=True))
    wanted = round(args.leads * args.due)
    if wanted > len(old):
        sys.exit(f"only {len(old):,} owned open leads are old enough for {wanted:,} due ones")
    due = sorted(random.Random(args.seed).sample(old, wanted))
    quote = connection.ops.quote_name
    table = quote(Lead._meta.db_table)
    statuses = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
    postgres = connection.vendor == "postgresql"
    days_ago = ("%s - (id %% 20) * interval '1 day'" if postgres
                else "datetime(%s, '-' || (id %% 20) || ' days')")
    hour_after = ("assigned_at + interval '1 hour'" if postgres
                  else "datetime(assigned_at, '+1 hour')")
    with transaction.atomic(), connection.cursor() as cursor:
        # Worked 0 to 19 days before NOW: every owned open lead …
        cursor.execute(
            f"UPDATE {table} SET last_activity_at = {days_ago} WHERE owner_id IS NOT NULL "
            f"AND retired_at IS NULL AND merged_into_id IS NULL AND status IN ({statuses})",
            [connection.ops.adapt_datetimefield_value(NOW)],
        )
        # … except the due ones: never worked (even ids) or just after the assignment (odd).
        for start in range(0, len(due), UPDATE_CHUNK):
            chunk = due[start:start + UPDATE_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"UPDATE {table} SET last_activity_at = NULL "
                           f"WHERE id IN ({marks}) AND id %% 2 = 0", chunk)
            cursor.execute(f"UPDATE {table} SET last_activity_at = {hour_after} "
                           f"WHERE id IN ({marks}) AND id %% 2 = 1", chunk)
    if connection.vendor == "postgresql":
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    else:
        from leadflow.core.db import optimize_database

        optimize_database()
        with connection.cursor() as cursor:
            # The scene's writes leave the WAL full; the timed run should not pay for them.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    recount()
    return wanted


def expected_due(args) -> int:
    from django.db import connection

    from leadflow.crm.services.retirement import due_sql

    sql, params = due_sql(NOW - timedelta(days=DAYS), NOW, limit=args.leads)
    sql = sql.replace(" FOR UPDATE SKIP LOCKED", "")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS due", params)
        return cursor.fetchone()[0]


# --- run and check -------------------------------------------------------------------------------


def check(expected: int) -> dict:
    from leadflow.crm.models import Lead
    from leadflow.routing.services.loads import recount
    from leadflow.timeline.models import TimelineEvent, TimelineKind

    retired = Lead.objects.filter(retired_at=NOW).count()
    still_owned = Lead.objects.filter(retired_at=NOW, owner__isnull=False).count()
    events = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED,
                                          occurred_at=NOW).count()
    events_distinct = (TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED,
                                                    occurred_at=NOW)
                       .values("lead_id").distinct().count())
    counters_fixed = recount()
    problems = []
    if retired != expected:
        problems.append(f"retired {retired:,} ≠ {expected:,}")
    if still_owned:
        problems.append(f"{still_owned:,} retired leads still owned")
    if events != expected or events_distinct != expected:
        problems.append(f"events {events:,} ({events_distinct:,} leads) ≠ {expected:,}")
    if counters_fixed:
        problems.append(f"{counters_fixed} open-lead counters were wrong")
    return {"retired": retired, "events": events, "counters_fixed": counters_fixed,
            "problems": problems}


def main(argv=None) -> int:
    args = parse_args(argv)
    home = leads_api.configure(args, f"retirement-{args.database}")
    load_before = os.getloadavg()
    info = fresh_database(args, home)
    log(f"{info['leads']:,} leads (loaded in {info['total_seconds']:.0f} s)")

    started = time.perf_counter()
    wanted = set_scene(args)
    expected = expected_due(args)
    log(f"scene: {wanted:,} due leads ({time.perf_counter() - started:.0f} s); "
        f"the due query finds {expected:,}")

    from django.db import connection

    from leadflow.crm.services import retirement

    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if args.database == "sqlite"
                       else "SHOW server_version")
        version = cursor.fetchone()[0]
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    retired = retirement.retire_due(NOW)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = retirement.retire_due(NOW)
    second_seconds = time.perf_counter() - started
    verify = check(expected)
    if retired != expected:
        verify["problems"].append(f"retire_due returned {retired:,}")
    if again:
        verify["problems"].append(f"the second run retired {again:,}")
    ok = not verify["problems"] and expected == wanted
    log(f"\n{args.database} {version}: retire_due() over {info['leads']:,} leads, "
        f"{expected:,} due, chunks of {retirement.chunk_size():,}"
        + (", 2 connections" if args.database == "postgres" else ""))
    log(f"  first run   {seconds:6.2f} s  retired {retired:,}  "
        f"({retired / seconds:,.0f} leads/s)  target ≤ {TARGET_SECONDS:.0f} s "
        f"{'met' if seconds <= TARGET_SECONDS else 'MISSED'}")
    log(f"  second run  {second_seconds:6.2f} s  retired {again:,}")
    log(f"  check: retired {verify['retired']:,}, LEAD_RETIRED events {verify['events']:,}, "
        f"counters fixed {verify['counters_fixed']} — "
        f"{'ok' if ok else 'FAILED: ' + '; '.join(verify['problems'])}")
    log(f"{os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, at the timed run "
        f"{load_at_start[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    (home / "results.json").write_text(json.dumps({
        "database": args.database, "version": version, "leads": info["leads"], "due": expected,
        "chunk": retirement.chunk_size(), "seconds": round(seconds, 3),
        "second_run_seconds": round(second_seconds, 3), "retired": retired,
        "second_run_retired": again, "check": verify, "ok": ok,
        "load_average": [load_before[0], load_at_start[0], os.getloadavg()[0]],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
