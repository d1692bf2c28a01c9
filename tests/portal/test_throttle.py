"""The guessing counters on Redis: one round trip for a try, whatever the number of counters, and
one for giving it back (issue 20: a key check made fourteen)."""

from datetime import timedelta

import pytest
import time_machine
from redis.connection import Connection

from portal.throttle import Counter, attempt_start

pytestmark = pytest.mark.redis

WINDOW = timedelta(minutes=15)


@pytest.fixture
def round_trips(monkeypatch):
    """The commands sent to Redis (a pipeline goes as one packet)."""
    sent = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


def counters() -> list[Counter]:
    return [Counter("test:user:1", 2), Counter("test:addr:192.0.2.1", 3)]


def test_a_try_and_its_refund_are_one_round_trip_each(round_trips):
    attempt_start(counters(), WINDOW).refund()  # the connection opened, the script known
    round_trips.clear()
    attempt = attempt_start(counters(), WINDOW)
    assert len(round_trips) == 1
    round_trips.clear()
    attempt.refund()
    assert len(round_trips) == 1


def test_the_counts_the_limit_and_the_window_are_those_of_the_step_by_step_way():
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        first, second, third = (attempt_start(counters(), WINDOW) for _ in range(3))
    assert (first.counts, second.counts, third.counts) == ([1, 1], [2, 2], [3, 3])
    assert not second.blocked and third.blocked  # past the per-user limit of 2
    assert third.until.isoformat() == "2026-11-25T10:15:00+00:00"
    assert third.reached() == [counters()[1]]  # the address's limit reached just now
    third.refund()
    third.refund()  # given back once only
    with time_machine.travel("2026-11-25 10:05:00Z", tick=False):
        assert attempt_start(counters(), WINDOW).counts == [3, 3]
    # The clock ends the window, even though its keys are still in Redis.
    with time_machine.travel("2026-11-25 10:15:01Z", tick=False):
        again = attempt_start(counters(), WINDOW)
    assert again.counts == [1, 1] and not again.blocked


def test_a_refund_after_the_window_leaves_no_counter_behind():
    from django.core.cache import cache

    attempt = attempt_start(counters(), WINDOW)
    cache.clear()  # the window's keys expired meanwhile
    attempt.refund()
    assert cache.get("test:user:1:n") is None
