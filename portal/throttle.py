"""Counting tries in the shared cache, for every place where guessing is possible.

The counters live in the cache (Redis in production) so that every web process agrees. A window
opens with the first counted try; the clock (`timezone.now`) decides when it is over, the cache's
expiry only cleans up.

A try is counted *before* the work it guards (`attempt_start`, an atomic increment), and given
back when it turned out not to be a failure (`Attempt.refund`). Checking first and counting after
would let parallel requests all pass the check before any of them counts: 20 requests at once
could run 17 look-ups under a limit of 10.

On Redis (production) a try costs one round trip, whatever the number of counters: every
counter's steps go in one MULTI/EXEC pipeline, and a refund is one small Lua script. Other caches
(local memory in development) take the same steps one by one.
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
        backend = _redis_backend()
        if backend is not None:
            keys = [cache.make_and_validate_key(f"{counter.name}:n") for counter in self.counters]
            client = backend.get_client(None, write=True)
            client.register_script(_REFUND)(keys=keys)
            return
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


# Gives back one try on each counter that still exists (the window may have ended meanwhile:
# then there is nothing left to give back, and no counter of -1 may be left behind).
_REFUND = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
"""


def _redis_backend():
    """Django's Redis cache client, or None when the cache is another backend."""
    backend = getattr(cache, "_cache", None)
    return backend if hasattr(backend, "get_client") else None


def _window_until(counter: Counter) -> float | None:
    return cache.get(f"{counter.name}:until")


def attempt_start(counters: list[Counter], window: timedelta) -> Attempt:
    """Count one try on every counter, then say whether it may go ahead.

    The increment is atomic in Redis, so of any number of parallel tries at most `limit` see a
    count within the limit. A refused try stays counted; the window's end is not moved by it.
    """
    now = timezone.now()
    backend = _redis_backend()
    counted = (
        _counted_on_redis(backend, counters, now, window)
        if backend is not None
        else [_counted(counter, now, window) for counter in counters]
    )
    attempt = Attempt(counters=counters, counts=[count for count, _until in counted])
    ends = [
        until or (now + window).timestamp()
        for counter, (count, until) in zip(counters, counted, strict=True)
        if count > counter.limit
    ]
    if ends:
        attempt.until = datetime.fromtimestamp(max(ends), tz=UTC)
    return attempt


def _counted(counter: Counter, now: datetime, window: timedelta) -> tuple[int, float | None]:
    """One try on one counter, step by step: its count and its window's end."""
    ttl = window.total_seconds()
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
    return count, _window_until(counter)


def _counted_on_redis(backend, counters, now: datetime, window: timedelta) -> list[tuple]:
    """The same steps for every counter in one MULTI/EXEC round trip, with the keys and values
    Django's cache writes (`cache.get` reads them). A window the clock says is over (its keys
    outlive it only when clocks disagree) is started again in a second trip."""
    ttl = int(window.total_seconds())
    opened = backend._serializer.dumps((now + window).timestamp())
    keys = [
        (
            cache.make_and_validate_key(f"{counter.name}:until"),
            cache.make_and_validate_key(f"{counter.name}:n"),
        )
        for counter in counters
    ]
    client = backend.get_client(None, write=True)

    def count(over: list[tuple[str, str]]) -> list:
        pipe = client.pipeline()  # MULTI/EXEC: nothing else runs between the steps
        for until_key, n_key in over:
            pipe.get(until_key)
            pipe.set(until_key, opened, nx=True, ex=ttl)
            pipe.set(n_key, 0, nx=True, ex=ttl)
            pipe.incr(n_key)
            pipe.expire(n_key, ttl, nx=True)  # never a counter without an expiry
            pipe.get(until_key)
        replies = pipe.execute()
        return [replies[index : index + 6] for index in range(0, len(replies), 6)]

    counted = count(keys)
    stale = [
        index
        for index, (before, *_rest) in enumerate(counted)
        if before is not None and backend._serializer.loads(before) <= now.timestamp()
    ]
    if stale:
        client.delete(*(key for index in stale for key in keys[index]))
        for index, replies in zip(stale, count([keys[index] for index in stale]), strict=True):
            counted[index] = replies
    return [
        (int(count), None if until is None else backend._serializer.loads(until))
        for _before, _added, _zero, count, _expiry, until in counted
    ]


def retry_after_seconds(until: datetime) -> int:
    """The value of a 429's Retry-After header: whole seconds until `until`, at least 1."""
    return max(1, int((until - timezone.now()).total_seconds() + 0.999))
