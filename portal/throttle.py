"""Counting failures in the shared cache, for every place where guessing is possible.

The counters live in the cache (Redis in production) so that every web process agrees. A window
opens with the first failure; the clock (`timezone.now`) decides when it is over, the cache's
expiry only cleans up.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.utils import timezone


@dataclass(frozen=True)
class Counter:
    name: str  # e.g. "keyguess:user:12"
    limit: int


def blocked_until(counters: list[Counter]) -> datetime | None:
    """When the last of these counters at its limit reopens; None when none is at its limit."""
    now = timezone.now().timestamp()
    values = cache.get_many([f"{c.name}:{part}" for c in counters for part in ("n", "until")])
    blocked = [
        until
        for c in counters
        if (values.get(f"{c.name}:n") or 0) >= c.limit
        and (until := values.get(f"{c.name}:until") or 0) > now
    ]
    return datetime.fromtimestamp(max(blocked), tz=UTC) if blocked else None


def failure_record(counters: list[Counter], window: timedelta) -> list[Counter]:
    """Count one failure on each counter; return those that have just reached their limit."""
    now = timezone.now()
    ttl = window.total_seconds()
    reached = []
    for counter in counters:
        until = cache.get(f"{counter.name}:until")
        if until is not None and until <= now.timestamp():
            cache.delete_many([f"{counter.name}:until", f"{counter.name}:n"])  # window is over
        cache.add(f"{counter.name}:until", (now + window).timestamp(), timeout=ttl)
        cache.add(f"{counter.name}:n", 0, timeout=ttl)
        try:
            count = cache.incr(f"{counter.name}:n")
        except ValueError:  # expired between add and incr
            cache.set(f"{counter.name}:n", 1, timeout=ttl)
            count = 1
        if count == counter.limit:
            reached.append(counter)
    return reached
