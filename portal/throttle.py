"""Counting tries in the shared cache, for every place where guessing is possible.

The counters live in the cache (Redis in production) so that every web process agrees. A window
opens with the first counted try; the clock (`timezone.now`) decides when it is over, the cache's
expiry only cleans up.

A try is counted *before* the work it guards (`attempt_start`, an atomic increment), and given
back when it turned out not to be a failure (`Attempt.refund`). Checking first and counting after
would let parallel requests all pass the check before any of them counts: 20 requests at once
could run 17 look-ups under a limit of 10.
"""

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.utils import timezone


@dataclass(frozen=True)
class Counter:
    name: str  # e.g. "keyguess:user:12"
    limit: int


@dataclass
class Attempt:
    """One try, already counted on each counter."""

    counters: list[Counter]
    counts: list[int] = field(default_factory=list)
    until: datetime | None = None  # set when a counter was already past its limit: refused
    refunded: bool = False

    @property
    def blocked(self) -> bool:
        return self.until is not None

    def refund(self) -> None:
        """The try was not a failure (a usable key, a right password): it does not count."""
        if self.refunded:
            return
        self.refunded = True
        for counter in self.counters:
            # The window may have ended meanwhile: then there is nothing left to give back.
            with contextlib.suppress(ValueError):
                cache.decr(f"{counter.name}:n")

    def reached(self) -> list[Counter]:
        """The counters this failed try has just brought to their limit (audit them once)."""
        return [
            counter
            for counter, count in zip(self.counters, self.counts, strict=True)
            if count == counter.limit
        ]


def _window_until(counter: Counter) -> float | None:
    return cache.get(f"{counter.name}:until")


def attempt_start(counters: list[Counter], window: timedelta) -> Attempt:
    """Count one try on every counter, then say whether it may go ahead.

    The increment is atomic in Redis, so of any number of parallel tries at most `limit` see a
    count within the limit. A refused try stays counted; the window's end is not moved by it.
    """
    now = timezone.now()
    ttl = window.total_seconds()
    attempt = Attempt(counters=counters)
    ends = []
    for counter in counters:
        until = _window_until(counter)
        if until is not None and until <= now.timestamp():
            cache.delete_many([f"{counter.name}:until", f"{counter.name}:n"])  # window is over
        cache.add(f"{counter.name}:until", (now + window).timestamp(), timeout=ttl)
        cache.add(f"{counter.name}:n", 0, timeout=ttl)
        try:
            count = cache.incr(f"{counter.name}:n")
        except ValueError:  # expired between add and incr
            cache.set(f"{counter.name}:n", 1, timeout=ttl)
            count = 1
        attempt.counts.append(count)
        if count > counter.limit:
            ends.append(_window_until(counter) or (now + window).timestamp())
    if ends:
        attempt.until = datetime.fromtimestamp(max(ends), tz=UTC)
    return attempt


def retry_after_seconds(until: datetime) -> int:
    """The value of a 429's Retry-After header: whole seconds until `until`, at least 1."""
    return max(1, int((until - timezone.now()).total_seconds() + 0.999))
