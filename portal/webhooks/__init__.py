"""Webhooks: partners' endpoints hear about their customers' changes, signed per Standard
Webhooks, delivered like the e-mail outbox (written in the change's transaction, claimed with a row
lock, retried with backoff, picked up again by a periodic sweep)."""
