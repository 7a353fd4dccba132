"""The caller's notifications over the API and in the page shell: newest first in keyset
pages, the unread filter, marking read — never anyone else's."""

import json
from datetime import timedelta

import time_machine
from django.utils import timezone

from leadflow.accounts.models import Notification
from leadflow.accounts.services import notify
from tests.factories import auth, make_project, make_user


def notes(user, count: int, start=None) -> list[int]:
    """`count` notifications for `user`, one a minute apart, oldest first; their ids."""
    start = start or timezone.now() - timedelta(hours=1)
    for i in range(count):
        with time_machine.travel(start + timedelta(minutes=i), tick=False):
            notify([user.pk], "lead_assigned", f"Message {i}")
    return list(Notification.objects.filter(user=user).order_by("created_at", "id")
                .values_list("pk", flat=True))


def test_notifications_are_listed_newest_first_in_pages(client):
    user = make_user(make_project(), "agent")
    other = make_user()
    ids = notes(user, 3)
    notes(other, 2)

    first = client.get("/api/v1/notifications?limit=2", **auth(user))
    second = client.get(f"/api/v1/notifications?limit=2&cursor={first.json()['next_cursor']}",
                        **auth(user))

    assert [n["id"] for n in first.json()["items"]] == [ids[2], ids[1]]
    assert first.json()["items"][0]["message"] == "Message 2"
    assert first.json()["items"][0]["read_at"] is None
    assert [n["id"] for n in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None


def test_unread_filter_and_marking_named_notifications_read(client):
    user = make_user()
    ids = notes(user, 3)

    marked = client.post("/api/v1/notifications/read", data=json.dumps({"ids": [ids[0]]}),
                         content_type="application/json", **auth(user))
    unread = client.get("/api/v1/notifications?unread=true", **auth(user))

    assert marked.json() == {"marked": 1}
    assert [n["id"] for n in unread.json()["items"]] == [ids[2], ids[1]]


def test_marking_all_read_touches_only_the_callers_notifications(client):
    user, other = make_user(), make_user()
    notes(user, 2)
    others = notes(other, 1)

    everything = client.post("/api/v1/notifications/read", data="",
                             content_type="application/json", **auth(user))
    theirs = client.post("/api/v1/notifications/read", data=json.dumps({"ids": others}),
                         content_type="application/json", **auth(user))

    assert everything.json() == {"marked": 2}
    assert theirs.json() == {"marked": 0}
    assert Notification.objects.get(pk=others[0]).read_at is None


def test_notifications_need_a_login_and_a_valid_body(client):
    user = make_user()

    anonymous = client.get("/api/v1/notifications")
    bad = client.post("/api/v1/notifications/read", data=json.dumps({"ids": "all"}),
                      content_type="application/json", **auth(user))

    assert anonymous.status_code == 401
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "ids"


def test_the_unread_count_stops_at_a_hundred():
    from leadflow.accounts.selectors import unread_count

    user = make_user()
    Notification.objects.bulk_create(
        [Notification(user=user, kind="x", message=str(i)) for i in range(120)])

    assert unread_count(user) == 100
