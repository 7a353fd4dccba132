"""The intake routes (DESIGN §4): `/intake/{bucket}` and `/intake/{bucket}/batch` with the
bucket's X-Api-Key, Idempotency-Key, size limits, and the accounting of every submission."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from leadflow.accounts.models import hash_token
from leadflow.core.db import insert_rows
from leadflow.crm.models import Lead
from leadflow.intake.models import Bucket, Submission, SubmissionAttempt
from leadflow.intake.services import submissions
from leadflow.timeline.models import TimelineEvent, TimelineKind
from tests.factories import (
    auth,
    event_count,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    post_intake,
    source_named,
    store_submission,
)

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
RESULT_KEYS = {"id", "status", "lead", "client", "duplicate_of", "errors"}


def nothing_stored() -> bool:
    return not Submission.objects.exists() and not Lead.objects.exists()


# --- results -----------------------------------------------------------------------------------


def test_processed_duplicate_and_rejected_all_answer_201_with_the_result(client):
    project = make_project()
    bucket, key = make_bucket(project)

    processed = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"})
    duplicate = post_intake(client, bucket, key, {"name": "Ann", "email": "ANN@example.com"})
    rejected = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@"})

    lead = Lead.objects.get()
    ids = list(Submission.objects.order_by("id").values_list("id", flat=True))
    assert [r.status_code for r in (processed, duplicate, rejected)] == [201, 201, 201]
    assert processed.json() == {"id": ids[0], "status": "processed", "lead": lead.pk,
                                "client": None, "duplicate_of": None, "errors": []}
    assert duplicate.json() == {"id": ids[1], "status": "duplicate", "lead": None,
                                "client": None, "duplicate_of": lead.pk, "errors": []}
    body = rejected.json()
    assert set(body) == RESULT_KEYS
    assert (body["id"], body["status"], body["lead"], body["duplicate_of"]) == (
        ids[2], "rejected", None, None)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("email", "invalid_email")]


def test_the_lead_carries_the_buckets_attribution_and_the_payloads_fields(client):
    project = make_project(default_region="GB")
    agent = make_user(project, "agent")
    bucket, key = make_bucket(project, label="Spring fair", source="Event",
                              affiliate_id="aff-1", default_manager=agent.pk)

    response = post_intake(client, bucket, key, {
        "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
        "phone": "020 7946 0018", "utm_source": "google", "utm_medium": "cpc",
        "utm_campaign": "spring", "utm_term": "crm", "utm_content": "banner",
    })

    lead = client.get(f"/api/v1/leads/{response.json()['lead']}", **auth(agent)).json()
    assert {k: lead[k] for k in ("name", "phones", "bucket", "bucket_label", "source",
                                 "affiliate_id", "utm", "owner", "project")} == {
        "name": "Ann Lee", "phones": ["+442079460018"], "bucket": bucket.pk,
        "bucket_label": "Spring fair", "source": source_named(project, "Event").pk,
        "affiliate_id": "aff-1", "owner": agent.pk, "project": project.pk,
        "utm": {"source": "google", "medium": "cpc", "campaign": "spring", "term": "crm",
                "content": "banner"},
    }


def test_unknown_payload_fields_are_kept_verbatim_in_raw(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket, key = make_bucket(project)
    payload = {"name": "Ann", "email": "ann@example.com", "Lieblingsfarbe": "türkis",
               "score": 12.5, "tags": ["a", None, 3], "nested": {"deep": {"x": [True, False]}},
               "empty": None}

    response = post_intake(client, bucket, key, payload)

    detail = client.get(f"/api/v1/submissions/{response.json()['id']}", **auth(manager)).json()
    assert detail["raw"] == payload
    assert Submission.objects.get().raw == payload


def test_a_duplicate_names_the_rule_and_value_that_matched(client):
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    existing = make_lead(project, email="ann@example.com", phones=["+12125550100"])
    bucket, key = make_bucket(project, name="Spring")

    response = post_intake(client, bucket, key, {"name": "A. Lee", "phone": "212.555.0100"})

    detail = client.get(f"/api/v1/submissions/{response.json()['id']}", **auth(manager)).json()
    assert (detail["status"], detail["duplicate_of"]) == ("duplicate", existing.pk)
    assert detail["matched"] == [{"kind": "phone", "value": "+12125550100", "lead": existing.pk}]
    again = TimelineEvent.objects.get(lead_id=existing.pk,
                                      kind=TimelineKind.LEAD_REGISTERED_AGAIN)
    assert (again.channel, again.actor_id, again.after) == (
        "intake", None, {"bucket": "Spring", "submission": response.json()["id"],
                         "matched": [{"rule": "phone", "value": "+12125550100"}]})


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("_case, which", [
    ("no_key", None),
    ("wrong_key", "wrong"),
    ("key_of_another_bucket", "other"),
])
def test_intake_without_the_buckets_key_is_401_and_stores_nothing(client, _case, which):
    project = make_project()
    bucket, _key = make_bucket(project)
    _other, other_key = make_bucket(project)
    key = {"wrong": "x" * 43, "other": other_key}.get(which)

    response = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"})
    batch = post_intake(client, bucket, key, [{"name": "Ann", "email": "ann@example.com"}],
                        path="/batch")

    assert (response.status_code, batch.status_code) == (401, 401)
    assert response.json()["detail"] == "A valid X-Api-Key for this bucket is required."
    assert nothing_stored()


def test_a_user_token_is_not_a_bucket_key(client):
    project = make_project()
    bucket, _key = make_bucket(project)

    response = post_intake(client, bucket, None, {"name": "Ann", "email": "ann@example.com"},
                           **auth(make_user(admin=True)))

    assert response.status_code == 401
    assert nothing_stored()


def test_an_unknown_bucket_id_is_401(client):
    project = make_project()
    _bucket, key = make_bucket(project)

    response = client.post("/api/v1/intake/999999", data="{}", content_type="application/json",
                           HTTP_X_API_KEY=key)

    assert response.status_code == 401


@pytest.mark.parametrize("_case, raw, code", [
    ("invalid_json", '{"name": "Ann",', "invalid_json"),
    ("empty_body", "", "not_an_object"),
    ("array", '[{"name": "Ann"}]', "not_an_object"),
    ("string", '"Ann"', "not_an_object"),
    ("number", "42", "not_an_object"),
    ("null", "null", "not_an_object"),
    ("nan_is_not_json", '{"name": "Ann", "score": NaN}', "invalid_json"),
    ("infinity_is_not_json", '{"name": "Ann", "score": -Infinity}', "invalid_json"),
    ("overflowing_number", '{"name": "Ann", "score": 1e400}', "invalid_json"),
    ("not_utf8", b'{"name": "\xff"}', "invalid_json"),
])
def test_a_body_that_is_not_a_json_object_is_400_and_stores_nothing(client, _case, raw, code):
    project = make_project()
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, raw)

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("body", code)]
    assert nothing_stored()


@pytest.mark.parametrize("_case, raw, path", [
    ("nul_in_a_value", '{"name": "Ann\\u0000", "email": "a@b.co"}', ""),
    ("nul_in_a_key", '{"\\u0000": 1, "name": "Ann", "email": "a@b.co"}', ""),
    ("nul_in_a_batch_item", '[{"name": "Ann", "x": ["\\u0000"]}]', "/batch"),
    ("lone_surrogate_in_a_value", '{"name": "Ann\\ud800", "email": "a@b.co"}', ""),
    ("lone_surrogate_in_a_key", '{"\\udfff": 1, "name": "Ann", "email": "a@b.co"}', ""),
    ("lone_surrogate_in_a_batch_item", '[{"name": "Ann\\ud800", "email": "a@b.co"}]',
     "/batch"),
])
def test_text_no_database_can_store_is_400_on_every_database(client, _case, raw, path):
    project = make_project()
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, raw, path=path)

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("body", "invalid")]
    assert nothing_stored()


def test_escaped_non_ascii_text_is_taken_verbatim(client):
    project = make_project()
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key,
                           '{"name": "Zo\\u00e9 \\ud83d\\ude00", "email": "zoe@example.com"}')

    assert response.json()["status"] == "processed"
    assert Submission.objects.get().raw["name"] == "Zoé \U0001f600"


@pytest.mark.parametrize("depth", [900, 5000])
def test_a_deeply_nested_body_is_400_not_a_server_error(client, depth):
    project = make_project()
    bucket, key = make_bucket(project)
    raw = '{"name": "Ann", "email": "a@b.co", "x": ' + "[" * depth + "]" * depth + "}"

    response = post_intake(client, bucket, key, raw)

    assert response.status_code == 400
    assert nothing_stored()


def test_an_inactive_bucket_is_403_and_stores_no_submission(client):
    project = make_project()
    bucket, key = make_bucket(project, active=False)

    response = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"})
    batch = post_intake(client, bucket, key, [{"name": "Ann", "email": "ann@example.com"}],
                        path="/batch")

    assert (response.status_code, batch.status_code) == (403, 403)
    assert response.json()["code"] == "inactive"
    assert nothing_stored()


def test_a_bucket_deactivated_while_its_context_is_kept_is_refused_at_once(client):
    project = make_project()
    bucket, key = make_bucket(project)
    first = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"})
    stored = Submission.objects.count()
    # As another process would: no word reaches this process's kept copy of the bucket.
    Bucket.objects.filter(pk=bucket.pk).update(active=False)

    response = post_intake(client, bucket, key, {"name": "Bo", "email": "bo@example.com"})
    batch = post_intake(client, bucket, key, [{"name": "Cy", "email": "cy@example.com"}],
                        path="/batch")

    assert first.status_code == 201
    assert (response.status_code, batch.status_code) == (403, 403)
    assert response.json()["code"] == "inactive"
    assert Submission.objects.count() == stored


def test_a_key_rotated_while_the_bucket_context_is_kept_is_refused_at_once(client):
    project = make_project()
    bucket, key = make_bucket(project)
    assert post_intake(client, bucket, key, {"name": "Ann"}).status_code == 201
    Bucket.objects.filter(pk=bucket.pk).update(key_hash=hash_token("another key"))

    response = post_intake(client, bucket, key, {"name": "Bo", "email": "bo@example.com"})

    assert response.status_code == 401
    assert Submission.objects.count() == 1


def test_a_bucket_edited_while_its_context_is_kept_stamps_its_new_values(client):
    project = make_project()
    bucket, key = make_bucket(project, affiliate_id="old")
    first = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"})
    Bucket.objects.filter(pk=bucket.pk).update(affiliate_id="new", updated_at=timezone.now())

    response = post_intake(client, bucket, key, {"name": "Bo", "email": "bo@example.com"})

    assert Lead.objects.get(pk=first.json()["lead"]).affiliate_id == "old"
    assert Lead.objects.get(pk=response.json()["lead"]).affiliate_id == "new"


def test_an_inactive_bucket_refuses_before_reading_the_body(client):
    project = make_project()
    bucket, key = make_bucket(project, active=False)

    response = post_intake(client, bucket, key, "not json")
    batch = post_intake(client, bucket, key, [1, 2], path="/batch")

    assert (response.status_code, batch.status_code) == (403, 403)
    assert nothing_stored()


def test_a_body_over_one_megabyte_is_413_and_stores_nothing(client):
    project = make_project()
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key,
                           {"name": "Ann", "email": "ann@example.com", "note": "x" * 1_048_576})

    assert response.status_code == 413
    assert nothing_stored()


# --- idempotency -------------------------------------------------------------------------------


def test_a_retry_with_the_same_idempotency_key_returns_the_first_result(client):
    project = make_project()
    bucket, key = make_bucket(project)
    body = {"name": "Ann", "email": "ann@example.com"}
    with time_machine.travel(T0, tick=False):
        first = post_intake(client, bucket, key, body, HTTP_IDEMPOTENCY_KEY="order-17")
    counts = (Submission.objects.count(), Lead.objects.count(),
              SubmissionAttempt.objects.count(), event_count())

    with time_machine.travel(T0 + timedelta(hours=23, minutes=59), tick=False):
        retry = post_intake(client, bucket, key, body, HTTP_IDEMPOTENCY_KEY="order-17")
        changed = post_intake(client, bucket, key, {"name": "Bo", "email": "bo@example.com"},
                              HTTP_IDEMPOTENCY_KEY="order-17")

    assert first.status_code == retry.status_code == changed.status_code == 201
    assert first.json()["status"] == "processed"
    assert retry.json() == first.json()
    assert changed.json() == first.json()
    assert (Submission.objects.count(), Lead.objects.count(),
            SubmissionAttempt.objects.count(), event_count()) == counts


def test_after_24_hours_an_idempotency_key_is_free_again(client):
    project = make_project()
    bucket, key = make_bucket(project)
    with time_machine.travel(T0, tick=False):
        first = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"},
                            HTTP_IDEMPOTENCY_KEY="order-17")

    with time_machine.travel(T0 + timedelta(hours=24, seconds=1), tick=False):
        later = post_intake(client, bucket, key, {"name": "Bo", "email": "bo@example.com"},
                            HTTP_IDEMPOTENCY_KEY="order-17")
        retry = post_intake(client, bucket, key, {"name": "Cy", "email": "cy@example.com"},
                            HTTP_IDEMPOTENCY_KEY="order-17")

    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]
    assert later.json()["status"] == "processed"
    assert retry.json() == later.json()
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "ann@example.com", "bo@example.com"]
    assert Submission.objects.count() == 2


def test_an_idempotency_key_belongs_to_one_bucket(client):
    project = make_project()
    bucket, key = make_bucket(project)
    other, other_key = make_bucket(project)

    first = post_intake(client, bucket, key, {"name": "Ann", "email": "ann@example.com"},
                        HTTP_IDEMPOTENCY_KEY="k1")
    elsewhere = post_intake(client, other, other_key, {"name": "Bo", "email": "bo@example.com"},
                            HTTP_IDEMPOTENCY_KEY="k1")

    assert elsewhere.json()["id"] != first.json()["id"]
    assert elsewhere.json()["status"] == "processed"
    assert Submission.objects.count() == 2


def test_a_retry_of_a_rejected_submission_returns_the_rejection(client):
    project = make_project()
    bucket, key = make_bucket(project)

    first = post_intake(client, bucket, key, {"name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k1")
    retry = post_intake(client, bucket, key, {"name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k1")

    assert first.json()["status"] == "rejected"
    assert retry.json() == first.json()
    assert Submission.objects.count() == 1


# --- batch -------------------------------------------------------------------------------------


def test_a_batch_answers_results_in_input_order(client):
    project = make_project()
    bucket, key = make_bucket(project)
    existing = make_lead(project, email="old@example.com")
    items = [
        {"name": "Ann", "email": "ann@example.com"},
        {"name": "Bo", "email": "bo@"},
        {"name": "Old", "email": "OLD@example.com"},
        {"name": "Cy", "email": "cy@example.com"},
        {"name": "Ann again", "email": " Ann@Example.com "},
    ]

    response = post_intake(client, bucket, key, items, path="/batch")

    assert response.status_code == 201
    results = response.json()["items"]
    ann, cy = (Lead.objects.get(email_key=e) for e in ("ann@example.com", "cy@example.com"))
    stored = list(Submission.objects.order_by("id"))
    assert [r["id"] for r in results] == [s.pk for s in stored]
    assert [s.raw for s in stored] == items
    assert [(r["status"], r["lead"], r["duplicate_of"]) for r in results] == [
        ("processed", ann.pk, None),
        ("rejected", None, None),
        ("duplicate", None, existing.pk),
        ("processed", cy.pk, None),
        ("duplicate", None, ann.pk),
    ]
    assert Lead.objects.count() == 3
    batch_ids = set(TimelineEvent.objects.filter(lead_id__in=[ann.pk, cy.pk, existing.pk])
                    .exclude(lead_id=existing.pk, kind=TimelineKind.LEAD_CREATED)
                    .values_list("batch_id", flat=True))
    assert len(batch_ids) == 1 and None not in batch_ids


def test_a_batch_of_more_than_1000_is_400_and_stores_nothing(client):
    project = make_project()
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, [{"name": "A", "email": f"a{i}@example.com"}
                                                 for i in range(1001)], path="/batch")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("body", "too_many")]
    assert nothing_stored()


def test_a_batch_of_exactly_1000_is_taken(client, monkeypatch):
    project = make_project()
    bucket, key = make_bucket(project)
    # Only the limit is under test: storing is enough, processing would be slow.
    monkeypatch.setattr(submissions, "process_batch",
                        lambda bucket, rows, **kw: insert_rows(Submission, rows, returning=True))

    response = post_intake(client, bucket, key, [{"name": "A"}] * 1000, path="/batch")

    assert response.status_code == 201
    assert len(response.json()["items"]) == 1000
    assert Submission.objects.filter(status="new").count() == 1000


def test_a_batch_item_over_one_megabyte_is_413_and_stores_nothing(client):
    project = make_project()
    bucket, key = make_bucket(project)
    big = {"name": "Big", "email": "big@example.com", "note": "x" * (1024 * 1024)}

    response = post_intake(client, bucket, key,
                           [{"name": "Ann", "email": "ann@example.com"}, big], path="/batch")

    assert response.status_code == 413
    assert nothing_stored()


def test_a_batch_over_one_megabyte_in_total_is_taken_when_each_item_is_under(client):
    project = make_project()
    bucket, key = make_bucket(project)
    items = [{"name": f"N{i}", "email": f"n{i}@example.com", "note": "x" * 400_000}
             for i in range(3)]

    response = post_intake(client, bucket, key, items, path="/batch")

    assert response.status_code == 201
    assert [r["status"] for r in response.json()["items"]] == ["processed"] * 3


def test_an_item_under_one_megabyte_of_non_ascii_text_is_taken(client):
    project = make_project()
    bucket, key = make_bucket(project)
    # 300,000 "é" are 600 kB of UTF-8 (1.8 MB only when escaped as \u00e9).
    item = {"name": "Zoé", "email": "zoe@example.com", "note": "é" * 300_000}

    response = post_intake(client, bucket, key, json.dumps([item], ensure_ascii=False),
                           path="/batch")

    assert response.status_code == 201
    assert Submission.objects.get().raw == item


@pytest.mark.parametrize("_case, raw, field, code", [
    ("item_not_an_object", '[{"name": "Ann", "email": "ann@example.com"}, "Bo"]', "1",
     "not_an_object"),
    ("body_not_a_list", '{"name": "Ann"}', "body", "not_a_list"),
    ("invalid_json", '[{"name": ', "body", "invalid_json"),
])
def test_a_malformed_batch_is_400_and_stores_nothing(client, _case, raw, field, code):
    project = make_project()
    bucket, key = make_bucket(project)

    response = post_intake(client, bucket, key, raw, path="/batch")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert nothing_stored()


def test_a_batch_retry_with_the_same_idempotency_key_returns_the_first_results(client):
    project = make_project()
    bucket, key = make_bucket(project)
    items = [{"name": "Ann", "email": "ann@example.com"}, {"name": "Bo"},
             {"name": "Ann", "email": "ann@example.com"}]
    with time_machine.travel(T0, tick=False):
        first = post_intake(client, bucket, key, items, path="/batch",
                            HTTP_IDEMPOTENCY_KEY="nightly-7")
    counts = (Submission.objects.count(), Lead.objects.count(), event_count())

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        retry = post_intake(client, bucket, key, items, path="/batch",
                            HTTP_IDEMPOTENCY_KEY="nightly-7")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert [r["status"] for r in first.json()["items"]] == ["processed", "rejected", "duplicate"]
    assert retry.json() == first.json()
    assert (Submission.objects.count(), Lead.objects.count(), event_count()) == counts

    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        later = post_intake(client, bucket, key, items, path="/batch",
                            HTTP_IDEMPOTENCY_KEY="nightly-7")

    assert [r["status"] for r in later.json()["items"]] == ["duplicate", "rejected", "duplicate"]
    assert Submission.objects.count() == 6


# --- accounting --------------------------------------------------------------------------------


def test_every_submission_received_is_accounted_for(client, monkeypatch):
    project = make_project(default_region="US")
    bucket, key = make_bucket(project)
    make_lead(project, email="known@example.com")
    singles = [
        {"name": "Ann", "email": "ann@example.com"},
        {"name": "Ann", "email": "ann@EXAMPLE.com"},
        {"name": "Known", "email": "known@example.com"},
        {"name": "", "email": "x@example.com"},
        {"name": "Phone", "phone": "(212) 555-0100"},
    ]
    batch = [{"name": "Bo", "email": "bo@example.com"}, {"name": "Bo", "phone": "nope"},
             {"name": "Phone again", "phone": "+1 212 555 0100"}, {"name": "Cy"}]
    for body in singles:
        assert post_intake(client, bucket, key, body).status_code == 201
    assert post_intake(client, bucket, key, batch, path="/batch").status_code == 201
    # A crash between storing and processing leaves a submission `new`.
    monkeypatch.setattr(submissions, "_outcome", _crash)
    with pytest.raises(RuntimeError):
        post_intake(client, bucket, key, {"name": "Dee", "email": "dee@example.com"})
    store_submission(bucket, {"name": "Eve", "email": "eve@example.com"})
    received = len(singles) + len(batch) + 2

    counts = {s: Submission.objects.filter(status=s).count()
              for s in ("processed", "duplicate", "rejected", "new")}

    assert counts == {"processed": 3, "duplicate": 3, "rejected": 3, "new": 2}
    assert sum(counts.values()) == received == Submission.objects.count()
    assert Lead.objects.count() == 1 + counts["processed"]
    assert Submission.objects.filter(status="processed", lead__isnull=True).count() == 0
    assert Submission.objects.filter(status="duplicate", duplicate_of__isnull=True).count() == 0


def _crash(*args, **kwargs):
    raise RuntimeError("worker killed")


def test_a_batch_over_one_megabyte_in_all_is_taken_when_each_item_is_under(client):
    project = make_project()
    bucket, key = make_bucket(project)
    note = "x" * 400_000
    items = [{"name": f"P{i}", "email": f"p{i}@example.com", "note": note} for i in range(3)]

    response = post_intake(client, bucket, key, items, path="/batch")

    assert response.status_code == 201
    assert Submission.objects.filter(bucket=bucket).count() == 3
