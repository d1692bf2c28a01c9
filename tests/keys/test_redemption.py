import threading

import pytest
import time_machine
from django.db import connection

from keys.codec import format_key, generate_key
from keys.models import ProductKey, Redemption, RedemptionLine
from keys.services import (
    RedemptionClosed,
    key_digest,
    redemption_cancel,
    redemption_key_remove,
    redemption_keys_add,
    redemption_keys_confirm,
    redemption_lines,
    redemption_refresh,
    reservations_release_stale,
)
from keys.services.lookup import character_hint
from portal.models import AuditEvent


def draft(user, partner):
    """A draft holding no key (as after its keys were removed): the keys services add to it."""
    return Redemption.objects.create(partner=partner, created_by=user)


def add(redemption, user, *keys, submission=None, address="198.51.100.1"):
    return redemption_keys_add(
        redemption=redemption,
        user=user,
        raw_keys=list(keys),
        client_address=address,
        submission=submission,
    )


def state_of(key):
    return ProductKey.objects.get(digest=key_digest(key)).state


def test_it_reserves_the_keys_for_24_hours(partner_admin, northwind, make_keys):
    keys = make_keys(2)
    redemption = draft(partner_admin, northwind)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        assert add(redemption, partner_admin, *keys) == {}
    held = ProductKey.objects.filter(redemption=redemption)
    assert [k.state for k in held] == ["reserved", "reserved"]
    assert {k.reserved_until.isoformat() for k in held} == {"2026-11-26T10:00:00+00:00"}
    assert {line.product_key for line in redemption_lines(redemption)} == set(held)
    assert AuditEvent.objects.filter(action="key.reserved").count() == 2


def test_it_reports_each_bad_line_and_reserves_nothing(partner_admin, northwind, make_keys):
    good, other = make_keys(2)
    redemption = draft(partner_admin, northwind)
    errors = add(
        redemption,
        partner_admin,
        good,
        "BCDFG-HJKMO",
        format_key(good).lower(),
        generate_key(),
        other,
    )
    assert errors == {
        1: "Character 'O' (position 10) is never used in product keys. " + character_hint(),
        2: "You have already entered this product key.",
        3: "We could not find this product key. Please check it against the card.",
    }
    assert state_of(good) == "available"
    assert state_of(other) == "available"


def test_it_says_already_entered_for_a_key_already_in_the_redemption(
    partner_admin, northwind, make_keys
):
    key = make_keys(1)[0]
    redemption = draft(partner_admin, northwind)
    assert add(redemption, partner_admin, key) == {}
    assert add(redemption, partner_admin, key) == {0: "You have already entered this product key."}


def test_a_key_in_a_colleagues_redemption_is_already_used(
    partner_admin, partner_agent, northwind, make_keys
):
    key = make_keys(1)[0]
    add(draft(partner_agent, northwind), partner_agent, key)
    mine = draft(partner_admin, northwind)
    assert add(mine, partner_admin, key) == {0: "This product key has already been used."}


def test_another_partners_key_looks_unknown(partner_admin, northwind, fabrikam, make_keys):
    key = make_keys(1, partner=fabrikam)[0]
    redemption = draft(partner_admin, northwind)
    assert add(redemption, partner_admin, key) == {
        0: "We could not find this product key. Please check it against the card."
    }


def test_a_double_submitted_form_reserves_once(partner_admin, northwind, make_keys):
    import uuid

    key = make_keys(1)[0]
    redemption = draft(partner_admin, northwind)
    submission = uuid.uuid4()
    assert add(redemption, partner_admin, key, submission=submission) == {}
    assert add(redemption, partner_admin, key, submission=submission) == {}
    assert RedemptionLine.objects.filter(redemption=redemption).count() == 1
    assert AuditEvent.objects.filter(action="key.reserved").count() == 1


def test_removing_a_key_makes_it_available_again(partner_admin, northwind, make_keys):
    key = make_keys(1)[0]
    redemption = draft(partner_admin, northwind)
    add(redemption, partner_admin, key)
    line = redemption.lines.get()
    assert redemption_key_remove(redemption=redemption, user=partner_admin, line_id=line.pk)
    assert state_of(key) == "available"
    assert not redemption.lines.exists()


def test_cancelling_releases_every_key(partner_admin, northwind, make_keys):
    keys = make_keys(3)
    redemption = draft(partner_admin, northwind)
    add(redemption, partner_admin, *keys)
    redemption_cancel(redemption=redemption, user=partner_admin)
    assert {state_of(k) for k in keys} == {"available"}
    redemption.refresh_from_db()
    assert redemption.state == Redemption.State.CANCELLED
    with pytest.raises(RedemptionClosed):
        add(redemption, partner_admin, keys[0])


def test_confirming_needs_at_least_one_key(partner_admin, northwind):
    redemption = draft(partner_admin, northwind)
    with pytest.raises(ValueError, match="at least one"):
        redemption_keys_confirm(redemption=redemption, user=partner_admin)


def test_the_sweep_releases_stale_reservations_only(partner_admin, northwind, make_keys):
    old, fresh = make_keys(2)
    redemption = draft(partner_admin, northwind)
    with time_machine.travel("2026-11-24 09:00:00Z", tick=False):
        add(redemption, partner_admin, old)
    with time_machine.travel("2026-11-25 08:00:00Z", tick=False):
        add(redemption, partner_admin, fresh)
    with time_machine.travel("2026-11-25 09:00:01Z", tick=False):
        assert reservations_release_stale() == 1
        assert reservations_release_stale() == 0  # re-running changes nothing
    assert state_of(old) == "available"
    assert state_of(fresh) == "reserved"
    line = redemption.lines.get(product_key__digest=key_digest(old))
    assert line.released_at is not None
    event = AuditEvent.objects.get(action="key.reservation_released")
    assert event.actor is None and event.actor_label == "system"


def test_resuming_takes_back_free_keys_and_says_so(partner_admin, northwind, make_keys, staff):
    free, taken = make_keys(2)
    redemption = draft(partner_admin, northwind)
    with time_machine.travel("2026-11-20 09:00:00Z", tick=False):
        add(redemption, partner_admin, free, taken)
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False):
        reservations_release_stale()
        from keys.services import keys_revoke

        keys_revoke(key_ids=[ProductKey.objects.get(digest=key_digest(taken)).pk], actor=staff)
        notices = redemption_refresh(redemption=redemption, user=partner_admin)
    assert len(notices) == 2
    assert free[-5:] in notices[0] and "reserved for you again" in notices[0]
    assert taken[-5:] in notices[1] and "removed" in notices[1]
    assert state_of(free) == "reserved"
    assert redemption_lines(redemption).count() == 1


def test_the_release_command_replays_a_day(partner_admin, northwind, make_keys):
    from io import StringIO

    from django.core.management import call_command

    key = make_keys(1)[0]
    redemption = draft(partner_admin, northwind)
    with time_machine.travel("2026-11-20 09:00:00Z", tick=False):
        add(redemption, partner_admin, key)
    out = StringIO()
    call_command("release_stale_reservations", "--date", "2026-11-21", stdout=out)
    assert state_of(key) == "reserved"  # 00:00 on the 21st is before 09:00
    call_command("release_stale_reservations", "--date", "2026-11-22", stdout=out)
    assert state_of(key) == "available"


@pytest.mark.postgres
def test_fifty_threads_redeeming_one_key_give_one_success(transactional_db, northwind, make_keys):
    from portal.models import PartnerMembership, User

    key = make_keys(1)[0]
    users = []
    for n in range(50):
        user = User.objects.create_user(f"racer{n}@northwind.example", "x")
        PartnerMembership.objects.create(user=user, partner=northwind, role="agent")
        users.append(user)
    drafts = [draft(u, northwind) for u in users]
    barrier = threading.Barrier(50)
    outcomes, failures = [], []

    def race(user, redemption):
        try:
            barrier.wait(timeout=30)
            # Each from its own address: 50 look-ups in flight at once from one address would
            # hold 50 tries of its guessing limit (30) until they are given back.
            outcomes.append(add(redemption, user, key, address=f"198.51.100.{user.pk % 250}"))
        except Exception as error:  # any exception is a failure of the test
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=pair) for pair in zip(users, drafts, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sum(1 for o in outcomes if o == {}) == 1
    assert (
        sorted(o.get(0, "") for o in outcomes if o)
        == ["This product key has already been used."] * 49
    )
    assert ProductKey.objects.get(digest=key_digest(key)).state == "reserved"
    assert RedemptionLine.objects.filter(product_key__digest=key_digest(key)).count() == 1


def test_a_key_in_another_of_my_redemptions_says_where_it_is(partner_admin, northwind, make_keys):
    key = make_keys(1)[0]
    add(draft(partner_admin, northwind), partner_admin, key)
    second = draft(partner_admin, northwind)
    assert "another of your redemptions in progress" in add(second, partner_admin, key)[0]


def test_changing_the_keys_after_review_asks_for_a_new_review(partner_admin, northwind, make_keys):
    first, second = make_keys(2)
    redemption = draft(partner_admin, northwind)
    add(redemption, partner_admin, first)
    redemption_keys_confirm(redemption=redemption, user=partner_admin)
    add(redemption, partner_admin, second)
    redemption.refresh_from_db()
    assert redemption.keys_confirmed_at is None
    redemption_keys_confirm(redemption=redemption, user=partner_admin)
    redemption_key_remove(
        redemption=redemption, user=partner_admin, line_id=redemption.lines.first().pk
    )
    redemption.refresh_from_db()
    assert redemption.keys_confirmed_at is None
