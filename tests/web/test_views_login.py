"""The login page under throttling: the wait in a sentence, the lockout, and the admin's
Unlock on the user's settings page."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from leadflow.accounts.models import Notification, ThrottleHit
from tests.factories import make_project, make_user

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
HOME = "203.0.113.7"


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def log_in(client, moment, email="ann@example.com", password="wrong-password", address=HOME):
    with time_machine.travel(moment, tick=False):
        return client.post(reverse("login"), {"username": email, "password": password},
                           REMOTE_ADDR=address)


def test_a_right_password_logs_in_and_clears_earlier_failures(client):
    make_user(email="ann@example.com")
    for i in range(3):
        log_in(client, at(seconds=i))

    response = log_in(client, at(seconds=3), password="password123")

    assert response.status_code == 302
    assert response["Location"] == reverse("crm:lead_list")
    assert not ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").exists()


def test_after_five_failures_the_page_says_how_long_to_wait(client):
    make_user(email="ann@example.com")
    pages = [log_in(client, at(seconds=i)) for i in range(5)]

    waiting = log_in(client, at(seconds=5), password="password123")

    assert [p.status_code for p in pages] == [200] * 5
    assert "Please enter a correct email and password" in pages[-1].content.decode()
    assert waiting.status_code == 429
    assert waiting["Retry-After"] == "1"
    assert "Too many failed sign-ins. Try again in 1 second." in waiting.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_locked_account_is_told_the_minutes_and_its_owner_is_notified(client):
    ann = make_user(email="ann@example.com")
    moments = [at(seconds=s) for s in (0, 1, 2, 3, 4, 10, 20, 30, 50)] + [at(minutes=2)]
    for moment in moments:
        log_in(client, moment)

    locked = log_in(client, at(minutes=3), password="password123")
    unknown = log_in(client, at(minutes=3), email="nobody@example.com",
                     address="198.51.100.2")

    assert locked.status_code == 429
    assert locked["Retry-After"] == "840"
    assert "Too many failed sign-ins. Try again in 14 minutes." in locked.content.decode()
    assert unknown.status_code == 200
    assert Notification.objects.get().user == ann
    assert "_auth_user_id" not in client.session


def lock(email="ann@example.com"):
    for i in range(10):
        ThrottleHit.objects.create(key=f"sign-in:account:{email}", at=at(seconds=i))


def test_an_admin_sees_the_lockout_and_unlocks_it(client):
    ann = make_user(email="ann@example.com")
    admin = make_user(admin=True)
    lock()

    with time_machine.travel(at(minutes=1), tick=False):
        client.force_login(admin)  # a session of that time, not one expired by then
        users = client.get(reverse("config:users")).content.decode()
        page = client.get(reverse("config:user_edit", args=[ann.pk])).content.decode()
        unlocked = client.post(reverse("config:user_unlock", args=[ann.pk]), follow=True)
    client.logout()
    signed_in = log_in(client, at(minutes=1, seconds=1), password="password123")

    assert "sign-in locked until 08:15" in users
    assert (f"After 10 failed sign-ins in the last hour, {ann.label} cannot sign in until "
            "08:15 (1 May).") in page
    assert "Unlock sign-in" in page
    assert f"{ann.label} can sign in again." in unlocked.content.decode()
    assert "Unlock sign-in" not in unlocked.content.decode()
    assert signed_in.status_code == 302


def test_an_unlocked_user_page_offers_no_unlock(client):
    ann = make_user(email="ann@example.com")
    client.force_login(make_user(admin=True))

    page = client.get(reverse("config:user_edit", args=[ann.pk])).content.decode()

    assert "Unlock sign-in" not in page
    assert "sign-in locked" not in client.get(reverse("config:users")).content.decode()


@pytest.mark.parametrize("role", ["manager", "agent"])
def test_a_non_admin_cannot_unlock(client, role):
    project = make_project()
    ann = make_user(project, "agent", email="ann@example.com")
    client.force_login(make_user(project, role))
    lock()

    response = client.post(reverse("config:user_unlock", args=[ann.pk]))

    assert response.status_code == 403
    assert ThrottleHit.objects.filter(key="sign-in:account:ann@example.com").count() == 10


def test_unlock_is_a_post_only(client):
    ann = make_user(email="ann@example.com")
    client.force_login(make_user(admin=True))
    lock()

    response = client.get(reverse("config:user_unlock", args=[ann.pk]))

    assert response.status_code == 405
    assert ThrottleHit.objects.count() == 10
