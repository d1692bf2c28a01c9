"""How both renewal sweeps (notices, lifecycle) take their work: a batch of rows at a time,
claimed with `SELECT … FOR UPDATE SKIP LOCKED` (a second sweep running at the same time takes
other rows instead of waiting), each row handled once per run."""

from django.db.models import QuerySet

from tenants.models import Subscription

# Subscriptions claimed per transaction by a sweep: short transactions, few locks held.
BATCH_SIZE = 200


def due_batch(queryset: QuerySet[Subscription], size: int) -> list[Subscription]:
    # No ORDER BY: the LIMIT stops the index scan after `size` rows instead of sorting every due
    # row first. Rows another sweep holds are skipped, not waited for.
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",)).select_related(
            "tenant", "product", "partner_of_record"
        )[:size]
    )


class SweepLoop(RuntimeError):
    """A subscription came back in the same run: its next date was not moved past today."""


def first_time(batch: list[Subscription], seen: set[int]) -> None:
    # Each row leaves the due set once handled (its date moves past today, or its state on);
    # meeting one again would mean a bug that loops for ever: stop instead.
    for subscription in batch:
        if subscription.pk in seen:
            raise SweepLoop(subscription.pk)
        seen.add(subscription.pk)
