"""The throttle: a sliding log of attempts per key, judged against the attempts before it."""

from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.accounts import throttle
from leadflow.accounts.models import ThrottleHit
from leadflow.accounts.throttle import Policy

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")
LIMIT = Policy(window=timedelta(minutes=10), free=5)
GROWING = Policy(window=timedelta(hours=1), free=5, growing=True,
                 lockout_after=10, lockout=timedelta(minutes=15))


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def attempt_at(moment: datetime, key: str = "k", policy: Policy = LIMIT):
    with time_machine.travel(moment, tick=False):
        return throttle.attempt([(key, policy)])


# --- the policy's arithmetic -------------------------------------------------------------------


def test_a_limit_lets_the_next_attempt_pass_when_the_oldest_counted_one_leaves_the_window():
    earlier = [at(minutes=1), at(minutes=2), at(minutes=3), at(minutes=4), at(minutes=5)]

    assert LIMIT.until(earlier[:4]) is None
    assert LIMIT.until(earlier) == at(minutes=11)
    assert LIMIT.until([at(minutes=0), *earlier]) == at(minutes=11)


def test_a_growing_delay_doubles_after_the_free_attempts_then_locks():
    last = at(minutes=30)

    waits = [GROWING.until([last] * n) for n in range(4, 12)]

    assert waits == [None, last + timedelta(seconds=2), last + timedelta(seconds=4),
                     last + timedelta(seconds=8), last + timedelta(seconds=16),
                     last + timedelta(seconds=32), last + timedelta(minutes=15),
                     last + timedelta(minutes=15)]


def test_a_growing_delay_is_capped():
    capped = Policy(window=timedelta(hours=1), free=1, growing=True, cap=timedelta(seconds=60))

    assert capped.until([T0] * 20) == T0 + timedelta(seconds=60)


def test_waits_are_told_in_words():
    assert [throttle.in_words(s) for s in (1, 45, 60, 61, 120, 900)] == [
        "1 second", "45 seconds", "1 minute", "2 minutes", "2 minutes", "15 minutes"]


# --- attempts against the database ------------------------------------------------------------


def test_five_attempts_at_the_end_of_one_window_and_five_at_the_start_of_the_next_do_not_all_pass():
    # A fixed ten-minute window would start again at 08:10 and let all ten through.
    late = [attempt_at(at(minutes=9, seconds=50 + i)) for i in range(5)]
    early = [attempt_at(at(minutes=10, seconds=i)) for i in range(5)]

    assert [a.wait for a in late] == [0, 0, 0, 0, 0]
    # Each waits until the first late attempt is ten minutes old: 08:19:50.
    assert [a.wait for a in early] == [590, 589, 588, 587, 586]
    assert ThrottleHit.objects.filter(key="k").count() == 5


def test_a_refused_attempt_leaves_nothing_behind():
    for i in range(5):
        attempt_at(at(seconds=i))

    refused = [attempt_at(at(minutes=1, seconds=i)) for i in range(3)]

    assert [a.wait for a in refused] == [540, 539, 538]
    assert list(ThrottleHit.objects.values_list("at", flat=True).order_by("at")) == [
        at(seconds=i) for i in range(5)]


def test_the_window_slides_one_attempt_at_a_time():
    for minute in range(5):
        attempt_at(at(minutes=minute))

    assert attempt_at(at(minutes=9, seconds=59)).wait == 1
    assert attempt_at(at(minutes=10)).wait == 0  # the 08:00 attempt has left the window
    assert attempt_at(at(minutes=10, seconds=30)).wait == 30  # 08:01 leaves at 08:11


def test_keys_count_apart_and_an_attempt_waits_for_the_longest_of_its_keys():
    for i in range(5):
        attempt_at(at(seconds=i), key="a")

    mixed = attempt_at_many(at(minutes=1), [("a", LIMIT), ("b", LIMIT)])
    other = attempt_at(at(minutes=1), key="b")

    assert mixed.wait == 540
    assert other.wait == 0
    assert ThrottleHit.objects.filter(key="b").count() == 1


def attempt_at_many(moment, checks):
    with time_machine.travel(moment, tick=False):
        return throttle.attempt(checks)


def test_an_attempt_is_judged_against_rows_written_before_it_at_the_same_instant():
    # Concurrent attempts write at the same moment: only those with an earlier row count.
    for _ in range(4):
        attempt_at(T0)
    ThrottleHit.objects.create(key="k", at=T0)  # a concurrent attempt took the fifth place

    late = attempt_at(T0)

    assert late.wait == 600
    assert ThrottleHit.objects.filter(key="k").count() == 5


def test_an_attempt_that_runs_reports_its_rows_and_counts():
    attempt_at(T0, key="a")

    result = attempt_at_many(at(seconds=1), [("a", LIMIT), ("b", LIMIT)])

    assert result.wait == 0
    assert result.counts == {"a": 2, "b": 1}
    assert set(result.ids) == {"a", "b"}
    assert ThrottleHit.objects.get(pk=result.ids["b"]).key == "b"


def test_forgiven_and_cleared_attempts_no_longer_count():
    kept = [attempt_at(at(seconds=i)) for i in range(5)]
    throttle.forgive([kept[0].ids["k"]])

    assert attempt_at(at(seconds=10)).wait == 0
    assert throttle.clear("k") == 5
    assert not ThrottleHit.objects.exists()


def test_waiting_reads_without_writing():
    for i in range(10):
        ThrottleHit.objects.create(key="k", at=at(seconds=i))

    with time_machine.travel(at(minutes=1), tick=False):
        until, count = throttle.waiting("k", GROWING)

    assert (until, count) == (at(seconds=9, minutes=15), 10)
    assert ThrottleHit.objects.count() == 10


def test_waiting_keys_lists_the_keys_that_wait_now():
    for i in range(10):
        ThrottleHit.objects.create(key="sign-in:account:ann@example.com", at=at(seconds=i))
    for i in range(4):
        ThrottleHit.objects.create(key="sign-in:account:bob@example.com", at=at(seconds=i))
    ThrottleHit.objects.create(key="credential:203.0.113.7", at=T0)

    with time_machine.travel(at(minutes=5), tick=False):
        waiting = throttle.waiting_keys("sign-in:account:", GROWING)

    assert waiting == {"ann@example.com": at(minutes=15, seconds=9)}


def test_the_sweep_forgets_attempts_older_than_every_window():
    ThrottleHit.objects.create(key="old", at=T0)
    ThrottleHit.objects.create(key="recent", at=at(minutes=1))

    with time_machine.travel(at(hours=1, seconds=30), tick=False):
        forgotten = throttle.forget_old_hits()

    assert forgotten == 1
    assert list(ThrottleHit.objects.values_list("key", flat=True)) == ["recent"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_never_take_more_places_than_the_limit():
    from tests.test_concurrency import run_at_once

    results = run_at_once(lambda index: throttle.attempt([("race", LIMIT)]).wait, 12)

    assert sorted(r == 0 for r in results) == [False] * 7 + [True] * 5
    assert ThrottleHit.objects.filter(key="race").count() == 5
