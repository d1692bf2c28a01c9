import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from keys.codec import format_key, generate_key
from portal.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
URL = "/partner/keys/check/"


def try_key(client, key, address="198.51.100.7"):
    return client.post(URL, {"key": format_key(key)}, REMOTE_ADDR=address)


def test_it_shows_what_a_usable_key_gives(client, partner_admin, make_keys):
    key = make_keys(1, sku="BUS-PREM", seats=5)[0]
    client.force_login(partner_admin)
    response = try_key(client, key)
    assert response.status_code == 200
    assert b"This product key can be redeemed." in response.content
    assert b"Business Premium" in response.content
    # The key stays only in the field it was typed in (so the page is no-store), nowhere else.
    assert response.content.count(format_key(key).encode()) == 1
    assert key.encode() not in response.content
    assert "no-store" in response["Cache-Control"]


def test_it_keeps_what_was_typed_after_a_typo(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post(URL, {"key": "bcdfg-hjkmp-qrtvw-xy234-6789k"})
    assert b"typing mistake" in response.content
    assert b'value="bcdfg-hjkmp-qrtvw-xy234-6789k"' in response.content


def test_it_refuses_the_eleventh_failed_try_with_429(client, partner_admin, products):
    client.force_login(partner_admin)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        for _ in range(10):
            response = try_key(client, generate_key())
            assert response.status_code == 200
            assert b"could not find this product key" in response.content
        response = try_key(client, generate_key())
    assert response.status_code == 429
    assert b"You can try again at 10:15 UTC" in response.content
    assert AuditEvent.objects.filter(action="key.guess_limit_reached").count() == 1


def test_typos_do_not_count(client, partner_admin, products):
    client.force_login(partner_admin)
    for _ in range(15):
        assert client.post(URL, {"key": "BCDFG-HJKMP-QRTVW-XY234-6789K"}).status_code == 200
    assert try_key(client, generate_key()).status_code == 200


def test_it_lets_the_user_try_again_after_the_window(client, partner_admin, products):
    client.force_login(partner_admin)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        for _ in range(10):
            try_key(client, generate_key())
        assert try_key(client, generate_key()).status_code == 429
    with time_machine.travel("2026-11-25 10:14:59Z", tick=False):
        assert try_key(client, generate_key()).status_code == 429
    with time_machine.travel("2026-11-25 10:15:01Z", tick=False):
        assert try_key(client, generate_key()).status_code == 200
        # A new window has opened with that failure: nine more are allowed, not zero.
        for _ in range(9):
            assert try_key(client, generate_key()).status_code == 200
        assert try_key(client, generate_key()).status_code == 429


def test_other_partners_keys_count_as_failed_tries(client, partner_admin, fabrikam, make_keys):
    theirs = make_keys(11, partner=fabrikam)
    client.force_login(partner_admin)
    for key in theirs[:10]:
        assert b"could not find this product key" in try_key(client, key).content
    assert try_key(client, theirs[10]).status_code == 429


@pytest.mark.redis
def test_the_address_limit_holds_across_users(
    partner_admin, partner_agent, other_partner_admin, other_partner_agent, products, settings
):
    settings.KEY_GUESS_LIMIT_PER_ADDRESS = 15
    clients = []
    for user in (partner_admin, partner_agent):
        c = Client()
        c.force_login(user)
        clients.append(c)
    for _ in range(8):
        for c in clients:
            try_key(c, generate_key(), address="203.0.113.5")
    # 16 failures from one address: a third user behind it is refused, elsewhere they are not.
    third = Client()
    third.force_login(other_partner_admin)
    assert try_key(third, generate_key(), address="203.0.113.5").status_code == 429
    assert try_key(third, generate_key(), address="203.0.113.99").status_code == 200


@pytest.mark.redis
@pytest.mark.postgres
def test_the_limit_is_shared_across_processes(transactional_db, partner_admin, products):
    """Another process (another web worker) records 10 failures in Redis; this one refuses."""
    script = f"""
import django
django.setup()
from portal.models import User
from keys.codec import generate_key
from keys.services import key_check
user = User.objects.get(pk={partner_admin.pk})
for _ in range(10):
    key_check(user=user, partner=user.partner_membership.partner, raw=generate_key(),
              client_address="192.0.2.1")
"""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    client = Client()
    client.force_login(partner_admin)
    assert try_key(client, generate_key(), address="192.0.2.200").status_code == 429
    assert AuditEvent.objects.filter(action="key.guess_limit_reached").count() == 1


def test_a_429_says_when_to_retry(client, partner_admin, products):
    client.force_login(partner_admin)
    with time_machine.travel("2026-11-25 10:00:00Z", tick=False):
        for _ in range(10):
            try_key(client, generate_key())
    with time_machine.travel("2026-11-25 10:05:00Z", tick=False):
        response = try_key(client, generate_key())
    assert response.status_code == 429
    assert response["Retry-After"] == "600"


def test_usable_keys_do_not_count_against_the_limit(client, partner_admin, make_keys):
    key = make_keys(1)[0]
    client.force_login(partner_admin)
    for _ in range(12):
        assert b"can be redeemed" in try_key(client, key).content
    for _ in range(10):
        assert try_key(client, generate_key()).status_code == 200
    assert try_key(client, generate_key()).status_code == 429


@pytest.mark.redis
@pytest.mark.postgres
def test_parallel_tries_cannot_run_more_look_ups_than_the_limit(
    transactional_db, partner_admin, northwind, products, monkeypatch
):
    """The try is counted before the look-up: 20 requests at once run at most 10 look-ups."""
    import threading

    from django.db import connection

    from keys.services import lookup as lookup_module

    looked_up = []
    real_lookup = lookup_module.key_lookup
    barrier = threading.Barrier(20)

    def counting_lookup(**kwargs):
        looked_up.append(1)
        return real_lookup(**kwargs)

    monkeypatch.setattr(lookup_module, "key_lookup", counting_lookup)
    results = []

    def one():
        try:
            barrier.wait()
            results.append(
                lookup_module.key_check(
                    user=partner_admin, partner=northwind, raw=generate_key(), client_address=None
                )
            )
        except lookup_module.KeyGuessLimitReached:
            results.append("blocked")
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(looked_up) == 10
    assert results.count("blocked") == 10


def test_the_limit_event_survives_when_it_trips_inside_a_pasted_list(
    client, partner_admin, products
):
    """The eleventh unknown key of a pasted list trips the limit: the page answers 429 and the
    audit event stays, although the reservation of the list is abandoned."""
    client.force_login(partner_admin)
    redemption = client.post("/partner/redeem/", {"understood": "on"})
    keys_url = redemption["Location"]
    pasted = "\n".join(format_key(generate_key()) for _ in range(12))
    response = client.post(
        keys_url,
        {
            "keys-TOTAL_FORMS": "1",
            "keys-INITIAL_FORMS": "0",
            "keys-MIN_NUM_FORMS": "1",
            "keys-MAX_NUM_FORMS": "50",
            "keys-0-key": pasted,
        },
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 429
    assert "Retry-After" in response
    event = AuditEvent.objects.get(action="key.guess_limit_reached")
    assert event.actor == partner_admin


@pytest.mark.postgres
def test_a_key_check_runs_the_same_queries_however_large_the_inventory(
    client, partner_admin, make_keys, django_assert_num_queries
):
    key = make_keys(1)[0]
    client.force_login(partner_admin)
    try_key(client, key)  # warm the session
    # The session, the person (with their membership: renewals.auth's get_user), the session's
    # verified device (django-otp) and the key's look-up by its digest. The guessing counters
    # are in Redis (one round trip: tests/portal/test_throttle.py).
    with django_assert_num_queries(4):
        assert b"can be redeemed" in try_key(client, key).content
    make_keys(200)
    with django_assert_num_queries(4):
        assert b"can be redeemed" in try_key(client, key).content
