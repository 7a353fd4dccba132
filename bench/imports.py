#!/usr/bin/env python
"""Imports benchmark: import a generated CSV of N rows into a project holding M leads.

    python bench/imports.py --database sqlite [--leads 1000000] [--rows 1000000] [--reload]
    python bench/imports.py --database postgres \
        --url postgres://postgres@127.0.0.1:5432/bench_imports [...]

The existing leads come from the leads-API benchmark's generator and loader (bench/leads_api.py,
same seed), loaded once into a base copy (var/bench/imports-<database>/base.sqlite3, or the
PostgreSQL database <name>_base); every run starts from a fresh copy of it, since a run adds
leads. PostgreSQL database names must start with `bench_`.

The file (var/bench/imports-<database>/import-<rows>.csv, generated once per size and seed):
First Name, Last Name, Email, Mobile Phone, Company, Lead Source; about 10 % of the rows carry
the e-mail of an existing lead (duplicates against the database), 5 % repeat a person met
earlier in the file (duplicates inside the file), 2 % have a broken e-mail (rejected), the rest
are new people, 70 % of them with a US mobile number.

Timed: `leadflow import FILE --project bench --policy skip` as the CLI runs it (store the upload,
start the job, run it in this process with 2 normalizing worker processes). Memory: the peak
resident size of this process (VmHWM), of the workers (sampled from /proc every 0.2 s) and of
all of them together (sampled). Checked: the counts add up to the rows, the created count is
the growth of the lead table, and no e-mail key is held canonically twice.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake_http  # noqa: E402
import leads_api  # noqa: E402
import retirement  # noqa: E402
from leads_api import log  # noqa: E402

TARGET_SECONDS = 90.0
TARGET_MB = 300.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/bench_imports",
                   help="PostgreSQL URL; the database name must start with bench_")
    p.add_argument("--leads", type=int, default=1_000_000, help="existing leads")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the imported file")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--reload", action="store_true", help="load the base copy again")
    p.add_argument("--policy", default="skip", choices=["skip", "update", "keep-both"])
    return p.parse_args(argv)


def generate(path: Path, rows: int, seed: int) -> dict:
    """Write the file; returns what it holds."""
    from django.db import connection

    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(id) FROM crm_lead")
        top = cursor.fetchone()[0] or 0
        wanted = sorted(rng.sample(range(1, top + 1), min(top, rows // 10))) if top else []
        existing = []
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start:start + 5000]
            cursor.execute(
                f"SELECT email FROM crm_lead WHERE email <> '' AND id IN "
                f"({', '.join(['%s'] * len(chunk))})", chunk)
            existing += [row[0] for row in cursor.fetchall()]
    firsts, lasts = leads_api.FIRST_NAMES, leads_api.words(
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott")
    companies = ["", "", "Acme", "Blue River Logistics", "Northwind", "Contoso", "Initech"]
    sources = ["Website", "Referral", "Trade fair", "LinkedIn", ""]
    kinds = {"new": 0, "existing": 0, "repeat": 0, "broken": 0}
    earlier: list[list[str]] = []
    taken = iter(existing)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["First Name", "Last Name", "Email", "Mobile Phone", "Company",
                         "Lead Source"])
        for n in range(rows):
            roll = rng.random()
            first, last = rng.choice(firsts), rng.choice(lasts)
            row = None
            if roll < 0.10:
                email = next(taken, None)
                if email is not None:
                    row, kind = [first, last, email, "", rng.choice(companies),
                                 rng.choice(sources)], "existing"
            elif roll < 0.15 and earlier:
                row, kind = list(rng.choice(earlier)), "repeat"
            elif roll < 0.17:
                row, kind = [first, last, f"{first}.{last}.{n}@@broken", "", "", ""], "broken"
            if row is None:
                phone = (f"+1 {rng.choice([212, 312, 415, 646, 718])} "
                         f"{rng.randint(200, 999)} {n % 10000:04d}") if rng.random() < 0.7 else ""
                row, kind = [first, last, f"imp.{n}.{first.lower()}@example.net", phone,
                             rng.choice(companies), rng.choice(sources)], "new"
                if len(earlier) < 5000:
                    earlier.append(row)
                elif rng.random() < 0.01:
                    earlier[rng.randrange(5000)] = row
            kinds[kind] += 1
            writer.writerow(row)
    return kinds


class MemorySampler(threading.Thread):
    """Resident sizes (MB) of this process and its children, sampled every 0.2 s; on
    PostgreSQL also the CPU seconds of the database's backends (`database_seconds`)."""

    def __init__(self, args):
        super().__init__(daemon=True)
        self.args = args
        self.peak_total = self.peak_children = 0.0
        self.stop = threading.Event()
        self.backends = dict.fromkeys(intake_http.database_pids(args), 0.0)
        self.started = intake_http.cpu_times(self.backends)

    @property
    def database_seconds(self) -> float:
        return sum(seconds - self.started.get(pid, 0.0) for pid, seconds in self.backends.items())

    @staticmethod
    def _rss(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def _children(self) -> list[int]:
        me = os.getpid()
        try:
            return [int(p) for p in Path(f"/proc/{me}/task/{me}/children").read_text().split()]
        except OSError:
            return []

    def run(self) -> None:
        while not self.stop.wait(0.2):
            children = sum(self._rss(pid) for pid in self._children())
            self.peak_children = max(self.peak_children, children)
            self.peak_total = max(self.peak_total, children + self._rss(os.getpid()))
            self.backends.update(intake_http.cpu_times(intake_http.database_pids(self.args)))


class StatementTimer:
    """Wall time the writer spends inside its statements (a Django execute wrapper): on SQLite
    the engine's own work, which runs in the writer's thread."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def vm_hwm() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv=None) -> int:
    args = parse_args(argv)
    home = leads_api.configure(args, f"imports-{args.database}")
    info = retirement.fresh_database(args, home)
    from django.db import connection

    from leadflow.cli import main as cli
    from leadflow.core.db import optimize_database
    from leadflow.crm.models import Lead
    from leadflow.imports.models import Import

    optimize_database()
    path = home / f"import-{args.rows}-{args.seed}.csv"
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        log(f"generating {args.rows:,} rows …")
        meta_path.write_text(json.dumps(generate(path, args.rows, args.seed)))
    kinds = json.loads(meta_path.read_text())
    leads_before = Lead.objects.count()
    log(f"{leads_before:,} leads; importing {args.rows:,} rows ({kinds}) with policy "
        f"{args.policy} …")
    connection.close()
    sampler = MemorySampler(args)
    sampler.start()
    started, cpu_started = time.perf_counter(), os.times()
    statements = StatementTimer()
    with connection.execute_wrapper(statements):
        code = cli(["import", str(path), "--project", leads_api.PROJECT_SLUG, "--policy",
                    args.policy])
    seconds = time.perf_counter() - started
    cpu = os.times()
    cpu_main = cpu.user + cpu.system - cpu_started.user - cpu_started.system
    cpu_workers = (cpu.children_user + cpu.children_system - cpu_started.children_user
                   - cpu_started.children_system)
    sampler.stop.set()
    sampler.join()
    import resource

    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    imp = Import.objects.select_related("job").latest("created_at")
    counts = imp.job.counts
    created = Lead.objects.count() - leads_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM (SELECT scope, kind, value FROM intake_duplicatekey "
                       "WHERE canonical GROUP BY scope, kind, value HAVING COUNT(*) > 1) t")
        doubled = cursor.fetchone()[0]
    checks = {
        "exit code 0": code == 0,
        "counts add up to the rows": sum(counts.values()) == args.rows,
        "created = new leads": counts.get("created") == created,
        "no key held canonically twice": doubled == 0,
    }
    result = {
        "database": args.database, "existing leads": info.get("leads", args.leads),
        "rows": args.rows, "policy": args.policy, "seconds": round(seconds, 1),
        "cpu_seconds": {"main": round(cpu_main, 1), "workers": round(cpu_workers, 1),
                        "database": round(sampler.database_seconds, 1)},
        # SQLite's engine time (PostgreSQL's prepared statements and COPY pass the wrapper by).
        "seconds_in_statements": round(statements.seconds, 1) if args.database == "sqlite"
        else None,
        "rows_per_second": round(args.rows / seconds), "counts": counts,
        "peak_rss_mb": {"main (VmHWM)": round(vm_hwm()), "workers (each, max)":
                        round(worker_peak), "workers together (sampled)":
                        round(sampler.peak_children), "all together (sampled)":
                        round(sampler.peak_total)},
        "checks": checks,
    }
    (home / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    met = seconds <= TARGET_SECONDS and sampler.peak_total <= TARGET_MB
    log(f"{args.database}: {args.rows:,} rows in {seconds:.1f} s ({args.rows / seconds:,.0f} "
        f"rows/s; CPU {cpu_main:.1f} s writer, {cpu_workers:.1f} s workers, "
        f"{sampler.database_seconds:.1f} s database"
        + (f"; {statements.seconds:.1f} s in SQLite" if args.database == "sqlite" else "")
        + "), peak "
        f"{sampler.peak_total:.0f} MB together; targets "
        f"{'met' if met else 'missed'} (≤ {TARGET_SECONDS:.0f} s, ≤ {TARGET_MB:.0f} MB)")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
