"""redemption_keys_consume: the only code that redeems a redemption's keys."""

import pytest
import time_machine
from django.db import transaction

from keys.models import ProductKey, Redemption
from keys.services import (
    RedemptionClosed,
    RedemptionKeysChanged,
    keys_revoke,
    redemption_keys_consume,
    reservations_release_stale,
)
from portal.models import AuditEvent


def test_it_redeems_every_key_and_completes_the_redemption(
    partner_agent, northwind, make_keys, redeem
):
    keys = make_keys(3)
    redemption = redeem(partner_agent, northwind, *keys)
    lines = redemption_keys_consume(redemption=redemption, user=partner_agent)
    assert [line.product_key.last5 for line in lines] == [k[-5:] for k in keys]
    assert set(ProductKey.objects.values_list("state", flat=True)) == {"redeemed"}
    assert set(ProductKey.objects.values_list("redeemed_by", flat=True)) == {partner_agent.pk}
    redemption.refresh_from_db()
    assert redemption.state == Redemption.State.COMPLETED
    assert AuditEvent.objects.filter(action="key.redeemed").count() == 3
    assert AuditEvent.objects.filter(action="redemption.completed").count() == 1


def test_it_refuses_keys_that_were_never_reviewed(partner_agent, northwind, make_keys, redeem):
    redemption = redeem(partner_agent, northwind, *make_keys(1), confirm=False)
    with pytest.raises(RedemptionKeysChanged):
        redemption_keys_consume(redemption=redemption, user=partner_agent)
    assert ProductKey.objects.get().state == "reserved"


def test_it_refuses_when_a_reservation_ran_out(partner_agent, northwind, make_keys, redeem):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False):
        redemption = redeem(partner_agent, northwind, *make_keys(2))
    with time_machine.travel("2026-11-26 10:00:00Z", tick=False):
        reservations_release_stale()
        with pytest.raises(RedemptionKeysChanged):
            redemption_keys_consume(redemption=redemption, user=partner_agent)
    assert not ProductKey.objects.filter(state="redeemed").exists()


def test_it_refuses_when_a_key_was_revoked(partner_agent, northwind, make_keys, redeem, staff):
    redemption = redeem(partner_agent, northwind, *make_keys(2))
    keys_revoke(key_ids=[ProductKey.objects.first().pk], actor=staff)
    with pytest.raises(RedemptionKeysChanged):
        redemption_keys_consume(redemption=redemption, user=partner_agent)
    assert ProductKey.objects.filter(state="reserved").count() == 1


def test_only_the_user_who_started_it_consumes_it(
    partner_agent, partner_admin, northwind, make_keys, redeem
):
    redemption = redeem(partner_agent, northwind, *make_keys(1))
    with pytest.raises(RedemptionClosed):
        redemption_keys_consume(redemption=redemption, user=partner_admin)
    assert ProductKey.objects.get().state == "reserved"


def test_a_completed_redemption_is_not_consumed_twice(partner_agent, northwind, make_keys, redeem):
    redemption = redeem(partner_agent, northwind, *make_keys(1))
    redemption_keys_consume(redemption=redemption, user=partner_agent)
    with pytest.raises(RedemptionClosed):
        redemption_keys_consume(redemption=redemption, user=partner_agent)
    assert AuditEvent.objects.filter(action="key.redeemed").count() == 1


def test_a_caller_that_fails_afterwards_leaves_the_keys_reserved(
    partner_agent, northwind, make_keys, redeem
):
    redemption = redeem(partner_agent, northwind, *make_keys(2))
    with pytest.raises(RuntimeError), transaction.atomic():
        redemption_keys_consume(redemption=redemption, user=partner_agent)
        raise RuntimeError("the tenant could not be written")
    assert set(ProductKey.objects.values_list("state", flat=True)) == {"reserved"}
    redemption.refresh_from_db()
    assert redemption.state == Redemption.State.DRAFT
