"""Duplicate detection against a generated set with known truth (DESIGN §2 identity)."""

from leadflow.core.actor import Actor
from leadflow.crm.models import Lead
from leadflow.intake.models import PossibleDuplicate, SubmissionStatus
from leadflow.intake.services.buckets import create_bucket
from leadflow.intake.services.duplicates import find_possible_duplicates
from leadflow.intake.services.submissions import submit
from leadflow.projects.models import Source
from tests.factories import make_project, make_user
from tests.intake.variants import exact_set, precision_recall, typo_twins


def _bucket(project):
    manager = Actor(make_user(project, "manager"), "api")
    source = Source.objects.get(project=project, name="Website")
    return create_bucket(project, actor=manager, name="Eval", source=source.pk)[0]


def test_exact_duplicates_reach_the_precision_and_recall_targets():
    project = make_project(default_region="US")
    bucket = _bucket(project)
    lead_person: dict[int, int] = {}
    tp = fp = fn = 0

    for item in exact_set(seed=11, people=150):
        s = submit(bucket, item.payload)
        if s.status == SubmissionStatus.PROCESSED:
            lead_person[s.lead_id] = item.person
            fn += not item.first_of_person
        elif s.status == SubmissionStatus.DUPLICATE:
            same = lead_person.get(s.duplicate_of_id) == item.person
            tp += same and not item.first_of_person
            fp += not same or item.first_of_person
        else:
            raise AssertionError(f"rejected: {item.payload} {s.errors}")

    precision, recall = precision_recall(tp, fp, fn)
    assert precision >= 0.995
    assert recall >= 0.98
    assert Lead.objects.filter(project=project).count() == 150


def test_possible_duplicates_find_typo_twins_without_flooding():
    project = make_project()
    bucket = _bucket(project)
    payloads, truth = typo_twins(seed=5, people=120)
    leads = [submit(bucket, p).lead_id for p in payloads]
    index = {lead_id: i for i, lead_id in enumerate(leads)}

    for lead in Lead.objects.filter(pk__in=leads).order_by("pk"):
        find_possible_duplicates(lead)
    found = {
        tuple(sorted((index[a], index[b])))
        for a, b in PossibleDuplicate.objects.values_list("lead_a_id", "lead_b_id")
    }

    tp = len(found & truth)
    precision, recall = precision_recall(tp, len(found - truth), len(truth - found))
    assert recall >= 0.8
    assert precision >= 0.8
