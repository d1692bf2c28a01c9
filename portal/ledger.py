"""Ledgers of things that must happen once (design, "E-mail": renewal and delegation notices).

Each ledger is a table with a unique constraint over what makes a notice the same notice. A
sweep claims its rows with INSERT … ON CONFLICT DO NOTHING RETURNING, in the transaction that
also queues the e-mail: a row that exists (an earlier run, a retry, a sweep running at the same
moment — PostgreSQL makes the second insert wait for the first one's commit) is not returned,
and its notice is not sent again.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import connection, models


def ledger_claim(
    model: type[models.Model], rows: list[dict[str, Any]], *, key: str | tuple[str, ...]
) -> dict:
    """Insert the rows nobody inserted yet, with one statement; {row[key]: id} of those this
    call inserted (with a tuple of fields as `key`, {(row[k1], row[k2], …): id}).

    `rows` map field names to values, every row with the same fields. A sweep claims a whole
    batch at once; its rows are inserted in the order given, so that two sweeps claiming the
    same rows in the same order wait for each other rather than deadlock.
    """
    if not rows:
        return {}
    fields = list(rows[0])
    keys = key if isinstance(key, tuple) else (key,)
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    returning = ", ".join(quote(meta.get_field(name).column) for name in keys)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 — names are ours
            f"VALUES {', '.join([row_sql] * len(rows))} "
            f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}, {returning}",
            [row[name] for row in rows for name in fields],
        )
        if isinstance(key, tuple):
            return {tuple(claimed): pk for pk, *claimed in cursor.fetchall()}
        return {claimed: pk for pk, claimed in cursor.fetchall()}


def due_threshold(end_date: date, today: date, thresholds: Sequence[int]) -> int | None:
    """The notice due on `today` for something ending on `end_date`, as a threshold in days
    before the end: the most recent one reached (after downtime, the one missed last, not the
    stale earlier ones). None before the first threshold and after the end date. Renewal notices
    (60/30/7/1) and delegation notices (30/7/1/0) both go by it."""
    days_left = (end_date - today).days
    if days_left < 0:
        return None
    reached = [days for days in thresholds if days >= days_left]
    return min(reached) if reached else None
