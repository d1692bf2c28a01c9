from celery import shared_task

from portal.outbox import outbox_clean, outbox_deliver


@shared_task
def deliver_outbox() -> int:
    """Kicked after each commit that queued an e-mail, and run every minute by beat."""
    return outbox_deliver()


@shared_task
def clean_outbox() -> int:
    """Run daily by beat: deletes the e-mails sent long ago (OUTBOX_KEEP_SENT_DAYS)."""
    return outbox_clean()
