"""Duplicate-detection quality on a generated set with known truth.

    .venv/bin/python bench/dedup_quality.py [--people 2000] [--twins 1000]

Runs on a fresh SQLite database under var/bench/quality and prints precision and recall of
exact duplicates (keys, through the real intake path) and of possible duplicates (names).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--twins", type=int, default=1000)
    args = parser.parse_args()
    home = ROOT / "var" / "bench" / "quality"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["LEADFLOW_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from unittest import mock

    from leadflow.core.actor import Actor
    from leadflow.crm.models import Lead
    from leadflow.intake.models import PossibleDuplicate, SubmissionStatus
    from leadflow.intake.services.buckets import create_bucket
    from leadflow.intake.services.duplicates import find_possible_duplicates
    from leadflow.intake.services.submissions import submit
    from leadflow.projects.models import Source
    from leadflow.projects.services import create_project
    from tests.intake.variants import exact_set, precision_recall, typo_twins

    system = Actor(None, "cli")

    def bucket_in(project):
        source = Source.objects.get(project=project, name="Website")
        return create_bucket(project, actor=system, name="Eval", source=source.pk)[0]

    # Possible-duplicate checks run as jobs after commit; here they run once, explicitly.
    with mock.patch("leadflow.intake.services.ingest.check_possible_duplicates"):
        bucket = bucket_in(create_project("Exact", actor=system, default_region="US"))
        items = exact_set(seed=11, people=args.people)
        lead_person: dict[int, int] = {}
        tp = fp = fn = rejected = 0
        started = time.perf_counter()
        for item in items:
            s = submit(bucket, item.payload)
            if s.status == SubmissionStatus.PROCESSED:
                lead_person[s.lead_id] = item.person
                fn += not item.first_of_person
            elif s.status == SubmissionStatus.DUPLICATE:
                same = lead_person.get(s.duplicate_of_id) == item.person
                tp += same and not item.first_of_person
                fp += not same or item.first_of_person
            else:
                rejected += 1
        elapsed = time.perf_counter() - started
        precision, recall = precision_recall(tp, fp, fn)
        print(f"exact duplicates: {len(items)} submissions of {args.people} people, "
              f"{tp + fn} repeats, {rejected} rejected, {elapsed:.1f}s")
        print(f"  precision {precision:.4f}  recall {recall:.4f}  (tp {tp}, fp {fp}, fn {fn})")

        twins_bucket = bucket_in(create_project("Twins", actor=system, default_region="US"))
        payloads, truth = typo_twins(seed=5, people=args.twins)
        leads = [submit(twins_bucket, p).lead_id for p in payloads]
    index = {lead_id: i for i, lead_id in enumerate(leads)}
    for lead in Lead.objects.filter(pk__in=leads).order_by("pk"):
        find_possible_duplicates(lead)
    found = {tuple(sorted((index[a], index[b])))
             for a, b in PossibleDuplicate.objects.values_list("lead_a_id", "lead_b_id")}
    tp = len(found & truth)
    precision, recall = precision_recall(tp, len(found - truth), len(truth - found))
    print(f"possible duplicates: {len(payloads)} leads, {len(truth)} true pairs, "
          f"{len(found)} flagged")
    print(f"  precision {precision:.4f}  recall {recall:.4f}")


if __name__ == "__main__":
    main()
