from celery import shared_task

from renewals.services import lifecycle_advance, renewal_notices_send


@shared_task
def send_renewal_notices() -> int:
    """Run by beat several times a day: a run that finds nothing due reads only the index."""
    return renewal_notices_send()


@shared_task
def advance_lifecycle() -> int:
    return lifecycle_advance()
