#!/usr/bin/env python
"""Routing benchmark: what automatic routing adds to an intake, and how fair the rotation stays
when many clients submit at once.

    python bench/routing.py --database sqlite [--intakes 2000] [--fair 10000] [--threads 16]
    python bench/routing.py --database postgres --url postgres://postgres@127.0.0.1:5432/bench_routing

The database is created afresh each run: var/bench/routing-sqlite/ (SQLite) or the given
PostgreSQL database (its name must start with `bench_`). One project, 20 agents in the default
pool, one bucket.

Cost: --intakes submissions through the intake service (`submit`: stored, processed through
`ingest`, recorded) with no distribution rule, then the same number with one rule for each
method (round robin, weighted, least loaded); the figure is the difference of the mean and of
the median time per submission, interleaved in rounds of 100 so drift in the machine falls on
both sides alike; and of the CPU time per submission (this process's thread time plus, on
PostgreSQL, its backend's), which other work on the machine does not inflate.

Fairness: --fair submissions from --threads concurrent clients (Django's test client in
threads, each with its own database connection) to a round-robin rule with equal weights;
prints each agent's count and the largest distance from the fair share.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake_http  # noqa: E402
import leads_api  # noqa: E402

TARGET_MS = 2.0
ROUND = 100


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/bench_routing")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--intakes", type=int, default=2000, help="timed submissions per case")
    p.add_argument("--fair", type=int, default=10_000, help="submissions of the fairness run")
    p.add_argument("--threads", type=int, default=16)
    return p.parse_args(argv)


def setup(args):
    home = leads_api.configure(args, f"routing-{args.database}")
    import django

    django.setup()
    leads_api.recreate_database(args, home)
    leads_api.migrate()
    from leadflow.core.actor import Actor
    from leadflow.intake.services import buckets
    from leadflow.projects.models import Source

    cast = leads_api.create_cast(args.agents)
    source = Source.objects.get(project=cast.project, name="Website")
    bucket, key = buckets.create_bucket(cast.project, actor=Actor(None, "cli"), name="Bench",
                                        source=source.pk)
    return cast, bucket, key


class People:
    def __init__(self):
        self.n = 0

    def next(self) -> dict:
        self.n += 1
        return {"name": f"Person {self.n}", "email": f"person{self.n}@example.com",
                "country": "US", "language": "en"}


def set_rule(cast, method: str | None):
    from leadflow.core.cache import config_changed
    from leadflow.projects.models import Pool
    from leadflow.routing.models import DistributionRule

    DistributionRule.objects.filter(project=cast.project).delete()
    if method is not None:
        DistributionRule.objects.create(
            project=cast.project, name=method, method=method,
            pool=Pool.objects.get(project=cast.project, is_default=True),
        )
    config_changed()  # as the rule services do: intake must not match the previous case's rules


def backend_cpu() -> float:
    """CPU seconds this connection's database backend has used (PostgreSQL; 0 on SQLite,
    whose work runs in this process and counts in its thread time)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return intake_http.cpu_times([pid]).get(pid, 0.0)


def time_cost(args, cast, bucket) -> dict:
    from leadflow.crm.models import Lead
    from leadflow.intake.services.submissions import submit

    people = People()
    cases = [None, "round_robin", "weighted", "least_loaded"]
    times: dict[str | None, list[float]] = {case: [] for case in cases}
    cpu: dict[str | None, float] = dict.fromkeys(cases, 0.0)
    for _ in range(3 * ROUND // 10):  # warm up
        submit(bucket, people.next())
    for _round in range(max(1, args.intakes // ROUND)):
        for case in cases:
            set_rule(cast, case)
            began_cpu = time.thread_time() + backend_cpu()
            for _ in range(ROUND):
                payload = people.next()
                start = time.perf_counter()
                result = submit(bucket, payload)
                times[case].append(time.perf_counter() - start)
                assert result.status == "processed", result.errors
            cpu[case] += time.thread_time() + backend_cpu() - began_cpu
            routed = Lead.objects.filter(pk__gt=result.lead_id - ROUND, pk__lte=result.lead_id,
                                         owner__isnull=False).count()
            assert routed == (ROUND if case is not None else 0), (case, routed)

    def row(case):
        n = len(times[case])
        return {"mean": statistics.mean(times[case]) * 1000,
                "p50": statistics.median(times[case]) * 1000, "cpu": cpu[case] * 1000 / n}

    out = {"none": row(None)}
    for case in cases[1:]:
        out[case] = row(case)
        for key in ("mean", "p50", "cpu"):
            out[case][f"added_{key}"] = out[case][key] - out["none"][key]
    return out


def fairness(args, cast, bucket, key) -> dict:
    import json

    from django.db import connection
    from django.test import Client

    from leadflow.crm.models import Lead

    set_rule(cast, "round_robin")
    start_id = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    barrier = threading.Barrier(args.threads)
    failures: list = []

    def work(index: int) -> None:
        client = Client()
        try:
            barrier.wait()
            for n in range(index, args.fair, args.threads):
                body = {"name": f"Fair {n}", "email": f"fair{n}@example.com"}
                response = client.post(f"/api/v1/intake/{bucket.pk}", data=json.dumps(body),
                                       content_type="application/json",
                                       HTTP_X_API_KEY=key)
                if response.status_code != 201 or response.json()["status"] != "processed":
                    failures.append(response.content[:200])
        except Exception as exc:  # a worker that dies must show as failed, not as fair
            failures.append(repr(exc)[:200])
        finally:
            connection.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    counts = Counter(Lead.objects.filter(pk__gt=start_id).values_list("owner_id", flat=True))
    share = args.fair / len(cast.agents)
    return {"failures": len(failures), "counts": sorted(counts.values()),
            "owners": len(counts), "share": share,
            "max_distance": max(abs(n - share) for n in counts.values()),
            "rate": args.fair / elapsed}


def main(argv=None) -> int:
    args = parse_args(argv)
    cast, bucket, key = setup(args)
    print(f"routing benchmark on {args.database}: {args.agents} agents, "
          f"{args.intakes} submissions per case", flush=True)
    cost = time_cost(args, cast, bucket)
    print(f"{'case':<14}{'mean ms':>9}{'p50 ms':>9}{'CPU ms':>8}"
          f"{'added mean':>12}{'added p50':>11}{'added CPU':>11}")
    for case, row in cost.items():
        print(f"{case:<14}{row['mean']:>9.2f}{row['p50']:>9.2f}{row['cpu']:>8.2f}"
              f"{row.get('added_mean', 0):>12.2f}{row.get('added_p50', 0):>11.2f}"
              f"{row.get('added_cpu', 0):>11.2f}")
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs; CPU: this process's thread time "
          "plus, on PostgreSQL, its backend's", flush=True)
    worst = max(row["added_mean"] for case, row in cost.items() if case != "none")
    if not args.fair:
        return 0
    fair = fairness(args, cast, bucket, key)
    print(f"fairness: {args.fair} submissions from {args.threads} clients at "
          f"{fair['rate']:.0f}/s, {fair['failures']} failed; per agent "
          f"{fair['counts'][0]}..{fair['counts'][-1]} (fair share {fair['share']:.1f}), "
          f"largest distance {fair['max_distance']:.1f}")
    ok = worst <= TARGET_MS and fair["max_distance"] <= 1 and not fair["failures"]
    print(f"target: routing adds <= {TARGET_MS} ms and no agent > 1 from the fair share: "
          f"{'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
