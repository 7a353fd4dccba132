"""Signing in: failed attempts per account and per client address, a growing delay, a
lockout with a notice to the owner, and an admin's unlock."""

import logging
from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.accounts import services
from leadflow.accounts.models import Notification, ThrottleHit
from leadflow.core.actor import Actor
from leadflow.core.errors import PermissionDenied, RateLimited, Unauthenticated
from tests.factories import make_project, make_user

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
HOME = "203.0.113.7"


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def sign_in_at(moment, email, password="wrong-password", address=HOME):
    with time_machine.travel(moment, tick=False):
        return services.sign_in(email, password, address=address)


def fail_at(moment, email, address=HOME) -> str:
    """Sign in with a wrong password; returns how it was refused."""
    try:
        sign_in_at(moment, email, address=address)
    except Unauthenticated:
        return "wrong"
    except RateLimited as exc:
        return f"wait {exc.retry_after}"
    raise AssertionError("a wrong password signed in")


def test_a_correct_password_signs_in():
    user = make_user(email="ann@example.com")

    assert sign_in_at(T0, "ann@example.com", "password123") == user
    assert not ThrottleHit.objects.exists()


def test_five_failures_pass_then_each_attempt_waits_longer():
    make_user(email="ann@example.com")
    outcomes = [fail_at(at(seconds=i), "ann@example.com") for i in range(5)]

    assert outcomes == ["wrong"] * 5
    assert fail_at(at(seconds=5), "ann@example.com") == "wait 1"  # 2 s after the 5th failure
    assert fail_at(at(seconds=6), "ann@example.com") == "wrong"
    assert fail_at(at(seconds=7), "ann@example.com") == "wait 3"  # 4 s after the 6th
    assert fail_at(at(seconds=10), "ann@example.com") == "wrong"
    assert fail_at(at(seconds=11), "ann@example.com") == "wait 7"  # 8 s after the 7th


def test_a_waiting_attempt_is_refused_even_with_the_right_password():
    make_user(email="ann@example.com")
    for i in range(5):
        fail_at(at(seconds=i), "ann@example.com")

    with pytest.raises(RateLimited) as refused:
        sign_in_at(at(seconds=5), "ann@example.com", "password123")

    assert refused.value.detail == "Too many failed sign-ins. Try again in 1 second."
    assert ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").count() == 5


def test_ten_failures_lock_the_account_for_fifteen_minutes_and_tell_its_owner(caplog):
    ann = make_user(email="ann@example.com")
    moments = [at(seconds=0), at(seconds=1), at(seconds=2), at(seconds=3), at(seconds=4),
               at(seconds=10), at(seconds=20), at(seconds=30), at(seconds=50), at(minutes=2)]
    with caplog.at_level(logging.WARNING, logger="leadflow.security"):
        outcomes = [fail_at(moment, "ann@example.com") for moment in moments]

    assert outcomes == ["wrong"] * 10
    with pytest.raises(RateLimited) as refused:
        sign_in_at(at(minutes=3), "ann@example.com", "password123")
    assert refused.value.detail == "Too many failed sign-ins. Try again in 14 minutes."
    assert refused.value.retry_after == 14 * 60
    assert sign_in_at(at(minutes=17), "ann@example.com", "password123") == ann
    notice = Notification.objects.get()
    assert (notice.user, notice.kind) == (ann, "sign_in_locked")
    assert notice.message == (
        "Someone tried to sign in to your account with a wrong password 10 times in the last "
        "hour, so signing in is locked until 08:17 on 1 May (UTC). If it was not you, tell an "
        "admin.")
    assert caplog.messages == [
        "Sign-in to ann@example.com locked until 2030-05-01T08:17:00+00:00 after 10 failed "
        "attempts in an hour (last from 203.0.113.7)."]


def test_after_a_lockout_each_further_failure_within_the_hour_locks_again():
    ann = make_user(email="ann@example.com")
    for i in range(10):
        ThrottleHit.objects.create(key="sign-in:account:ann@example.com", at=at(seconds=i))

    assert fail_at(at(minutes=16), "ann@example.com") == "wrong"
    assert fail_at(at(minutes=17), "ann@example.com") == "wait 840"
    assert Notification.objects.filter(user=ann, kind="sign_in_locked").count() == 1


def test_an_unknown_account_is_throttled_with_the_same_message_and_nobody_is_notified():
    make_user(email="ann@example.com")
    for i in range(5):
        fail_at(at(seconds=i), "nobody@example.com")

    with pytest.raises(RateLimited) as refused:
        sign_in_at(at(seconds=5), "nobody@example.com")
    for i in range(5, 10):
        fail_at(at(minutes=i), "nobody@example.com")

    assert refused.value.detail == "Too many failed sign-ins. Try again in 1 second."
    assert fail_at(at(minutes=10), "nobody@example.com") == "wait 840"
    assert not Notification.objects.exists()


def test_the_account_counts_failures_whatever_the_case_or_address():
    make_user(email="ann@example.com")
    for i in range(5):
        fail_at(at(seconds=i), "Ann@Example.com ", address=f"198.51.100.{i}")

    assert fail_at(at(seconds=5), "ann@example.com", address="192.0.2.1") == "wait 1"


def test_a_successful_sign_in_clears_the_accounts_failures_but_not_the_addresses():
    make_user(email="ann@example.com")
    for i in range(4):
        fail_at(at(seconds=i), "ann@example.com")

    sign_in_at(at(seconds=5), "ann@example.com", "password123")

    assert not ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").exists()
    assert ThrottleHit.objects.filter(key=f"sign-in:address:{HOME}").count() == 4


def test_the_91st_wrong_password_from_one_address_waits():
    make_user(email="ann@example.com")
    for i in range(90):
        assert fail_at(at(seconds=i), f"person{i}@example.com") == "wrong"

    assert fail_at(at(seconds=90), "person90@example.com") == "wait 1"
    assert fail_at(at(seconds=90), "ann@example.com", address="198.51.100.2") == "wrong"
    with pytest.raises(RateLimited):
        sign_in_at(at(seconds=90), "ann@example.com", "password123")
    assert fail_at(at(seconds=91), "person90@example.com") == "wrong"
    assert fail_at(at(seconds=92), "person91@example.com") == "wait 3"  # 4 s after the 91st


def test_the_address_budget_slides_with_the_hour():
    for i in range(90):
        ThrottleHit.objects.create(key=f"sign-in:address:{HOME}", at=at(seconds=40 * i))

    assert fail_at(at(seconds=3561), "someone@example.com") == "wait 1"
    # At 09:00:01 the 08:00:00 failure has left the hour: 89 count, the next one is free.
    assert fail_at(at(seconds=3601), "someone@example.com") == "wrong"
    assert fail_at(at(seconds=3602), "someone@example.com") == "wait 1"


def test_an_inactive_user_with_the_right_password_is_refused_like_a_wrong_password():
    ann = make_user(email="ann@example.com")
    services.update_user(ann, actor=Actor(None, "cli"), is_active=False)

    with pytest.raises(Unauthenticated):
        sign_in_at(T0, "ann@example.com", "password123")
    assert ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").count() == 1


# --- unlock -------------------------------------------------------------------------------------


def locked(email="ann@example.com"):
    for i in range(10):
        ThrottleHit.objects.create(key=f"sign-in:account:{email}", at=at(seconds=i))


def test_an_admin_unlocks_an_account_at_once(caplog):
    ann = make_user(email="ann@example.com")
    admin = make_user(email="boss@example.com", admin=True)
    locked()
    ThrottleHit.objects.create(key=f"sign-in:address:{HOME}", at=T0)

    with time_machine.travel(at(minutes=1), tick=False):
        assert services.sign_in_locked_until(ann) == (at(minutes=15, seconds=9), 10)
        with caplog.at_level(logging.WARNING, logger="leadflow.security"):
            forgotten = services.unlock_user(ann, actor=Actor(admin, "ui"))
        assert services.sign_in_locked_until(ann) == (None, 0)

    assert forgotten == 10
    assert sign_in_at(at(minutes=1), "ann@example.com", "password123") == ann
    assert caplog.messages == [
        "Sign-in to ann@example.com unlocked by boss@example.com (10 failed attempts "
        "forgotten)."]


@pytest.mark.parametrize("role", ["manager", "agent"])
def test_only_an_admin_unlocks_an_account(role):
    project = make_project()
    ann = make_user(project, "agent", email="ann@example.com")
    someone = make_user(project, role)
    locked()

    with pytest.raises(PermissionDenied):
        services.unlock_user(ann, actor=Actor(someone, "ui"))

    assert ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").count() == 10
