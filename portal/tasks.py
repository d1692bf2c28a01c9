from celery import shared_task

from portal.outbox import outbox_deliver


@shared_task
def deliver_outbox() -> int:
    """Kicked after each commit that queued an e-mail, and run every minute by beat."""
    return outbox_deliver()
