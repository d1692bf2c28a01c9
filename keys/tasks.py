from celery import shared_task

from keys.services import reservations_release_stale


@shared_task
def release_stale_reservations() -> int:
    return reservations_release_stale()
