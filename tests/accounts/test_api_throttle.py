"""Wrong bearer tokens and bucket keys from one address: 401 up to a budget, then 429 with
Retry-After; a correct credential from that address still works. Admins unlock sign-ins."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from leadflow.accounts.models import ThrottleHit
from leadflow.intake.models import Submission
from tests.factories import auth, make_bucket, make_project, make_user

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
HOME = "203.0.113.7"
WRONG = {"HTTP_AUTHORIZATION": "Bearer not-a-token"}


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def get_me(client, headers, moment, address=HOME, **extra):
    with time_machine.travel(moment, tick=False):
        return client.get("/api/v1/users/me", REMOTE_ADDR=address, **headers, **extra)


def post_intake(client, bucket, key, moment, body=None, address=HOME):
    with time_machine.travel(moment, tick=False):
        return client.post(f"/api/v1/intake/{bucket.pk}",
                           data=json.dumps(body or {"name": "Ann", "email": "ann@example.com"}),
                           content_type="application/json", HTTP_X_API_KEY=key,
                           REMOTE_ADDR=address)


# --- bearer tokens ------------------------------------------------------------------------------


def test_the_21st_wrong_token_in_a_minute_from_one_address_is_429_with_retry_after(client):
    statuses = [get_me(client, WRONG, at(seconds=i)).status_code for i in range(20)]

    refused = get_me(client, WRONG, at(seconds=30))

    assert statuses == [401] * 20
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"  # the 08:00:00 failure leaves the minute at 08:01:00
    assert refused.json() == {
        "detail": "Too many requests with a wrong API token or key from your address. "
                  "Try again in 30 seconds.",
        "code": "rate_limited", "errors": []}
    assert ThrottleHit.objects.filter(key=f"credential:{HOME}").count() == 20


def test_the_budget_slides_and_other_addresses_keep_theirs(client):
    for i in range(20):
        get_me(client, WRONG, at(seconds=i))

    assert get_me(client, WRONG, at(seconds=59), address="198.51.100.2").status_code == 401
    assert get_me(client, WRONG, at(seconds=60)).status_code == 401
    assert get_me(client, WRONG, at(seconds=60, microseconds=1)).status_code == 429


def test_a_correct_token_from_a_throttled_address_still_works(client):
    ann = make_user(email="ann@example.com")
    headers = auth(ann)
    for i in range(21):
        get_me(client, WRONG, at(seconds=i))

    response = get_me(client, headers, at(seconds=21))

    assert response.status_code == 200
    assert response.json()["email"] == "ann@example.com"


def test_no_token_at_all_is_not_counted(client):
    statuses = [get_me(client, {}, at(seconds=i)).status_code for i in range(25)]

    assert statuses == [401] * 25
    assert not ThrottleHit.objects.exists()


def test_a_throttled_wrong_token_is_refused_before_the_body_is_read(client):
    for i in range(20):
        get_me(client, WRONG, at(seconds=i))

    with time_machine.travel(at(seconds=20), tick=False):
        response = client.post("/api/v1/users", data="{not json", content_type="application/json",
                               REMOTE_ADDR=HOME, **WRONG)

    assert response.status_code == 429
    assert response["Retry-After"] == "40"


@override_settings(TRUSTED_PROXIES=["10.0.0.1"])
def test_behind_a_trusted_proxy_each_client_has_its_own_budget(client):
    for i in range(20):
        get_me(client, WRONG, at(seconds=i), address="10.0.0.1",
               HTTP_X_FORWARDED_FOR="198.51.100.1")

    same = get_me(client, WRONG, at(seconds=20), address="10.0.0.1",
                  HTTP_X_FORWARDED_FOR="198.51.100.1")
    other = get_me(client, WRONG, at(seconds=20), address="10.0.0.1",
                   HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert (same.status_code, other.status_code) == (429, 401)


# --- bucket keys --------------------------------------------------------------------------------


def test_the_21st_wrong_bucket_key_in_a_minute_is_429_and_stores_nothing(client):
    project = make_project()
    bucket, _key = make_bucket(project)
    statuses = [post_intake(client, bucket, "wrong-key", at(seconds=i)).status_code
                for i in range(20)]

    refused = post_intake(client, bucket, "wrong-key", at(seconds=20), body=["not an object"])

    assert statuses == [401] * 20
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"
    assert refused.json()["errors"] == []
    assert not Submission.objects.exists()


def test_wrong_tokens_and_wrong_bucket_keys_share_one_budget(client):
    project = make_project()
    bucket, _key = make_bucket(project)
    for i in range(10):
        get_me(client, WRONG, at(seconds=i))
    for i in range(10, 20):
        post_intake(client, bucket, "wrong-key", at(seconds=i))

    assert get_me(client, WRONG, at(seconds=20)).status_code == 429


def test_a_correct_bucket_key_from_a_throttled_address_still_stores_and_touches_no_throttle(
        client):
    project = make_project()
    bucket, key = make_bucket(project)
    for i in range(21):
        post_intake(client, bucket, "wrong-key", at(seconds=i))

    accepted = post_intake(client, bucket, key, at(seconds=21))

    assert accepted.status_code == 201
    assert Submission.objects.get().pk == accepted.json()["id"]
    assert ThrottleHit.objects.count() == 20


def test_a_missing_bucket_key_is_not_counted(client):
    project = make_project()
    bucket, _key = make_bucket(project)

    statuses = [post_intake(client, bucket, "", at(seconds=i)).status_code for i in range(21)]

    assert statuses == [401] * 21
    assert not ThrottleHit.objects.exists()


# --- POST /users/{id}/unlock --------------------------------------------------------------------


def lock(email: str) -> None:
    for i in range(10):
        ThrottleHit.objects.create(key=f"sign-in:account:{email}", at=at(seconds=i))


def test_an_admin_unlocks_a_users_sign_in(client):
    ann = make_user(email="ann@example.com")
    admin = make_user(admin=True)
    lock("ann@example.com")

    with time_machine.travel(at(minutes=1), tick=False):
        response = client.post(f"/api/v1/users/{ann.pk}/unlock", **auth(admin))

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["email"]) == (ann.pk, "ann@example.com")
    assert not ThrottleHit.objects.exists()


@pytest.mark.parametrize("role", ["manager", "agent"])
def test_a_non_admin_may_not_unlock(client, role):
    project = make_project()
    ann = make_user(project, "agent", email="ann@example.com")
    caller = make_user(project, role)
    lock("ann@example.com")

    response = client.post(f"/api/v1/users/{ann.pk}/unlock", **auth(caller))

    assert response.status_code == 403
    assert ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").count() == 10


def test_unlocking_an_unknown_user_is_404(client):
    admin = make_user(admin=True)

    response = client.post("/api/v1/users/-1/unlock", **auth(admin))

    assert response.status_code == 404
