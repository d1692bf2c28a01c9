"""Webhooks are delivered like e-mails: written in the change's transaction, sent once, signed,
retried with backoff, never sent twice except with the same webhook-id after a worker died."""

import datetime
import threading
import time

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from post_office.models import Email

from portal.models import AuditEvent, WebhookAttempt, WebhookDelivery, WebhookEvent
from portal.webhooks import services
from portal.webhooks.delivery import RETRY_DELAYS, webhook_deliver, webhook_deliveries_sweep
from portal.webhooks.events import TEST_EVENT
from portal.webhooks.services import (
    webhook_endpoint_secret_rotate,
    webhook_endpoint_test,
    webhook_event_emit,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

State = WebhookDelivery.State
START = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.UTC)


def emit(partner, type="customer.created", **data):
    return webhook_event_emit(
        type=type, partner=partner, payload={"customer": {"name": "Contoso", **data}}
    )


def emit_committed(partner, capture, **data):
    """Emit in a transaction that commits, so the delivery is kicked (eagerly, in tests)."""
    with capture(execute=True), transaction.atomic():
        return emit(partner, **data)


def only_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def test_an_event_arrives_once_signed_with_its_payload(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    event = emit_committed(northwind, django_capture_on_commit_callbacks, seats=3)
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.verified_by == receiver.secrets
    assert request.path == "/hooks"
    assert request.webhook_id == event.id and event.id.startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "id": event.id,
        "type": "customer.created",
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "partner_id": "1000001",
        "customer_id": None,
        "data": {"customer": {"name": "Contoso", "seats": 3}},
    }
    delivery = only_delivery()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (
        State.DELIVERED,
        1,
        200,
    )
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.response_excerpt, attempt.error) == (200, "ok", "")
    assert webhook_deliveries_sweep() == 0  # nothing left to send
    assert len(receiver.received) == 1


def test_only_the_partners_enabled_endpoints_that_want_the_type_get_it(
    endpoint, receiver, northwind, fabrikam, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event_emit(type="customer.created", partner=fabrikam, payload={}) is None
        assert emit(northwind, type="delegation_offer.sent") is None
    assert not WebhookEvent.objects.exists() and receiver.received == []


def test_a_rolled_back_change_sends_nothing(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        emit(northwind)
        raise RuntimeError("the change failed after its event was written")
    assert callbacks == []
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert webhook_deliveries_sweep() == 0
    assert receiver.received == []


def test_a_failed_try_is_retried_after_its_backoff_with_the_same_webhook_id(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    receiver.answers = [500]
    with time_machine.travel(START, tick=False) as traveller:
        emit_committed(northwind, django_capture_on_commit_callbacks)
        delivery = only_delivery()
        assert (delivery.state, delivery.last_status_code) == (State.QUEUED, 500)
        assert delivery.next_attempt_at == START + RETRY_DELAYS[0]
        assert webhook_deliveries_sweep() == 0  # not due yet
        traveller.shift(RETRY_DELAYS[0])
        assert webhook_deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (State.DELIVERED, 2)
    assert [r.verified_by for r in receiver.received] == [receiver.secrets] * 2
    assert receiver.ids == [delivery.event_id] * 2
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 200]


def test_a_receiver_down_for_a_while_gets_everything_once_back_in_the_order_of_its_retries(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    receiver.answers = [503, 503, 503, 503]  # down for the first tries of three events
    with time_machine.travel(START, tick=False) as traveller:
        events = []
        for n in range(3):
            events.append(emit_committed(northwind, django_capture_on_commit_callbacks, n=n))
            traveller.shift(datetime.timedelta(seconds=10))
        # The first event's second try (30 s after its first) finds it still down.
        assert webhook_deliveries_sweep() == 1
        assert receiver.ids[-1] == events[0].id
        traveller.shift(RETRY_DELAYS[1])  # back up now; everything is due
        assert webhook_deliveries_sweep() == 3
    ids = [event.id for event in events]
    # the first tries, the first event's retry (still down), then the retries in the order
    # they fell due: 40 s, 50 s, 150 s after the start
    assert receiver.ids == [*ids, ids[0], ids[1], ids[2], ids[0]]
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {State.DELIVERED}
    assert sorted(WebhookDelivery.objects.values_list("attempts", flat=True)) == [2, 2, 3]
    assert all(r.verified_by == receiver.secrets for r in receiver.received)


def test_the_backoff_spans_about_three_days():
    assert datetime.timedelta(days=2, hours=18) < sum(RETRY_DELAYS, datetime.timedelta())
    assert sum(RETRY_DELAYS, datetime.timedelta()) < datetime.timedelta(days=3, hours=6)
    assert sorted(RETRY_DELAYS) == RETRY_DELAYS


def test_a_delivery_a_dead_worker_claimed_is_sent_again_with_the_same_webhook_id(
    endpoint, receiver, northwind, monkeypatch
):
    monkeypatch.setattr(services, "deliveries_kick", lambda ids: None)
    event = emit(northwind)
    # A worker claimed it and was killed (kill -9, OOM) before it recorded anything.
    WebhookDelivery.objects.update(
        state=State.SENDING, attempts=1, claimed_at=timezone.now() - datetime.timedelta(minutes=6)
    )
    assert webhook_deliveries_sweep() == 1
    assert receiver.ids == [event.id]
    assert (only_delivery().state, only_delivery().attempts) == (State.DELIVERED, 2)


def test_a_delivery_claimed_recently_is_left_to_its_worker(
    endpoint, receiver, northwind, monkeypatch
):
    monkeypatch.setattr(services, "deliveries_kick", lambda ids: None)
    emit(northwind)
    WebhookDelivery.objects.update(
        state=State.SENDING, attempts=1, claimed_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert webhook_deliveries_sweep() == 0
    assert webhook_deliver(only_delivery().pk) is None
    assert receiver.received == []


def test_two_sweeps_at_once_never_send_one_delivery_twice(
    transactional_db, endpoint, receiver, northwind, monkeypatch
):
    monkeypatch.setattr(services, "deliveries_kick", lambda ids: None)
    events = [emit(northwind, n=n) for n in range(6)]
    receiver.delay = 0.2  # each send takes a while: the sweeps overlap
    start = threading.Barrier(3)

    def sweep():
        try:
            start.wait()
            webhook_deliveries_sweep()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(receiver.ids) == sorted(event.id for event in events)
    assert set(WebhookDelivery.objects.values_list("state", "attempts")) == {(State.DELIVERED, 1)}


def test_two_workers_given_one_delivery_send_it_once(
    transactional_db, endpoint, receiver, northwind, monkeypatch
):
    monkeypatch.setattr(services, "deliveries_kick", lambda ids: None)
    event = emit(northwind)
    delivery_id = only_delivery().pk
    receiver.delay = 0.3  # the first worker is still sending when the others claim
    start = threading.Barrier(4)
    outcomes = []

    def work():
        try:
            start.wait()
            outcomes.append(webhook_deliver(delivery_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert receiver.ids == [event.id]
    assert sorted(outcomes, key=str) == [None, None, None, State.DELIVERED]
    assert (only_delivery().state, only_delivery().attempts) == (State.DELIVERED, 1)


def test_a_real_worker_delivers_through_redis_after_the_commit(
    transactional_db, endpoint, receiver, northwind
):
    from tests.helpers import real_worker_running, wait_for

    with real_worker_running():
        event = emit(northwind)  # autocommit: the kick goes to Redis at once
        assert wait_for(lambda: only_delivery().state == State.DELIVERED, 30)
    assert receiver.ids == [event.id]


def test_redirects_are_answers_not_followed(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    def redirect(handler):
        handler.send_response(302)
        handler.send_header("Location", receiver.url + "/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    receiver.answers = [redirect]
    emit_committed(northwind, django_capture_on_commit_callbacks)
    assert [r.path for r in receiver.received] == ["/hooks"]
    delivery = only_delivery()
    assert (delivery.state, delivery.last_status_code) == (State.QUEUED, 302)


def test_only_the_first_bytes_of_an_answer_are_read(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(100_000_000))
        handler.end_headers()
        handler.wfile.write(b"x" * 8192)
        handler.wfile.flush()
        time.sleep(3)  # the rest never comes: a client reading it all would wait

    receiver.answers = [endless]
    started = time.monotonic()
    emit_committed(northwind, django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 2
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.response_excerpt) == (200, "x" * 1024)
    assert only_delivery().state == State.DELIVERED


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_try(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks, monkeypatch
):
    from portal.webhooks import addresses

    monkeypatch.setattr(addresses, "TIMEOUT", 0.5)
    receiver.delay = 2
    emit_committed(northwind, django_capture_on_commit_callbacks)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "timed out" in attempt.error.lower()
    assert only_delivery().state == State.QUEUED


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_admins_told(
    endpoint, receiver, northwind, partner_admin, partner_agent, monkeypatch, settings
):
    monkeypatch.setattr(services, "deliveries_kick", lambda ids: None)
    partner_admin.language = "fr"
    partner_admin.save()
    receiver.answers = [500] * 20
    with time_machine.travel(START, tick=False) as traveller:
        emit(northwind)
        while only_delivery().state == State.QUEUED:
            traveller.move_to(only_delivery().next_attempt_at)
            assert webhook_deliveries_sweep() == 1
        now = timezone.now()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "Every try failed for 24 hours."
    assert endpoint.failing_since == START and now - START >= datetime.timedelta(hours=24)
    assert only_delivery().state == State.FAILED
    tries = len(receiver.received)
    assert tries == 9  # the ninth try, 46 hours after the first, is the first past a day
    email = Email.objects.get()
    assert email.to == [partner_admin.email]  # admins only, in their language
    assert email.headers == {"Content-Language": "fr"}
    assert endpoint.url in email.message
    # A link to the endpoint's page (its log, Enable), on the portal's address.
    page = f"{settings.PORTAL_BASE_URL}/partner/webhooks/{endpoint.pk}/"
    assert page in email.message and f'href="{page}"' in email.html_message
    assert AuditEvent.objects.filter(action="webhook_endpoint.disabled", actor=None).exists()
    # Disabled: new events are not written for it, nothing more is sent.
    assert emit(northwind) is None
    assert webhook_deliveries_sweep() == 0


def test_a_success_forgets_the_failures(
    endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    receiver.answers = [500]
    emit_committed(northwind, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    emit_committed(northwind, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_after_a_rotation_both_secrets_sign_for_a_day_then_only_the_new_one(
    endpoint, receiver, northwind, partner_admin, django_capture_on_commit_callbacks
):
    old = receiver.secrets[0]
    with time_machine.travel(START, tick=False) as traveller:
        new = webhook_endpoint_secret_rotate(endpoint=endpoint, actor=partner_admin)
        assert new != old and new.startswith("whsec_")
        receiver.secrets = [old, new]
        emit_committed(northwind, django_capture_on_commit_callbacks)
        traveller.shift(datetime.timedelta(hours=23, minutes=59))
        emit_committed(northwind, django_capture_on_commit_callbacks)
        traveller.shift(datetime.timedelta(minutes=2))
        emit_committed(northwind, django_capture_on_commit_callbacks)
    assert [r.verified_by for r in receiver.received] == [[old, new], [old, new], [new]]
    assert [len(r.headers["webhook-signature"].split()) for r in receiver.received] == [2, 2, 1]


def test_a_test_event_is_tried_once_and_leaves_the_endpoint_alone(
    endpoint, receiver, partner_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    assert receiver.received[0].json["type"] == TEST_EVENT
    assert receiver.received[0].verified_by == receiver.secrets
    receiver.answers = [503]
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (State.FAILED, 1)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
