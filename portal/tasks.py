from celery import shared_task

from portal.api.idempotency import idempotent_requests_sweep
from portal.outbox import outbox_clean, outbox_deliver
from portal.webhooks.delivery import webhook_deliver, webhook_deliveries_sweep


@shared_task
def deliver_outbox() -> int:
    """Kicked after each commit that queued an e-mail, and run every minute by beat."""
    return outbox_deliver()


@shared_task
def clean_outbox() -> int:
    """Run daily by beat: deletes the e-mails sent long ago (OUTBOX_KEEP_SENT_DAYS)."""
    return outbox_clean()


@shared_task
def forget_idempotent_requests() -> int:
    """Run hourly by beat: forgets the API's answers kept for Idempotency-Key replays."""
    return idempotent_requests_sweep()


@shared_task
def deliver_webhook(delivery_id: int) -> str | None:
    """Kicked after each commit that wrote a webhook delivery, and by the sweep."""
    return webhook_deliver(delivery_id)


@shared_task
def sweep_webhooks() -> int:
    """Run every minute by beat: hands out the webhook deliveries due (retries, lost ones)."""
    return webhook_deliveries_sweep()
