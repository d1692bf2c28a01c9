"""Rate limits per API key, in the shared cache (Redis): a fixed window of one minute.

Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds
until the window ends); a request past the limit gets 429 with `Retry-After`.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateState:
    limit: int
    count: int
    reset: int  # seconds until the window ends

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "RateLimit-Reset": str(self.reset),
        }


def _count(name: str) -> int:
    """One increment of the window's counter: one pipelined round trip on Redis."""
    backend = getattr(cache, "_cache", None)
    if backend is not None and hasattr(backend, "get_client"):
        key = cache.make_and_validate_key(name)
        client = backend.get_client(key, write=True)
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2, nx=True)
        return int(pipe.execute()[0])
    cache.add(name, 0, timeout=WINDOW_SECONDS * 2)
    return cache.incr(name)


def rate_count(key_id: int) -> RateState:
    now = time.time()
    window = math.floor(now / WINDOW_SECONDS)
    count = _count(f"api:rate:{key_id}:{window}")
    reset = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    return RateState(limit=settings.API_RATE_LIMIT_PER_MINUTE, count=count, reset=reset)
