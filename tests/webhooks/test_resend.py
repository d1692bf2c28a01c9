"""Resend: a delivered or failed delivery goes again with the same webhook-id, on a fresh retry
schedule; never while it is waiting or being sent, never to a disabled endpoint (a test event
aside), never by someone who does not manage the partner's webhooks. The delivery log's filters."""

import pytest
from django.db import transaction

from portal.models import AuditEvent, WebhookDelivery
from portal.webhooks.delivery import webhook_deliver
from portal.webhooks.forms import DeliveryFilterForm
from portal.webhooks.selectors import endpoint_deliveries
from portal.webhooks.services import (
    WebhookError,
    webhook_delivery_resend,
    webhook_endpoint_disable,
    webhook_endpoint_test,
    webhook_event_emit,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

State = WebhookDelivery.State


def delivered(northwind, receiver, capture) -> WebhookDelivery:
    with capture(execute=True), transaction.atomic():
        event = webhook_event_emit(type="customer.created", partner=northwind, payload={"n": 1})
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.state == State.DELIVERED
    return delivery


def test_resend_sends_it_again_with_the_same_webhook_id_and_is_audited(
    endpoint, receiver, northwind, partner_admin, django_capture_on_commit_callbacks
):
    delivery = delivered(northwind, receiver, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_resend(delivery=delivery, actor=partner_admin)
    assert receiver.ids == [delivery.event_id, delivery.event_id]
    assert receiver.received[1].verified_by == receiver.secrets
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.attempt_log.count()) == (
        State.DELIVERED,
        1,
        2,
    )
    event = AuditEvent.objects.get(action="webhook_delivery.resent")
    assert event.details == {"webhook_id": delivery.event_id, "event_type": "customer.created"}


def test_a_failed_delivery_resent_gets_a_fresh_retry_schedule(
    endpoint, receiver, northwind, partner_admin, django_capture_on_commit_callbacks
):
    delivery = delivered(northwind, receiver, django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=State.FAILED, attempts=10)
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_resend(delivery=delivery, actor=partner_admin)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (State.QUEUED, 1)  # retried later, not failed


def test_a_waiting_delivery_is_not_resent(endpoint, northwind, partner_admin):
    with transaction.atomic():
        event = webhook_event_emit(type="customer.created", partner=northwind, payload={})
    delivery = WebhookDelivery.objects.get(event=event)
    with pytest.raises(WebhookError, match="being sent already"):
        webhook_delivery_resend(delivery=delivery, actor=partner_admin)
    assert not AuditEvent.objects.filter(action="webhook_delivery.resent").exists()


def test_nothing_is_resent_to_a_disabled_endpoint_but_a_test_event(
    endpoint, receiver, northwind, partner_admin, django_capture_on_commit_callbacks
):
    delivery = delivered(northwind, receiver, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        test = webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    webhook_endpoint_disable(endpoint=endpoint, actor=partner_admin)
    with pytest.raises(WebhookError, match="Enable the endpoint first"):
        webhook_delivery_resend(delivery=delivery, actor=partner_admin)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_resend(delivery=test, actor=partner_admin)
    assert receiver.ids == [delivery.event_id, test.event_id, test.event_id]


def test_agents_and_other_partners_cannot_resend(
    endpoint,
    receiver,
    northwind,
    partner_agent,
    other_partner_admin,
    django_capture_on_commit_callbacks,
):
    delivery = delivered(northwind, receiver, django_capture_on_commit_callbacks)
    for actor in (partner_agent, other_partner_admin):
        with pytest.raises(WebhookError):
            webhook_delivery_resend(delivery=delivery, actor=actor)
    delivery.refresh_from_db()
    assert delivery.state == State.DELIVERED


def test_the_log_filters_by_event_and_outcome_and_ignores_unknown_values(
    endpoint, receiver, northwind, partner_admin, django_capture_on_commit_callbacks
):
    ok = delivered(northwind, receiver, django_capture_on_commit_callbacks)
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        test = webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    with transaction.atomic():
        waiting = webhook_event_emit(type="subscription.renewed", partner=northwind, payload={})

    def listed(**query):
        filters = DeliveryFilterForm(query).filters()
        return [d.event_id for d in endpoint_deliveries(endpoint, **filters)]

    assert listed() == [waiting.id, test.event_id, ok.event_id]
    assert listed(outcome="delivered") == [ok.event_id]
    assert listed(outcome="failed") == [test.event_id]
    assert listed(outcome="pending") == [waiting.id]
    assert listed(event="webhook.test") == [test.event_id]
    assert listed(event="subscription.renewed", outcome="pending") == [waiting.id]
    assert listed(event="no.such", outcome="sideways") == [waiting.id, test.event_id, ok.event_id]
    assert webhook_deliver(ok.pk) is None  # a delivered one is not due
