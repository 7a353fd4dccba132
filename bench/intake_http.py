#!/usr/bin/env python
"""Intake benchmark over HTTP: POST /api/v1/intake/{bucket} against 1,000,000 existing leads.

    python bench/intake_http.py --database sqlite [--workers N] [--threads 1] [--port 8765]
        [--duration 60] [--rate 300]
    python bench/intake_http.py --database postgres \
        --url postgres://postgres@127.0.0.1:5432/bench_intake [--template bench_leads]

The database is the leads-API benchmark's (bench/leads_api.py: same generator, seed and loader)
under var/bench/intake-<database>/ or in the given PostgreSQL database (its name must start with
bench_). A missing database is copied from an already loaded one when there is one (the SQLite
file of var/bench/sqlite/, or `CREATE DATABASE … TEMPLATE --template`), otherwise loaded. It is
migrated to the current schema and every loaded lead is marked as checked for possible
duplicates, so the sweep does not re-check a million leads.

Then `leadflow serve --no-worker --workers N --threads T` (by default `leadflow serve`'s own
numbers: one thread per worker, and 1 worker per core on SQLite, 2 on PostgreSQL, at least 2)
runs on 127.0.0.1:--port as a
subprocess with the same environment, and three modes are measured, each into a bucket of its
own made by `create_bucket`, with the CPU time the server's processes (and on PostgreSQL the
bench database's backends) used per submission:

- closed loop: wrk, --connections connections for --duration seconds; a Lua script builds a
  unique body per request (new people, ~20 % e-mails of loaded leads, ~3 % invalid);
- open loop: an asyncio generator sends --rate requests a second at fixed intervals for
  --open-duration seconds over --open-connections HTTP/1.1 connections; latency counts from the
  scheduled send time, so a stalled server shows as latency (no coordinated omission);
- batch: --batches POSTs of 1,000-item arrays to /batch, one after the other.

Afterwards the database must hold every sent submission of each bucket, with status counts
that add up and a lead (processed) or a duplicate_of (duplicate) where the status says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import leads_api  # noqa: E402  (the loader of the leads-API benchmark)
from leads_api import BENCH_HOME, log, percentile  # noqa: E402

ROOT = leads_api.ROOT
BIN = Path(sys.executable).parent
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bench_intake"
REPEAT_SHARE = 0.20
INVALID_SHARE = 0.03
# Targets of the issue.
SINGLE_RATE_TARGET = 500.0
OPEN_P99_TARGET_MS = 50.0
BATCH_RATE_TARGET = 5000.0

FIRST = leads_api.FIRST_NAMES[:150]
LAST = leads_api.LAST_NAMES[:400]
# US area codes whose 7-digit numbers from 200-0000 up are valid for phonenumbers.
AREAS = [212, 310, 312, 415, 503, 512, 617, 702, 713, 808]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--url", default=DEFAULT_PG_URL,
                   help="PostgreSQL URL; the database name must start with bench_")
    p.add_argument("--template", default="bench_leads",
                   help="PostgreSQL database to copy when --url does not exist yet")
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--reload", action="store_true", help="drop and load the database again")
    p.add_argument("--workers", type=int,
                   help="gunicorn workers (default: leadflow serve's for the database)")
    p.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--duration", type=int, default=60, help="closed-loop seconds")
    p.add_argument("--connections", type=int, default=8, help="closed-loop connections")
    p.add_argument("--rate", type=float, default=300.0, help="open-loop requests per second")
    p.add_argument("--open-duration", type=int, default=60)
    p.add_argument("--open-connections", type=int, default=32)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--batch-clients", type=int, default=1,
                   help="clients sending batches at the same time")
    p.add_argument("--modes", default="closed,open,batch")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.workers is None:
        from leadflow.cli import default_workers

        args.workers = default_workers("sqlite" if args.database == "sqlite" else "postgresql")
    return args


# --- database -----------------------------------------------------------------------------------


def configure(args) -> Path:
    return leads_api.configure(args, f"intake-{args.database}")


def copy_loaded(args, home: Path) -> bool:
    """Copy the leads-API benchmark's loaded database when it exists: a file copy on SQLite,
    CREATE DATABASE … TEMPLATE on PostgreSQL (which needs no one connected to the template)."""
    if args.database == "sqlite":
        source = BENCH_HOME / "sqlite"
        if not (source / "leadflow.sqlite3").exists() or not (source / "load.json").exists():
            return False
        log(f"copying {source / 'leadflow.sqlite3'} …")
        shutil.copyfile(source / "leadflow.sqlite3", home / "leadflow.sqlite3")
        shutil.copyfile(source / "load.json", home / "load.json")
        return True
    import psycopg
    from psycopg import sql

    parts = urlsplit(args.url)
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                        [args.template]).fetchone() is None:
            return False
        log(f"copying PostgreSQL database {args.template} …")
        try:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(parts.path.lstrip("/")), sql.Identifier(args.template)))
        except psycopg.Error as exc:
            log(f"  could not copy ({exc}); loading instead")
            return False
    return True


def ensure_database(args, home: Path) -> dict:
    """A migrated database holding the bench project and its loaded leads."""
    import django

    exists = leads_api.database_exists(args, home)
    if not exists and not args.reload:
        exists = copy_loaded(args, home)
    django.setup()
    from django.core.management import call_command

    info_path = home / "load.json"
    if exists and not args.reload:
        leads_api.migrate()
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        if leads_api.find_cast() is not None and info.get("seed") == args.seed \
                and info.get("leads") == args.leads:
            from leadflow.core.db import optimize_database

            optimize_database()
            return info
        log("existing database does not match: loading again")
    leads_api.recreate_database(args, home)
    leads_api.migrate()
    info = leads_api.load(args, home)
    call_command("migrate", verbosity=0, interactive=False)
    return info


def mark_checked() -> int:
    """Loaded leads count as checked for possible duplicates (the sweep picks unchecked ones)."""
    from django.db.models import F

    from leadflow.crm.models import Lead

    return Lead.objects.filter(duplicates_checked_at__isnull=True).update(
        duplicates_checked_at=F("created_at"))


def start_consumer(home: Path) -> subprocess.Popen:
    """The job consumer beside the server during the open loop: it runs the possible-duplicate
    checks the submissions queue, as `leadflow serve` does."""
    log_file = (home / "consumer.log").open("w")
    return subprocess.Popen([str(BIN / "leadflow"), "worker"], env=dict(os.environ),  # noqa: S603
                            stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)


def checks_trail(limit: float = 900.0) -> float | None:
    """Seconds from now (the last submission) until no lead waits for its possible-duplicate
    check; None past `limit`."""
    from django.db import connections

    from leadflow.crm.models import Lead

    started = time.perf_counter()
    try:
        while time.perf_counter() - started < limit:
            if not Lead.objects.filter(duplicates_checked_at__isnull=True,
                                       merged_into__isnull=True).exists():
                return round(time.perf_counter() - started, 1)
            time.sleep(0.2)
        return None
    finally:
        connections.close_all()


def new_bucket(cast, label: str):
    from leadflow.core.actor import Actor
    from leadflow.intake.services.buckets import create_bucket
    from leadflow.projects.models import Source

    source = Source.objects.get(project=cast.project, name="Website")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return create_bucket(cast.project, actor=Actor(cast.manager, "api"),
                         name=f"bench {label} {stamp}", source=source.pk,
                         affiliate_id="bench")


def sample_emails(args, n: int = 5000) -> list[str]:
    from leadflow.crm.models import Lead

    rng = random.Random(args.seed + 7)
    ids = rng.sample(range(1, args.leads + 1), min(args.leads, 2 * n))
    return list(Lead.objects.filter(pk__in=ids).exclude(email="")
                .values_list("email", flat=True))[:n]


def verify(bucket, sent_min: int, sent_max: int) -> dict:
    """Every sent submission is stored, processed, and its status counts add up."""
    from django.db.models import Count

    from leadflow.crm.models import Lead
    from leadflow.intake.models import Submission

    subs = Submission.objects.filter(bucket=bucket)
    counts = dict(subs.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    received = subs.count()
    problems = []
    if not sent_min <= received <= sent_max:
        problems.append(f"stored {received}, sent {sent_min}–{sent_max}")
    if sum(counts.values()) != received:
        problems.append(f"status counts {counts} do not add up to {received}")
    if counts.get("new", 0):
        problems.append(f"{counts['new']} left new")
    if subs.filter(status="processed", lead__isnull=True).exists():
        problems.append("processed without a lead")
    if subs.filter(status="duplicate", duplicate_of__isnull=True).exists():
        problems.append("duplicate without duplicate_of")
    created = Lead.objects.filter(bucket=bucket).count()
    if created != counts.get("processed", 0):
        problems.append(f"{created} leads for {counts.get('processed', 0)} processed")
    return {"received": received, "counts": counts, "leads_created": created,
            "ok": not problems, "problems": problems}


# --- payloads -----------------------------------------------------------------------------------


class Payloads:
    """Unique people (tagged with the run), ~20 % repeats of loaded e-mails, ~3 % invalid."""

    def __init__(self, emails: list[str], tag: str, seed: int, phone_base: int):
        self.emails, self.tag, self.rng, self.n = emails, tag, random.Random(seed), 0
        self.phone_base = phone_base

    def next(self) -> dict:
        rng = self.rng
        self.n += 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        r = rng.random()
        if r < REPEAT_SHARE:
            return {"name": f"{first} {last}", "email": rng.choice(self.emails),
                    "utm_source": "bench"}
        if r < REPEAT_SHARE + INVALID_SHARE:
            return {"name": f"{first} {last}", "email": f"{first}.{last}.example.com"}
        item = {"first_name": first, "last_name": last,
                "email": f"{first}.{last}.{self.tag}.{self.n}@example.com".lower(),
                "utm_source": "bench", "utm_campaign": "intake"}
        if r < 0.6:
            item["phone"] = phone(self.phone_base + self.n)
        if r < 0.5:
            item["company"] = f"{last} {rng.choice(leads_api.SECTORS)}"
        return item


def phone(index: int) -> str:
    """A valid US number, distinct for each index below 80,000,000."""
    rest = index // len(AREAS) % 8_000_000
    return f"+1 {AREAS[index % len(AREAS)]} {200 + rest // 10_000:03d} {rest % 10_000:04d}"


def phone_base(bucket) -> int:
    """A million numbers of their own for each bucket (for the last 80 buckets)."""
    return bucket.pk % 80 * 1_000_000


LUA = r"""
-- generated by bench/intake_http.py
local emails = {EMAILS}
local first = {FIRST}
local last = {LAST}
local areas = {AREAS}
local tag = "{TAG}"
counter, id = 0, 0
local threads, nextid = {}, 1
local by_status = {}

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "{KEY}"

function setup(thread)
  thread:set("id", nextid)
  nextid = nextid + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(id * 7919 + {SEED})
  counter = 0
  c201, c4xx, cother, processed, duplicate, rejected = 0, 0, 0, 0, 0, 0
end

function request()
  counter = counter + 1
  local f, l = first[math.random(#first)], last[math.random(#last)]
  local r = math.random()
  local body
  if r < {REPEAT} then
    body = string.format('{"name":"%s %s","email":"%s","utm_source":"bench"}', f, l,
                         emails[math.random(#emails)])
  elseif r < {REPEAT} + {INVALID} then
    body = string.format('{"name":"%s %s","email":"%s.%s.example.com"}', f, l, f, l)
  else
    local extra = ""
    if r < 0.6 then
      local index = {PHONE_BASE} + (id - 1) * 200000 + counter
      local rest = math.floor(index / #areas) % 8000000
      extra = string.format(',"phone":"+1 %d %03d %04d"', areas[(index % #areas) + 1],
                            200 + math.floor(rest / 10000), rest % 10000)
    end
    if r < 0.5 then extra = extra .. string.format(',"company":"%s Logistics"', l) end
    body = string.format(
      '{"first_name":"%s","last_name":"%s","email":"%s.%s.%s.w%d.%d@example.com",' ..
      '"utm_source":"bench","utm_campaign":"intake"%s}',
      f, l, string.lower(f), string.lower(l), tag, id, counter, extra)
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    c201 = c201 + 1
    if string.find(body, '"status": *"processed"') then processed = processed + 1
    elseif string.find(body, '"status": *"duplicate"') then duplicate = duplicate + 1
    elseif string.find(body, '"status": *"rejected"') then rejected = rejected + 1 end
  elseif status >= 400 and status < 500 then c4xx = c4xx + 1
  else cother = cother + 1 end
end

function done(summary, latency, requests)
  local t = {c201 = 0, c4xx = 0, cother = 0, processed = 0, duplicate = 0, rejected = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"status_errors":%d,"p50":%d,"p95":%d,"p99":%d,' ..
    '"max":%d,"mean":%.1f,"c201":%d,"c4xx":%d,"cother":%d,"processed":%d,' ..
    '"duplicate":%d,"rejected":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, t.c201, t.c4xx, t.cother, t.processed, t.duplicate, t.rejected))
end
"""


def lua_list(values) -> str:
    return "{" + ",".join(json.dumps(v) if isinstance(v, str) else str(v) for v in values) + "}"


def lua_script(key: str, emails: list[str], tag: str, seed: int, base: int) -> str:
    script = LUA
    for name, value in {
        "{EMAILS}": lua_list(emails), "{FIRST}": lua_list(FIRST), "{LAST}": lua_list(
            [n for n in LAST if n.isascii() and "'" not in n]),
        "{AREAS}": lua_list(AREAS), "{TAG}": tag, "{KEY}": key, "{SEED}": str(seed),
        "{PHONE_BASE}": str(base), "{REPEAT}": str(REPEAT_SHARE), "{INVALID}": str(INVALID_SHARE),
    }.items():
        script = script.replace(name, value)
    return script


# --- server -------------------------------------------------------------------------------------


class Server:
    def __init__(self, args, home: Path):
        self.args, self.home = args, home
        self.proc = None

    def __enter__(self):
        log_path = self.home / "server.log"
        self.log = log_path.open("w")
        env = dict(os.environ)
        self.proc = subprocess.Popen(  # noqa: S603
            [str(BIN / "leadflow"), "serve", "--no-worker", "--workers", str(self.args.workers),
             "--threads", str(self.args.threads), "--host", "127.0.0.1",
             "--port", str(self.args.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited: see {log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.args.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("server did not start")
        return self

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def pids(self) -> list[int]:
        """The `leadflow serve` process, gunicorn's master and its workers."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
            todo.extend(int(p) for p in out.stdout.split())
        return found


    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- CPU accounting -----------------------------------------------------------------------------


def cpu_times(pids) -> dict[int, float]:
    """User + system CPU seconds used so far by each live process of `pids`."""
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    return times


def database_pids(args) -> list[int]:
    """The PostgreSQL backends serving the bench database, found by their process titles
    (none on SQLite, whose work runs in the server's own processes)."""
    if args.database != "postgres":
        return []
    title = f" {urlsplit(args.url).path.lstrip('/')} ".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"postgres: ") and title in cmdline:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds the server (and, on PostgreSQL, the bench database's backends) used
    between start() and stop(). Processes are sampled twice a second, so backends that end
    meanwhile (connections are recycled after CONN_MAX_AGE) still count."""

    def __init__(self, args, server):
        self.args, self.server = args, server

    def _sample(self) -> None:
        for kind, pids in (("server", self.server.pids()), ("db", database_pids(self.args))):
            for pid, seconds in cpu_times(pids).items():
                self.seen[kind][pid] = seconds

    def _poll(self) -> None:
        while not self.done.wait(0.5):
            self._sample()

    def start(self) -> None:
        import threading

        self.seen = {"server": {}, "db": {}}
        self._sample()
        self.before = {kind: dict(times) for kind, times in self.seen.items()}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def stop(self, submissions: int) -> dict:
        self.done.set()
        self.thread.join()
        self._sample()
        used = {kind: sum(t - self.before[kind].get(pid, 0.0) for pid, t in times.items())
                for kind, times in self.seen.items()}
        return {"server_cpu_s": round(used["server"], 2), "db_cpu_s": round(used["db"], 2),
                "server_cpu_ms": 1000 * used["server"] / max(submissions, 1),
                "db_cpu_ms": 1000 * used["db"] / max(submissions, 1)}


# --- HTTP client --------------------------------------------------------------------------------


class Connection:
    """One HTTP/1.1 connection that reconnects when the server closes it (gunicorn's sync
    workers answer `Connection: close`)."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
            self.reader = self.writer = None
        return status, body


def http_request(path: str, key: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Api-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def open_loop(args, path: str, key: str, payloads: Payloads) -> dict:
    """Requests scheduled every 1/rate s; latency from the scheduled time to the response."""
    queue: asyncio.Queue = asyncio.Queue()
    latencies, statuses, outcomes = [], {}, {}
    total = int(args.rate * args.open_duration)
    bodies = [http_request(path, key, json.dumps(payloads.next()).encode())
              for _ in range(total)]
    loop = asyncio.get_running_loop()

    async def worker():
        conn = Connection(args.port)
        while True:
            item = await queue.get()
            if item is None:
                return
            scheduled, raw = item
            try:
                status, body = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError):
                conn = Connection(args.port)
                status, body = 0, b""
            latencies.append((loop.time() - scheduled) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201:
                outcome = json.loads(body)["status"]
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

    workers = [asyncio.create_task(worker()) for _ in range(args.open_connections)]
    start = loop.time() + 0.1
    lag = []
    for i, raw in enumerate(bodies):
        scheduled = start + i / args.rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append(loop.time() - scheduled)
        queue.put_nowait((scheduled, raw))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = loop.time() - start
    return {"sent": total, "seconds": elapsed, "throughput": len(latencies) / elapsed,
            "statuses": statuses, "outcomes": outcomes, "latencies": latencies,
            "max_schedule_lag_ms": max(lag) * 1000}


def summarize(latencies: list[float]) -> dict:
    return {"p50": statistics.median(latencies), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99), "max": max(latencies)}


def run_closed(args, home: Path, bucket, key: str, emails: list[str], tag: str) -> dict:
    script = Path(tempfile.mkstemp(suffix=".lua", dir=home)[1])
    script.write_text(lua_script(key, emails, tag, args.seed, phone_base(bucket)))
    url = f"http://127.0.0.1:{args.port}/api/v1/intake/{bucket.pk}"
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s",
           "-s", str(script), url]
    log(f"  $ {' '.join(cmd)}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    time.sleep(2)  # let the requests wrk left unanswered finish
    script.unlink()
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    r = json.loads(line.removeprefix("WRKJSON "))
    seconds = r["duration_us"] / 1e6
    return {
        "sent": r["requests"], "seconds": seconds, "throughput": r["requests"] / seconds,
        "p50": r["p50"] / 1000, "p95": r["p95"] / 1000, "p99": r["p99"] / 1000,
        "max": r["max"] / 1000,
        "statuses": {"201": r["c201"], "4xx": r["c4xx"], "other": r["cother"]},
        "outcomes": {k: r[k] for k in ("processed", "duplicate", "rejected")},
        "errors": {k: r[k] for k in ("connect_errors", "read_errors", "write_errors",
                                     "timeouts", "status_errors")},
        # wrk stops with up to --connections requests sent but not answered; they are stored.
        "sent_max": r["requests"] + args.connections,
    }


def run_batches(args, bucket, key: str, payloads: Payloads) -> dict:
    import http.client

    bodies = [json.dumps([payloads.next() for _ in range(args.batch_size)]).encode()
              for _ in range(args.batches)]
    times, outcomes, failures = [], {}, []
    path = f"/api/v1/intake/{bucket.pk}/batch"
    lock = threading.Lock()

    def client(mine: list[bytes]) -> None:
        for body in mine:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
            t0 = time.perf_counter()
            conn.request("POST", path, body,
                         {"Content-Type": "application/json", "X-Api-Key": key})
            response = conn.getresponse()
            data = response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            conn.close()
            if response.status != 201:
                failures.append(f"batch: {response.status} {data[:300]!r}")
                return
            with lock:
                times.append(elapsed)
                for item in json.loads(data)["items"]:
                    outcomes[item["status"]] = outcomes.get(item["status"], 0) + 1

    # Each client sends its share of the batches one after the other.
    clients = [threading.Thread(target=client, args=(bodies[i::args.batch_clients],))
               for i in range(args.batch_clients)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        sys.exit(failures[0])
    n = args.batches * args.batch_size
    return {"sent": n, "seconds": seconds, "throughput": n / seconds, "outcomes": outcomes,
            **summarize(times), "batch_ms": [round(t) for t in times]}


def warm_up(args, bucket, key: str, payloads: Payloads) -> None:
    """A few requests per worker, so imports and connections are ready before timing."""
    async def go():
        path = f"/api/v1/intake/{bucket.pk}"
        conns = [Connection(args.port) for _ in range(args.workers * 2)]
        for _ in range(10):
            await asyncio.gather(*(c.request(http_request(path, key,
                                                          json.dumps(payloads.next()).encode()))
                                   for c in conns))
    asyncio.run(go())


# --- main ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    home = configure(args)
    info = ensure_database(args, home)
    from django.db import connection, connections

    cast = leads_api.find_cast()
    started = time.perf_counter()
    marked = mark_checked()
    log(f"{info['leads']:,} loaded leads; {marked:,} marked as checked for duplicates "
        f"({time.perf_counter() - started:.1f} s)")
    emails = sample_emails(args)
    (home / "huey.sqlite3").unlink(missing_ok=True)  # queued jobs of earlier runs
    modes = args.modes.split(",")
    buckets = {mode: new_bucket(cast, mode) for mode in ["warmup", *modes]}
    with connection.cursor() as cur:
        cur.execute("SELECT sqlite_version()" if args.database == "sqlite"
                    else "SHOW server_version")
        version = cur.fetchone()[0]
    connections.close_all()
    tag = datetime.now(UTC).strftime("%H%M%S")
    results = {}
    load_before = os.getloadavg()
    with Server(args, home) as server:
        log(f"server: leadflow serve --no-worker --workers {args.workers} "
            f"--threads {args.threads} "
            f"(pid {server.proc.pid}, workers {server.worker_pids()})")
        bucket, key = buckets["warmup"]
        warm_up(args, bucket, key, Payloads(emails, tag + "w", args.seed, phone_base(bucket)))
        meter = CpuMeter(args, server)
        for mode in modes:
            bucket, key = buckets[mode]
            log(f"{mode} …")
            meter.start()
            if mode == "closed":
                r = run_closed(args, home, bucket, key, emails, tag + "c")
                sent_min, sent_max = r["sent"], r["sent_max"]
            elif mode == "open":
                mark_checked()
                connections.close_all()
                consumer = start_consumer(home)
                r = asyncio.run(open_loop(args, f"/api/v1/intake/{bucket.pk}", key,
                                          Payloads(emails, tag + "o", args.seed + 1,
                                                   phone_base(bucket))))
                r |= summarize(r.pop("latencies"))
                sent_min = sent_max = r["sent"]
                r["checks_trail_s"] = checks_trail()
                consumer.terminate()
                consumer.wait(timeout=30)
            else:
                r = run_batches(args, bucket, key, Payloads(emails, tag + "b", args.seed + 2,
                                                        phone_base(bucket)))
                sent_min = sent_max = r["sent"]
            r["cpu"] = meter.stop(r["sent"])
            r["verify"] = verify(bucket, sent_min, sent_max)
            connections.close_all()
            results[mode] = r
            if "checks_trail_s" in r:
                log(f"  possible-duplicate checks done {r['checks_trail_s']} s after the last "
                    "submission")
            log(f"  {r['throughput']:.0f}/s  p50 {r['p50']:.1f}  p95 {r['p95']:.1f}  "
                f"p99 {r['p99']:.1f}  max {r['max']:.1f} ms  "
                f"CPU/subm server {r['cpu']['server_cpu_ms']:.2f} ms "
                f"db {r['cpu']['db_cpu_ms']:.2f} ms  "
                f"outcomes {r['outcomes']}  "
                f"stored {r['verify']['received']} {r['verify']['counts']}  "
                f"{'ok' if r['verify']['ok'] else 'FAILED ' + '; '.join(r['verify']['problems'])}")
    load_after = os.getloadavg()
    print_table(args, results)
    log(f"{os.cpu_count()} CPUs shared by server, load generator and database; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    out = args.json or home / "results.json"
    out.write_text(json.dumps({
        "database": args.database, "version": version, "workers": args.workers,
        "cpus": os.cpu_count(), "load": info, "load_average": [load_before[0], load_after[0]],
        "args": {k: str(v) for k, v in vars(args).items()}, "results": results,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=2))
    log(f"results: {out}")
    return 0 if all(r["verify"]["ok"] for r in results.values()) else 1


def print_table(args, results: dict) -> None:
    labels = {"closed": f"single, closed loop ({args.connections} conn, {args.duration} s)",
              "open": f"single, open loop {args.rate:.0f}/s ({args.open_duration} s)",
              "batch": f"batch of {args.batch_size} ×{args.batches}, {args.batch_clients} cl."}
    log(f"\n{args.database}, {args.workers} gunicorn workers × {args.threads} threads: "
        "POST /api/v1/intake (CPU: ms per submission, server processes / database backends)")
    header = (f"{'mode':44} {'subm/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  "
              f"{'CPU srv':>7} {'CPU db':>6}  {'stored':>7}  target")
    log(header + "\n" + "-" * len(header))
    for mode, r in results.items():
        if mode == "closed":
            verdict = f"≥{SINGLE_RATE_TARGET:.0f}/s " + (
                "met" if r["throughput"] >= SINGLE_RATE_TARGET else "MISSED")
        elif mode == "open":
            verdict = f"p99<{OPEN_P99_TARGET_MS:.0f} " + (
                "met" if r["p99"] < OPEN_P99_TARGET_MS else "MISSED")
        else:
            verdict = f"≥{BATCH_RATE_TARGET:.0f}/s " + (
                "met" if r["throughput"] >= BATCH_RATE_TARGET else "MISSED")
        cpu = r["cpu"]
        log(f"{labels[mode]:44} {r['throughput']:8.0f} {r['p50']:7.1f} {r['p95']:7.1f} "
            f"{r['p99']:7.1f} {r['max']:7.1f}  {cpu['server_cpu_ms']:7.2f} "
            f"{cpu['db_cpu_ms']:6.2f}  {r['verify']['received']:>7}  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
