#!/usr/bin/env python
"""Background work under pressure: the possible-duplicate check's cost at a million leads, and
users' work while a big import runs.

    python bench/background.py --database sqlite [--leads 1000000] [--rows 1000000] [--redis]
    python bench/background.py --database postgres \
        --url postgres://postgres@127.0.0.1:5432/bench_background [...]

The existing leads come from the leads-API benchmark's generator and loader (bench/leads_api.py,
same seed: realistic common names, James 3.3 %, Smith 1.3 %), loaded once into a base copy
(var/bench/background-<database>/base.sqlite3, or the PostgreSQL database <name>_base); every
run starts from a fresh copy. PostgreSQL database names must start with `bench_`.

check: N new leads (a third of them typo twins of loaded leads, the rest new people with names
  of the same distribution) are created unchecked, then checked as the background check does
  (`sweep_unchecked_leads`, batches of 500). Printed: milliseconds per lead (wall and CPU of
  this process), pairs flagged, twins found.

pressure: `leadflow serve` (its defaults, with one job consumer running --jobs tasks at once)
  on the copy; a manager starts an import of the generated file (bench/imports.py's generator:
  10 % existing people, 5 % repeated, 2 % broken); meanwhile agents keep interactive writes
  going over HTTP at --rate requests/s in turn: create a lead, claim a pool lead, log a call;
  every --export-every seconds a manager starts an export (one agent's qualified leads, a few
  thousand) and the time until its job starts is taken; --kill-after seconds into the import
  the consumer is killed with SIGKILL (serve starts another) and the time until the import
  goes on is taken; the sweep's runs are read from the
  consumer's log. Printed: interactive p50/p95/p99/max per action, export start times, the
  largest gap between two sweeps, the import's time to resume and its total time; checked: no
  5xx, the import's counts add up, no key held canonically twice.

Targets (issue "trustworthy under pressure"): check ≤ 2 ms per lead at 1,000,000 leads;
interactive p99 ≤ 250 ms, exports start within 5 s, a sweep every minute, a killed import
resumed within 2 minutes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import imports as imports_bench  # noqa: E402
import leads_api  # noqa: E402
import retirement  # noqa: E402
from leads_api import log  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
CHECK_TARGET_MS = 2.0
P99_TARGET_MS = 250.0
EXPORT_TARGET_S = 5.0
RESUME_TARGET_S = 120.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/bench_background",
                   help="PostgreSQL URL; the database name must start with bench_")
    p.add_argument("--leads", type=int, default=1_000_000, help="existing leads")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the imported file")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--reload", action="store_true", help="load the base copy again")
    p.add_argument("--modes", default="check,pressure")
    p.add_argument("--check-leads", type=int, default=3000, help="new leads checked")
    p.add_argument("--rate", type=float, default=5.0, help="interactive requests per second")
    p.add_argument("--export-every", type=float, default=30.0, help="seconds between exports")
    p.add_argument("--kill-after", type=float, default=90.0,
                   help="seconds into the import when the consumer is killed (0: never)")
    p.add_argument("--jobs", type=int, default=4, help="tasks the job consumer runs at once")
    p.add_argument("--port", type=int, default=8767)
    p.add_argument("--redis", action="store_true",
                   help="queue jobs in Redis (redis://127.0.0.1:6379/13, flushed first)")
    return p.parse_args(argv)


# --- check --------------------------------------------------------------------------------------


def typo(name: str, rng: random.Random) -> str:
    """One edit inside a word, never its first letter (as most typos)."""
    words = name.split()
    i = rng.randrange(len(words))
    word = words[i]
    if len(word) < 4:
        return name
    at = rng.randrange(1, len(word) - 1)
    edit = rng.choice(["drop", "double", "swap"])
    if edit == "drop":
        word = word[:at] + word[at + 1:]
    elif edit == "double":
        word = word[:at] + word[at] + word[at:]
    else:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2:]
    words[i] = word
    return " ".join(words)


def run_check(args) -> dict:
    from django.db import connection

    from leadflow.core.actor import Actor
    from leadflow.crm import services as crm_services
    from leadflow.crm.contact import LeadInput
    from leadflow.crm.models import Lead
    from leadflow.intake.models import PossibleDuplicate
    from leadflow.intake.services.duplicates import sweep_unchecked_leads

    cast = leads_api.find_cast()
    rng = random.Random(args.seed + 11)
    top = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    sampled = rng.sample(range(1, top + 1), min(top, args.check_leads // 3))
    twins_of = list(Lead.objects.filter(pk__in=sampled).values_list("pk", "name", "company"))
    first_w = leads_api.zipf_weights(len(leads_api.FIRST_NAMES), 0.5)
    last_w = leads_api.zipf_weights(len(leads_api.LAST_NAMES), 0.6)
    firsts = leads_api.cumulative(first_w)
    lasts = leads_api.cumulative(last_w)
    actor = Actor(cast.manager, "api")
    log(f"creating {args.check_leads:,} unchecked leads ({len(twins_of):,} typo twins) …")
    twins = {}
    for n in range(args.check_leads):
        if n < len(twins_of):
            original, name, company = twins_of[n]
            name = typo(name, rng)
        else:
            original, company = None, ""
            name = (f"{rng.choices(leads_api.FIRST_NAMES, cum_weights=firsts)[0]} "
                    f"{rng.choices(leads_api.LAST_NAMES, cum_weights=lasts)[0]}")
        lead = crm_services.create_lead(
            cast.project, LeadInput(name=name, company=company,
                                    email=f"check.{n}.{args.seed}@bench.example"),
            actor=actor).lead
        if original is not None:
            twins[lead.pk] = original
    pairs_before = PossibleDuplicate.objects.count()
    connection.close()
    log("checking …")
    started, cpu = time.perf_counter(), time.process_time()
    checked = sweep_unchecked_leads(limit=10**9)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    found = set(PossibleDuplicate.objects.filter(lead_b_id__in=list(twins)).values_list(
        "lead_a_id", "lead_b_id"))
    twins_found = sum(1 for new, old in twins.items() if (old, new) in found)
    result = {
        "leads checked": checked,
        "ms per lead": round(1000 * seconds / max(checked, 1), 2),
        "cpu ms per lead (this process)": round(1000 * cpu_seconds / max(checked, 1), 2),
        "pairs flagged": PossibleDuplicate.objects.count() - pairs_before,
        "typo twins found": f"{twins_found} of {len(twins)}",
    }
    log(f"check: {checked:,} leads in {seconds:.1f} s = {result['ms per lead']} ms per lead "
        f"(target ≤ {CHECK_TARGET_MS} ms); {result['pairs flagged']:,} pairs; twins found "
        f"{result['typo twins found']}")
    return result


# --- pressure -----------------------------------------------------------------------------------


class Server:
    """`leadflow serve` with its job consumer, logging to a file."""

    def __init__(self, args, home: Path, env: dict):
        self.args, self.home, self.env = args, home, env

    def __enter__(self):
        self.log_path = self.home / "server.log"
        self.log_file = self.log_path.open("w")
        self.proc = subprocess.Popen(  # noqa: S603
            [str(BIN / "leadflow"), "serve", "--host", "127.0.0.1", "--port",
             str(self.args.port), "--jobs", str(self.args.jobs)],
            env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited: see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=2)
                conn.request("GET", "/api/openapi.json")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            sys.exit("server did not start")
        return self

    def consumer_pid(self) -> int | None:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                             text=True)
        for pid in out.stdout.split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"worker" in cmdline.split(b"\0"):
                return int(pid)
        return None

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()


class Api:
    """One keep-alive HTTP connection per thread, with a bearer token."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = None

    def call(self, method: str, path: str, body=None) -> tuple[int, dict, float]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - started
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {"raw": raw[:200].decode("utf-8", "replace")}
            return response.status, parsed, elapsed
        raise RuntimeError("unreachable")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary_ms(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(1000 * percentile(values, 0.5), 1),
            "p95": round(1000 * percentile(values, 0.95), 1),
            "p99": round(1000 * percentile(values, 0.99), 1),
            "max": round(1000 * max(values, default=0), 1)}


class Interactive(threading.Thread):
    """Agents' writes at a steady rate, in turn: create a lead, claim a pool lead, log a call
    on an own lead."""

    def __init__(self, args, tokens: list[str], pool_leads: list[int], own: dict, tag: str):
        super().__init__(daemon=True)
        self.args, self.tag = args, tag
        self.apis = [Api(args.port, token) for token in tokens]
        self.pool_leads, self.own = pool_leads, own
        self.stop = threading.Event()
        self.latencies: dict[str, list[float]] = {"create": [], "claim": [], "call": []}
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        interval, n = 1.0 / self.args.rate, 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            agent = n % len(self.apis)
            api = self.apis[agent]
            action = ("create", "claim", "call")[n % 3]
            if action == "create":
                status, body, elapsed = api.call("POST", "/api/v1/leads", {
                    "name": f"Pressure {self.tag} {n}",
                    "email": f"pressure.{self.tag}.{n}@bench.example"})
            elif action == "claim" and self.pool_leads:
                status, body, elapsed = api.call(
                    "POST", f"/api/v1/leads/{self.pool_leads.pop()}/claim")
            else:
                action = "call"
                lead = random.choice(self.own[agent])
                status, body, elapsed = api.call("POST", f"/api/v1/leads/{lead}/activities", {
                    "kind": "call", "duration_seconds": 60, "body": "Pressure call"})
            self.latencies[action].append(elapsed)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 500 or (status >= 400 and len(self.errors) < 20):
                self.errors.append(f"{action} {status} {str(body)[:200]}")
            n += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            else:
                next_at = time.monotonic()


def job_state(job_id: int) -> tuple[str, int]:
    from django.db import connection

    from leadflow.jobs.models import Job

    row = Job.objects.filter(pk=job_id).values_list("state", "progress").first()
    connection.close()
    return row or ("missing", 0)


class Exports(threading.Thread):
    """A manager starts an export every few seconds; the time until its job runs is taken."""

    def __init__(self, args, token: str, owner: int):
        super().__init__(daemon=True)
        self.args, self.api, self.owner = args, Api(args.port, token), owner
        self.stop = threading.Event()
        self.waits: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(self.args.export_every):
            started = time.perf_counter()
            status, body, _elapsed = self.api.call("POST", "/api/v1/exports", {
                "format": "csv", "columns": ["id", "name", "email"], "status": "QUALIFIED",
                "owner": self.owner})
            if status != 202:
                self.errors.append(f"export {status} {str(body)[:200]}")
                continue
            job_id = body.get("job") or body.get("id")
            while not self.stop.is_set():
                state, _progress = job_state(job_id)
                if state != "queued":
                    self.waits.append(time.perf_counter() - started)
                    break
                time.sleep(0.05)


SWEEP_LINE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+\].*Executing .*tasks\.sweep:")


def sweep_times(log_path: Path) -> list[datetime]:
    times = []
    for line in log_path.read_text(errors="replace").splitlines():
        match = SWEEP_LINE.search(line)
        if match:
            times.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))
    return times


def prepare_people(cast) -> tuple[list[str], list[int], dict]:
    """Tokens of four agents, pool leads they may claim, and some of their own leads."""
    from django.db import connection

    from leadflow.accounts.services import issue_token
    from leadflow.core.actor import Actor
    from leadflow.crm.models import Lead
    from leadflow.projects.services import update_settings

    # Loaded leads' activity is months old: no retirement sweep during the run.
    update_settings(actor=Actor(cast.admin, "cli"), retirement_days=3650)
    agents = cast.agents[:4]
    tokens = [issue_token(a, actor=Actor(a, "cli"), name="bench") for a in agents]
    pool_leads = list(Lead.objects.filter(
        project=cast.project, owner__isnull=True, claimed_by__isnull=True,
        offer_until__isnull=True, retired_at__isnull=True, merged_into__isnull=True)
        .order_by("-pk").values_list("pk", flat=True)[:5000])
    own = {i: list(Lead.objects.filter(owner=a, merged_into__isnull=True)
                   .values_list("pk", flat=True)[:200]) for i, a in enumerate(agents)}
    connection.close()
    return tokens, pool_leads, own


def run_pressure(args, home: Path, env: dict) -> dict:
    from django.db import connection

    from leadflow.accounts.services import issue_token
    from leadflow.core.actor import Actor
    from leadflow.imports.services import start_import, store_upload
    from leadflow.intake.models import DuplicateKey

    cast = leads_api.find_cast()
    path = home / f"import-{args.rows}-{args.seed}.csv"
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        log(f"generating {args.rows:,} rows …")
        meta_path.write_text(json.dumps(imports_bench.generate(path, args.rows, args.seed)))
    tokens, pool_leads, own = prepare_people(cast)
    manager_token = issue_token(cast.manager, actor=Actor(cast.manager, "cli"), name="bench")
    connection.close()
    result: dict = {}
    with Server(args, home, env) as server:
        interactive = Interactive(args, tokens, pool_leads, own, tag=str(int(time.time())))
        exports = Exports(args, manager_token, cast.agents[0].pk)
        log(f"warming up for 10 s at {args.rate}/s …")
        interactive.start()
        time.sleep(10)
        quiet = {k: list(v) for k, v in interactive.latencies.items()}
        log(f"starting the import of {args.rows:,} rows …")
        upload = store_upload(path, path.name)
        imp = start_import(cast.project, upload, actor=Actor(cast.manager, "ui"))
        connection.close()
        import_started = time.perf_counter()
        exports.start()
        for values in interactive.latencies.values():
            values.clear()
        killed_at = resumed_at = None
        progress_at_kill = 0
        state = "queued"
        while True:
            time.sleep(0.5)
            state, progress = job_state(imp.pk)
            now = time.perf_counter()
            if (args.kill_after and killed_at is None
                    and now - import_started >= args.kill_after and state == "running"):
                pid = server.consumer_pid()
                if pid is not None:
                    progress_at_kill = progress
                    os.kill(pid, signal.SIGKILL)
                    killed_at = now
                    log(f"  killed the consumer at {progress:,} rows "
                        f"({now - import_started:.0f} s)")
            elif killed_at is not None and resumed_at is None and progress > progress_at_kill:
                resumed_at = now
                log(f"  the import went on {resumed_at - killed_at:.0f} s after the kill")
            if state in ("done", "failed"):
                break
            if now - import_started > 4 * 3600:
                log("  giving up after 4 hours")
                break
        seconds = time.perf_counter() - import_started
        interactive.stop.set()
        exports.stop.set()
        interactive.join()
        exports.join()
    connection.close()
    from leadflow.jobs.models import Job

    job = Job.objects.get(pk=imp.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM (SELECT scope, kind, value FROM "
                       f"{DuplicateKey._meta.db_table} WHERE canonical GROUP BY scope, kind, "
                       "value HAVING COUNT(*) > 1) t")
        doubled = cursor.fetchone()[0]
    sweeps = sweep_times(server.log_path)
    gaps = [(b - a).total_seconds() for a, b in zip(sweeps, sweeps[1:], strict=False)]
    during = [v for values in interactive.latencies.values() for v in values]
    result = {
        "import": {"rows": args.rows, "state": job.state, "seconds": round(seconds, 1),
                   "rows_per_second": round(args.rows / seconds), "counts": job.counts,
                   "resumed after kill (s)": round(resumed_at - killed_at, 1)
                   if resumed_at and killed_at else None},
        "interactive before the import (ms)": summary_ms(
            [v for values in quiet.values() for v in values]),
        "interactive during the import (ms)": summary_ms(during),
        "per action (ms)": {k: summary_ms(v) for k, v in interactive.latencies.items()},
        "statuses": interactive.statuses,
        "errors": interactive.errors[:10] + exports.errors[:10],
        "export start (s)": {"n": len(exports.waits),
                             "max": round(max(exports.waits, default=0), 2),
                             "median": round(statistics.median(exports.waits), 2)
                             if exports.waits else None},
        "sweeps": {"runs": len(sweeps), "largest gap (s)": max(gaps, default=None)},
    }
    checks = {
        "import done": job.state == "done",
        "counts add up to the rows": sum(job.counts.values()) == args.rows,
        "no key held canonically twice": doubled == 0,
        "no server error": not any(s >= 500 for s in interactive.statuses),
    }
    result["checks"] = checks
    met = {
        f"interactive p99 ≤ {P99_TARGET_MS:.0f} ms": result[
            "interactive during the import (ms)"]["p99"] <= P99_TARGET_MS,
        f"exports start within {EXPORT_TARGET_S:.0f} s": bool(exports.waits)
        and max(exports.waits) <= EXPORT_TARGET_S,
        "a sweep every minute": bool(gaps) and max(gaps) <= 61,
        f"resumed within {RESUME_TARGET_S:.0f} s": not args.kill_after or bool(
            resumed_at and killed_at and resumed_at - killed_at <= RESUME_TARGET_S),
    }
    result["targets"] = met
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    home = leads_api.configure(args, f"background-{args.database}")
    env = dict(os.environ)
    if args.redis:
        env["REDIS_URL"] = os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/13"
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    else:
        env.pop("REDIS_URL", None)
        os.environ.pop("REDIS_URL", None)
        (home / "huey.sqlite3").unlink(missing_ok=True)
    env["LOG_LEVEL"] = "INFO"
    info = retirement.fresh_database(args, home)
    from leadflow.core.db import optimize_database

    optimize_database()
    modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    results = {"database": args.database, "queue": "redis" if args.redis else "sqlite",
               "existing leads": info.get("leads", args.leads)}
    if "check" in modes:
        results["check"] = run_check(args)
    if "pressure" in modes:
        results["pressure"] = run_pressure(args, home, env)
    (home / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    pressure = results.get("pressure", {})
    return 0 if all(pressure.get("checks", {}).values()) else 1


if __name__ == "__main__":
    sys.exit(main())
