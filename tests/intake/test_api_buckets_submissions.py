"""The bucket and submission routes (DESIGN §4): `/buckets`, `/buckets/{id}/rotate-key`,
`/buckets/{id}/submissions` with its filters and cursor, `/submissions/{id}` and reprocess."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.core.actor import Actor
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.intake.models import Bucket, Submission
from leadflow.intake.services import buckets as bucket_services
from leadflow.projects import services as project_services
from tests.factories import (
    SYSTEM,
    World,
    auth,
    event_count,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    post_intake,
    set_claim,
    source_named,
    store_submission,
    submit,
)

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
BUCKET_KEYS = {"id", "project", "name", "label", "source", "default_manager", "affiliate_id",
               "active", "creates"}


def send(client, method, path, user=None, body=None):
    headers = auth(user) if user is not None else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **headers)


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def bucket_row(bucket) -> dict:
    return Bucket.objects.filter(pk=bucket.pk).values().get()


# --- buckets: create ---------------------------------------------------------------------------

# (case, caller, expected status) for a bucket of w.project
BUCKET_WRITE_CASES = [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("agent_with_view_all", "viewer", 403),
    ("agent_of_another_project", "outsider", 403),
    ("manager_of_another_project", "foreign_manager", 404),
    ("manager", "manager", 201),
    ("admin", "admin", 201),
]


@pytest.mark.parametrize("_case, who, status", BUCKET_WRITE_CASES)
def test_create_bucket_matrix(client, _case, who, status):
    w = World()
    website = source_named(w.project, "Website")
    events_before = event_count()

    response = send(client, "post", "/api/v1/buckets", w.user(who),
                    {"project": w.project.pk, "name": "Spring", "source": website.pk})

    assert response.status_code == status
    if status == 201:
        bucket = Bucket.objects.get()
        assert response.json()["id"] == bucket.pk
    else:
        assert not Bucket.objects.exists()
    assert event_count() == events_before


def test_the_key_is_shown_in_the_create_answer_only(client):
    w = World()
    agent = w.agent

    created = send(client, "post", "/api/v1/buckets", w.manager, {
        "project": w.project.pk, "name": "Spring", "label": "Spring fair",
        "source": source_named(w.project, "Event").pk, "default_manager": agent.pk,
        "affiliate_id": "aff-1",
    })

    body = created.json()
    bucket = Bucket.objects.get()
    assert created.status_code == 201
    assert set(body) == BUCKET_KEYS | {"api_key"}
    assert {k: v for k, v in body.items() if k != "api_key"} == {
        "id": bucket.pk, "project": w.project.pk, "name": "Spring", "label": "Spring fair",
        "source": source_named(w.project, "Event").pk, "default_manager": agent.pk,
        "affiliate_id": "aff-1", "active": True, "creates": "lead",
    }
    assert bucket_services.authenticate_bucket(bucket.pk, body["api_key"]) == bucket
    detail = send(client, "get", f"/api/v1/buckets/{bucket.pk}", w.manager)
    listing = send(client, "get", "/api/v1/buckets", w.manager)
    patched = send(client, "patch", f"/api/v1/buckets/{bucket.pk}", w.manager, {"label": "X"})
    assert set(detail.json()) == BUCKET_KEYS
    assert [set(b) for b in listing.json()] == [BUCKET_KEYS]
    assert set(patched.json()) == BUCKET_KEYS
    for response in (detail, listing, patched):
        assert body["api_key"] not in response.content.decode()


def test_a_bucket_may_create_clients_and_nothing_else(client):
    w = World()
    body = {"project": w.project.pk, "name": "Upsell", "creates": "client",
            "source": source_named(w.project, "Website").pk}

    created = send(client, "post", "/api/v1/buckets", w.manager, body)
    refused = send(client, "post", "/api/v1/buckets", w.manager,
                   body | {"name": "Deals", "creates": "deal"})

    assert created.status_code == 201
    assert created.json()["creates"] == "client"
    assert refused.status_code == 400
    assert [field for field, _code in error_codes(refused)] == ["creates"]
    assert list(Bucket.objects.values_list("name", flat=True)) == ["Upsell"]


def test_unknown_fields_in_a_bucket_body_are_400(client):
    w = World()

    response = send(client, "post", "/api/v1/buckets", w.manager, {
        "project": w.project.pk, "name": "Spring", "api_key": "mine",
        "source": source_named(w.project, "Website").pk})

    assert response.status_code == 400
    assert error_codes(response) == [("api_key", "unknown_field")]
    assert not Bucket.objects.exists()


def test_a_taken_bucket_name_is_409(client):
    w = World()
    make_bucket(w.project, name="Spring")

    response = send(client, "post", "/api/v1/buckets", w.manager, {
        "project": w.project.pk, "name": "Spring",
        "source": source_named(w.project, "Website").pk})

    assert response.status_code == 409
    assert Bucket.objects.count() == 1


# --- buckets: edit, rotate, read -----------------------------------------------------------


@pytest.mark.parametrize("_case, who, status", [
    (case, who, 200 if status == 201 else status) for case, who, status in BUCKET_WRITE_CASES
])
def test_edit_bucket_matrix(client, _case, who, status):
    w = World()
    bucket, _key = make_bucket(w.project, name="Spring")
    before = bucket_row(bucket)

    response = send(client, "patch", f"/api/v1/buckets/{bucket.pk}", w.user(who),
                    {"label": "Summer fair", "active": False})

    assert response.status_code == status
    if status == 200:
        assert (response.json()["label"], response.json()["active"]) == ("Summer fair", False)
        row = bucket_row(bucket)
        assert (row["label"], row["active"]) == ("Summer fair", False)
    else:
        assert bucket_row(bucket) == before


def test_switching_to_create_clients_changes_the_bucket(client):
    w = World()
    bucket, _key = make_bucket(w.project)

    response = send(client, "patch", f"/api/v1/buckets/{bucket.pk}", w.manager,
                    {"creates": "client", "label": "X"})

    assert response.status_code == 200
    assert bucket_row(bucket)["creates"] == "client"
    assert bucket_row(bucket)["label"] == "X"


@pytest.mark.parametrize("_case, who, status", [
    (case, who, 200 if status == 201 else status) for case, who, status in BUCKET_WRITE_CASES
])
def test_rotate_key_matrix(client, _case, who, status):
    w = World()
    bucket, old_key = make_bucket(w.project)
    before = bucket_row(bucket)

    response = send(client, "post", f"/api/v1/buckets/{bucket.pk}/rotate-key", w.user(who))

    assert response.status_code == status
    if status == 200:
        assert set(response.json()) == BUCKET_KEYS | {"api_key"}
        assert response.json()["api_key"] != old_key
    else:
        assert bucket_row(bucket) == before


def test_after_rotation_the_old_key_is_401_at_once_and_the_new_one_works(client):
    w = World()
    bucket, old_key = make_bucket(w.project)
    assert post_intake(client, bucket, old_key, {"name": "Ann", "email": "a@example.com"}
                       ).status_code == 201

    new_key = send(client, "post", f"/api/v1/buckets/{bucket.pk}/rotate-key",
                   w.manager).json()["api_key"]

    refused = post_intake(client, bucket, old_key, {"name": "Bo", "email": "bo@example.com"})
    taken = post_intake(client, bucket, new_key, {"name": "Cy", "email": "cy@example.com"})
    assert (refused.status_code, taken.status_code) == (401, 201)
    assert sorted(Submission.objects.values_list("email_key", flat=True)) == [
        "a@example.com", "cy@example.com"]


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 404),
    ("agent_with_view_all", "viewer", 404),
    ("manager_of_another_project", "foreign_manager", 404),
    ("manager", "manager", 200),
    ("admin", "admin", 200),
])
def test_read_bucket_matrix(client, _case, who, status):
    w = World()
    bucket, _key = make_bucket(w.project)

    response = send(client, "get", f"/api/v1/buckets/{bucket.pk}", w.user(who))

    assert response.status_code == status


def test_bucket_list_shows_managed_projects_only(client):
    w = World()
    mine, _key = make_bucket(w.project, name="Mine")
    theirs, _key = make_bucket(w.other_project, name="Theirs")

    def names(user, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return [b["name"] for b in send(client, "get", f"/api/v1/buckets?{query}", user).json()]

    assert names(w.manager) == ["Mine"]
    assert names(w.agent) == []
    assert names(w.foreign_manager) == ["Theirs"]
    assert names(w.admin) == ["Mine", "Theirs"]
    assert names(w.admin, project=w.other_project.pk) == ["Theirs"]


# --- submissions: list and filters -------------------------------------------------------------


def listing(client, user, bucket, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = send(client, "get", f"/api/v1/buckets/{bucket.pk}/submissions?{query}", user)
    assert response.status_code == 200, response.content
    return response.json()


def ids(client, user, bucket, **params) -> list[int]:
    return [s["id"] for s in listing(client, user, bucket, **params)["items"]]


@pytest.fixture
def desk():
    """A project with a bucket holding processed, duplicate, rejected and new submissions."""

    class Desk:
        pass

    d = Desk()
    d.project = make_project(default_region="US")
    d.manager = make_user(d.project, "manager")
    d.agent = make_user(d.project, "agent")
    d.bucket, d.key = make_bucket(d.project, default_manager=d.agent.pk)
    with time_machine.travel(T0, tick=False):
        d.ann = submit(d.bucket, {"name": "Ann Lee", "email": "ann.lee@example.com",
                                  "company": "Acme"})
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        d.bob = submit(d.bucket, {"first_name": "Bob", "last_name": "Stone",
                                  "email": "bob@example.org"})
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        d.ann_again = submit(d.bucket, {"name": "Annie", "email": "ANN.LEE@example.com"})
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        d.rejected = submit(d.bucket, {"name": "Anna Rejected", "email": "anna@"})
    d.fresh = store_submission(d.bucket, {"name": "Cleo New", "email": "cleo@example.com"},
                               created_at=T0 + timedelta(days=4))
    return d


def test_submission_list_shape_newest_first(client, desk):
    body = listing(client, desk.manager, desk.bucket)

    assert [s["id"] for s in body["items"]] == [
        desk.fresh.pk, desk.rejected.pk, desk.ann_again.pk, desk.bob.pk, desk.ann.pk]
    assert body["next_cursor"] is None
    ann = body["items"][-1]
    assert ann == {
        "id": desk.ann.pk, "status": "processed", "lead": desk.ann.lead_id, "client": None,
        "duplicate_of": None, "errors": [], "bucket": desk.bucket.pk,
        "project": desk.project.pk, "channel": "api", "name": "Ann Lee",
        "email": "ann.lee@example.com", "manager": desk.agent.pk, "affiliate_id": "",
        "utm": {}, "matched": [], "attempts": 1, "created_at": "2030-05-01T08:00:00Z",
        "processed_at": "2030-05-01T08:00:00Z",
    }
    assert body["items"][0]["status"] == "new"
    assert body["items"][0]["manager"] is None


def test_filter_by_status(client, desk):
    assert ids(client, desk.manager, desk.bucket, status="duplicate") == [desk.ann_again.pk]
    assert ids(client, desk.manager, desk.bucket, status="new") == [desk.fresh.pk]
    assert ids(client, desk.manager, desk.bucket, status="rejected") == [desk.rejected.pk]
    assert ids(client, desk.manager, desk.bucket, status="processed") == [desk.bob.pk,
                                                                          desk.ann.pk]


def test_an_unknown_status_is_400(client, desk):
    response = send(client, "get", f"/api/v1/buckets/{desk.bucket.pk}/submissions?status=odd",
                    desk.manager)

    assert response.status_code == 400
    assert error_codes(response) == [("status", "invalid")]


def test_q_with_an_at_sign_is_an_email_prefix(client, desk):
    assert ids(client, desk.manager, desk.bucket, q="ANN.LEE@") == [desk.ann_again.pk,
                                                                    desk.ann.pk]
    assert ids(client, desk.manager, desk.bucket, q="bob@example.o") == [desk.bob.pk]
    assert ids(client, desk.manager, desk.bucket, q="@example.com") == []


def test_q_words_find_names(client, desk):
    # "Lee" is the second word of the lead's name: the duplicate is found through its lead.
    assert ids(client, desk.manager, desk.bucket, q="lee") == [desk.ann_again.pk, desk.ann.pk]
    assert ids(client, desk.manager, desk.bucket, q="Ann") == [
        desk.rejected.pk, desk.ann_again.pk, desk.ann.pk]
    assert ids(client, desk.manager, desk.bucket, q="bob st") == [desk.bob.pk]
    assert ids(client, desk.manager, desk.bucket, q="cleo") == [desk.fresh.pk]


def test_q_digits_find_a_submission_or_lead_by_id(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    # Ids far from any lead id, so a submission id never reads as a lead id here.
    from leadflow.intake.services.submissions import INTAKE, process_submission

    first = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"}, pk=7_000_001)
    second = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"}, pk=7_000_002)
    third = store_submission(bucket, {"name": "Bo", "email": "bo@example.com"}, pk=7_000_003)
    for row in (first, second, third):
        process_submission(row, actor=INTAKE)
    lead = Lead.objects.get(email="ann@example.com")

    assert ids(client, manager, bucket, q="7000002") == [second.pk]
    assert ids(client, manager, bucket, q=str(lead.pk)) == [second.pk, first.pk]
    assert ids(client, manager, bucket, q="7000009") == []


def test_filter_created_after_and_before(client, desk):
    after = (T0 + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    before = (T0 + timedelta(days=3)).isoformat().replace("+00:00", "Z")

    assert ids(client, desk.manager, desk.bucket, created_after=after,
               created_before=before) == [desk.ann_again.pk, desk.bob.pk]


def test_filter_by_manager_reads_the_lead_created_or_duplicated(client):
    project = make_project()
    manager = make_user(project, "manager")
    amy, ben = make_user(project, "agent"), make_user(project, "agent")
    bucket, _key = make_bucket(project, default_manager=amy.pk)
    by_amy = submit(bucket, {"name": "Ann", "email": "ann@example.com"})
    bucket_services.update_bucket(bucket, actor=SYSTEM, default_manager=ben.pk)
    by_ben = submit(bucket, {"name": "Bo", "email": "bo@example.com"})
    again_amy = submit(bucket, {"name": "Ann", "email": "ann@example.com"})
    submit(bucket, {"name": "Nobody"})

    assert ids(client, manager, bucket, manager=amy.pk) == [again_amy.pk, by_amy.pk]
    assert ids(client, manager, bucket, manager=ben.pk) == [by_ben.pk]


def test_unassigned_narrows_to_submissions_whose_lead_is_unassigned(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    unowned_bucket, _key = make_bucket(project)
    with time_machine.travel(T0, tick=False):
        free = submit(unowned_bucket, {"name": "Free", "email": "free@example.com"})
        free_again = submit(unowned_bucket, {"name": "Free", "email": "free@example.com"})
        claimed = submit(unowned_bucket, {"name": "Claimed", "email": "claimed@example.com"})
        lapsed = submit(unowned_bucket, {"name": "Lapsed", "email": "lapsed@example.com"})
        rejected = submit(unowned_bucket, {"name": "Rejected"})
        owned_lead = make_lead(project, owner=agent, email="owned@example.com")
        owned_again = submit(unowned_bucket, {"name": "Owned", "email": "owned@example.com"})
        set_claim(Lead.objects.get(pk=claimed.lead_id), agent, T0 + timedelta(hours=2))
        set_claim(Lead.objects.get(pk=lapsed.lead_id), agent, T0 + timedelta(minutes=30))

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        unassigned = ids(client, manager, unowned_bucket, unassigned="true")
        everything = ids(client, manager, unowned_bucket, unassigned="false")
        leads = send(client, "get", "/api/v1/leads?unassigned=true", manager).json()["items"]

    assert owned_again.duplicate_of_id == owned_lead.pk
    assert unassigned == [lapsed.pk, free_again.pk, free.pk]
    assert sorted(everything) == sorted([free.pk, free_again.pk, claimed.pk, lapsed.pk,
                                         rejected.pk, owned_again.pk])
    # The one predicate: the leads list agrees on which leads are unassigned.
    assert {lead["id"] for lead in leads} == {free.lead_id, lapsed.lead_id}


def test_the_cursor_pages_without_repeats_or_gaps(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    with time_machine.travel(T0, tick=False):  # same created_at: the id breaks the tie
        made = [submit(bucket, {"name": f"N{i}", "email": f"n{i}@example.com"}).pk
                for i in range(7)]

    pages, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = listing(client, manager, bucket, **params)
        pages.append([s["id"] for s in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == [sorted(made, reverse=True)[i:i + 3] for i in (0, 3, 6)]
    ascending = ids(client, manager, bucket, ordering="created_at", limit=200)
    assert ascending == sorted(made)


def test_a_bad_cursor_or_limit_is_400(client, desk):
    for query in ("cursor=bm9wZQ", "limit=0", "limit=201", "ordering=name"):
        response = send(client, "get", f"/api/v1/buckets/{desk.bucket.pk}/submissions?{query}",
                        desk.manager)
        assert response.status_code == 400, query


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 404),
    ("agent_with_view_all", "viewer", 404),
    ("manager_of_another_project", "foreign_manager", 404),
    ("manager", "manager", 200),
    ("admin", "admin", 200),
])
def test_submission_routes_matrix(client, _case, who, status):
    w = World()
    bucket, _key = make_bucket(w.project)
    submission = submit(bucket, {"name": "Ann", "email": "bad@"})
    before = Submission.objects.filter(pk=submission.pk).values().get()

    listed = send(client, "get", f"/api/v1/buckets/{bucket.pk}/submissions", w.user(who))
    detail = send(client, "get", f"/api/v1/submissions/{submission.pk}", w.user(who))
    reprocess = send(client, "post", f"/api/v1/submissions/{submission.pk}/reprocess",
                     w.user(who))

    assert (listed.status_code, detail.status_code, reprocess.status_code) == (status,) * 3
    if status != 200:
        assert Submission.objects.filter(pk=submission.pk).values().get() == before
        assert submission.attempt_rows.count() == 1


# --- submission detail -------------------------------------------------------------------------


def test_submission_detail_holds_raw_normalized_and_the_attempt_log(client):
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project, affiliate_id="aff-1")
    payload = {"name": "Ann", "email": "Ann@Example.com", "phone": "(212) 555-0100",
               "utm_source": "google", "extra": [1, 2]}
    with time_machine.travel(T0, tick=False):
        submission = submit(bucket, {**payload, "email": "bad@"})
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        Submission.objects.filter(pk=submission.pk).update(raw=payload)  # as if fixed upstream
        send(client, "post", f"/api/v1/submissions/{submission.pk}/reprocess", manager)

    body = send(client, "get", f"/api/v1/submissions/{submission.pk}", manager).json()

    lead = Lead.objects.get()
    assert body["raw"] == payload
    assert body["normalized"] == {
        "name": "Ann", "email": "Ann@example.com", "phones": ["+12125550100"],
        "company": None, "country": None, "language": None, "timezone": None,
        "affiliate_id": "aff-1", "utm": {"source": "google"},
    }
    assert (body["status"], body["lead"], body["attempts"]) == ("processed", lead.pk, 2)
    log = body["attempt_log"]
    assert [(a["at"], a["status"], a["lead"], a["duplicate_of"], a["by"]) for a in log] == [
        ("2030-05-01T08:00:00Z", "rejected", None, None, "intake"),
        ("2030-05-01T08:05:00Z", "processed", lead.pk, None, manager.email),
    ]
    assert [(e["field"], e["code"]) for e in log[0]["errors"]] == [("email", "invalid_email")]
    assert log[1]["errors"] == []


def test_an_unknown_submission_is_404(client):
    project = make_project()
    manager = make_user(project, "manager")

    assert send(client, "get", "/api/v1/submissions/999999", manager).status_code == 404
    assert send(client, "post", "/api/v1/submissions/999999/reprocess",
                manager).status_code == 404


# --- reprocess ---------------------------------------------------------------------------------


def test_reprocess_processes_a_submission_left_new(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    stored = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"})

    response = send(client, "post", f"/api/v1/submissions/{stored.pk}/reprocess", manager)

    lead = Lead.objects.get()
    assert response.status_code == 200
    assert response.json() == {"id": stored.pk, "status": "processed", "lead": lead.pk,
                               "client": None, "duplicate_of": None, "errors": []}


def test_reprocess_of_a_rejected_national_phone_succeeds_once_the_region_is_right(client):
    project = make_project(default_region="US")
    manager = make_user(project, "manager")
    bucket, key = make_bucket(project)
    first = post_intake(client, bucket, key, {"name": "Ann", "phone": "020 7946 0018"}).json()
    assert (first["status"], [e["code"] for e in first["errors"]]) == (
        "rejected", ["invalid_phone"])

    project_services.update_project(project, actor=SYSTEM, default_region="GB")
    response = send(client, "post", f"/api/v1/submissions/{first['id']}/reprocess", manager)

    lead = Lead.objects.get()
    assert response.status_code == 200
    assert response.json() == {"id": first["id"], "status": "processed", "lead": lead.pk,
                               "client": None, "duplicate_of": None, "errors": []}
    assert lead.phones == ["+442079460018"]
    submission = Submission.objects.get()
    assert (submission.errors, submission.attempts) == ([], 2)


def test_reprocess_of_a_duplicate_creates_the_lead_once_the_original_is_deleted(client):
    project = make_project()
    manager = make_user(project, "manager")
    original = make_lead(project, email="ann@example.com")
    bucket, _key = make_bucket(project)
    duplicate = submit(bucket, {"name": "Ann", "email": "ann@example.com"})
    assert duplicate.duplicate_of_id == original.pk

    crm_services.delete_lead(original, actor=Actor(manager, "api"))
    response = send(client, "post", f"/api/v1/submissions/{duplicate.pk}/reprocess", manager)

    lead = Lead.objects.get()
    assert response.status_code == 200
    assert response.json() == {"id": duplicate.pk, "status": "processed", "lead": lead.pk,
                               "client": None, "duplicate_of": None, "errors": []}
    assert lead.pk != original.pk


def test_reprocess_of_a_duplicate_whose_original_remains_is_still_a_duplicate(client):
    project = make_project()
    manager = make_user(project, "manager")
    original = make_lead(project, email="ann@example.com")
    bucket, _key = make_bucket(project)
    duplicate = submit(bucket, {"name": "Ann", "email": "ann@example.com"})

    response = send(client, "post", f"/api/v1/submissions/{duplicate.pk}/reprocess", manager)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["duplicate_of"]) == (
        "duplicate", original.pk)
    assert Lead.objects.count() == 1


def test_reprocess_of_a_processed_submission_is_409(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket, _key = make_bucket(project)
    processed = submit(bucket, {"name": "Ann", "email": "ann@example.com"})
    events_before = event_count()

    response = send(client, "post", f"/api/v1/submissions/{processed.pk}/reprocess", manager)

    assert response.status_code == 409
    assert response.json()["code"] == "processed"
    assert Submission.objects.get().attempts == 1
    assert (Lead.objects.count(), event_count()) == (1, events_before)


def test_possible_duplicates_refuse_an_unknown_state(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = client.get("/api/v1/possible-duplicates?state=maybe", **auth(manager))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "state"
