"""Webhook tests: Northwind's endpoint at the test's receiver (tests/webhook_receiver.py)."""

import pytest


@pytest.fixture
def endpoint(partner_admin, receiver):
    """Northwind's endpoint at the receiver, for customer.created; the receiver knows its
    secret."""
    from portal.webhooks.services import webhook_endpoint_create

    endpoint, secret = webhook_endpoint_create(
        membership=partner_admin.partner_membership,
        url=receiver.url,
        event_types=["customer.created", "subscription.renewed"],
        description="Our CRM",
    )
    receiver.secrets = [secret]
    return endpoint
