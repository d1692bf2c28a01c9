"""Where one request's time goes, by layer (bench/pages.py's second table; issue 20).

cProfile's own-time areas blur the picture (its overhead is per Python call, so it inflates
call-heavy layers such as templates, and a query evaluated inside a template counts where its
functions live). This wraps a handful of Django's entry points with a clock instead and gives
each layer its *exclusive* wall time — a layer's time minus that of the layers it calls:

- SQL built: the compilers' `as_sql` (the ORM turning a QuerySet, an insert, an update or a count
  into SQL, sub-queries included);
- SQL sent: `CursorWrapper.execute` and `executemany` (psycopg2 and PostgreSQL: the round trip,
  planning, running);
- rows read: the rest of the compilers' `execute_sql` (fetching rows, converters);
- templates: `Template.render` (the page and its includes, without the queries they evaluate);
- the rest: everything else of the request (middleware, the view's own code, forms, making
  model objects from rows, Redis).

A layer entered again inside itself (an include, a sub-query's compiler) counts once.
"""

import time
from collections import defaultdict
from contextlib import contextmanager

LAYERS = ("SQL built", "SQL sent", "rows read", "templates")


class _Clock:
    def __init__(self):
        self.own: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []  # [layer, started, time of the layers called]

    def wrap(self, layer: str, function):
        clock = self

        def wrapper(*args, **kwargs):
            if any(frame[0] == layer for frame in clock.stack):
                return function(*args, **kwargs)
            clock.stack.append([layer, time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                name, started, inner = clock.stack.pop()
                spent = time.perf_counter() - started
                clock.own[name] += spent - inner
                if clock.stack:
                    clock.stack[-1][2] += spent

        return wrapper


@contextmanager
def layers():
    """Instrument Django while the block runs; yields the clock (`own`: seconds by layer)."""
    from django.db.backends.utils import CursorWrapper
    from django.db.models.sql import compiler
    from django.template.base import Template

    clock = _Clock()
    patched = [
        (CursorWrapper, "execute", "SQL sent"),
        (CursorWrapper, "executemany", "SQL sent"),
        (Template, "render", "templates"),
    ]
    # The SELECT compiler and those that override it (INSERT, UPDATE, DELETE, the count).
    for owner in (
        compiler.SQLCompiler,
        compiler.SQLInsertCompiler,
        compiler.SQLUpdateCompiler,
        compiler.SQLDeleteCompiler,
        compiler.SQLAggregateCompiler,
    ):
        for name, layer in (("as_sql", "SQL built"), ("execute_sql", "rows read")):
            if name in vars(owner):
                patched.append((owner, name, layer))
    originals = [(owner, name, getattr(owner, name)) for owner, name, _layer in patched]
    for (owner, name, layer), (_owner, _name, original) in zip(patched, originals, strict=True):
        setattr(owner, name, clock.wrap(layer, original))
    try:
        yield clock
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def split(send, requests: int) -> dict[str, float]:
    """Milliseconds of one request by layer (the mean of `requests`), with "the rest"."""
    with layers() as clock:
        started = time.perf_counter()
        for _ in range(requests):
            send()
        total = time.perf_counter() - started
    shares = {layer: 1000 * clock.own[layer] / requests for layer in LAYERS}
    shares["the rest"] = 1000 * total / requests - sum(shares.values())
    return shares
