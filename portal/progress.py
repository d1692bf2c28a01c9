"""How far a long job got, for its page's progress bar: one way for every job (key jobs, user
imports)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections, models


@contextmanager
def progress_reporter(
    model: type[models.Model], pk: int, running: str
) -> Iterator[Callable[[int], None]]:
    """Yields progress(done), which writes `done` on the job's row while it is `running`.

    The job's writes run in one transaction (all or nothing), which nobody sees before it
    commits; so the count goes through a second connection that commits each update. The job's
    transaction touches the job's row only after the last report, so the two connections never
    wait for each other. SQLite (the embedded mode) has one writer at a time: there the count is
    only written when the job ends.
    """
    side = None
    table = connection.ops.quote_name(model._meta.db_table)

    def progress(done: int) -> None:
        nonlocal side
        if connection.vendor != "postgresql":
            return
        if side is None:
            side = connections.create_connection(DEFAULT_DB_ALIAS)
        with side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET done = %s WHERE id = %s AND state = %s",  # noqa: S608
                [done, pk, running],
            )

    try:
        yield progress
    finally:
        if side is not None:
            side.close()
