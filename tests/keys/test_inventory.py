import pytest
from django.utils import timezone

from keys.codec import format_key, generate_key
from keys.models import KeyBatch, ProductKey
from keys.services import (
    KeyImportError,
    LookupStatus,
    batch_generate,
    batch_import,
    key_digest,
    key_lookup,
    keys_revoke,
    redemption_keys_confirm,
    redemption_keys_consume,
    redemption_start,
)
from portal.models import AuditEvent
from tests.helpers import stored_digests


def test_it_generates_a_batch_and_returns_the_plain_keys_once(products, staff):
    batch, keys = batch_generate(
        product=products["BUS-STD"], count=20, seats_per_key=3, actor=staff
    )
    assert len(set(keys)) == 20
    assert batch.key_count == 20
    stored = ProductKey.objects.filter(batch=batch)
    assert stored.count() == 20
    assert stored_digests(stored) == {key_digest(k) for k in keys}
    assert {k.last5 for k in stored} == {k[-5:] for k in keys}
    assert set(stored.values_list("state", flat=True)) == {"available"}
    event = AuditEvent.objects.get(action="key_batch.generated")
    assert event.actor == staff
    assert event.details["count"] == 20


def test_it_shows_a_stored_key_by_its_last_five_characters_only(make_keys):
    key = make_keys(1)[0]
    stored = ProductKey.objects.get(digest=key_digest(key))
    assert stored.masked == f"•••••-•••••-•••••-•••••-{key[-5:]}"
    assert key[:20] not in str(stored)


def test_the_digest_depends_on_the_pepper(settings):
    key = generate_key()
    first = key_digest(key)
    settings.KEY_PEPPER = "another pepper"
    assert key_digest(key) != first


def test_it_imports_a_file_all_at_once(products, staff):
    keys = [generate_key() for _ in range(5)]
    data = ("key\r\n" + "\r\n".join(format_key(k) for k in keys) + "\r\n").encode()
    batch = batch_import(data=data, product=products["BUS-PREM"], seats_per_key=2, actor=staff)
    assert batch.key_count == 5
    assert batch.source == KeyBatch.Source.IMPORTED
    assert ProductKey.objects.filter(batch=batch).count() == 5
    assert AuditEvent.objects.filter(action="key_batch.imported").count() == 1


def test_it_imports_nothing_when_one_line_is_bad(products, staff):
    keys = [generate_key() for _ in range(3)]
    data = "\n".join([format_key(keys[0]), "BCDFG-OOOOO", format_key(keys[1])]).encode()
    with pytest.raises(KeyImportError) as caught:
        batch_import(data=data, product=products["BUS-STD"], actor=staff)
    assert [(b.number, b.reason) for b in caught.value.bad_lines] == [
        (2, "Character 'O' (position 6) is never used in product keys.")
    ]
    assert ProductKey.objects.count() == 0
    assert KeyBatch.objects.count() == 0


@pytest.mark.postgres
def test_it_finds_known_keys_in_a_long_file_by_their_line(products, make_keys):
    """Past 5,000 keys the check against the inventory joins a temporary table (one COPY)."""
    known = make_keys(2)
    keys = [generate_key() for _ in range(6000)]
    keys[10], keys[5999] = known
    data = "\n".join(keys).encode()
    with pytest.raises(KeyImportError) as caught:
        batch_import(data=data, product=products["BUS-STD"], actor=None)
    assert [(b.number, b.reason) for b in caught.value.bad_lines] == [
        (11, "This key is already in the inventory."),
        (6000, "This key is already in the inventory."),
    ]
    keys[10], keys[5999] = generate_key(), generate_key()
    batch = batch_import(data="\n".join(keys).encode(), product=products["BUS-STD"], actor=None)
    assert batch.key_count == 6000


def test_it_looks_up_a_usable_key(make_keys, northwind):
    key = make_keys(1, seats=5)[0]
    lookup = key_lookup(partner=northwind, raw=format_key(key).lower())
    assert lookup.status is LookupStatus.USABLE
    assert lookup.key.batch.seats_per_key == 5


def test_it_says_unknown_for_a_well_formed_key_not_in_the_inventory(products, northwind):
    lookup = key_lookup(partner=northwind, raw=generate_key())
    assert lookup.status is LookupStatus.UNKNOWN
    assert lookup.status.counts_as_guess


def test_a_key_owned_by_another_partner_looks_unknown(make_keys, northwind, fabrikam):
    key = make_keys(1, partner=fabrikam)[0]
    lookup = key_lookup(partner=northwind, raw=key)
    assert lookup.status is LookupStatus.OTHER_PARTNER
    assert lookup.message == key_lookup(partner=northwind, raw=generate_key()).message
    assert key_lookup(partner=fabrikam, raw=key).status is LookupStatus.USABLE


def test_an_unowned_key_is_usable_by_any_partner(make_keys, northwind, fabrikam):
    key = make_keys(1)[0]
    assert key_lookup(partner=northwind, raw=key).status is LookupStatus.USABLE
    assert key_lookup(partner=fabrikam, raw=key).status is LookupStatus.USABLE


def reserve(user, partner, *keys):
    redemption, errors = redemption_start(
        user=user, partner=partner, raw_keys=list(keys), client_address=None
    )
    assert errors == {}
    return redemption


def redeem(user, partner, *keys):
    redemption = reserve(user, partner, *keys)
    redemption_keys_confirm(redemption=redemption, user=user)
    redemption_keys_consume(redemption=redemption, user=user)


def test_it_says_revoked_and_already_used(make_keys, northwind, staff, partner_agent):
    revoked, redeemed = make_keys(2)
    keys_revoke(key_ids=[ProductKey.objects.get(digest=key_digest(revoked)).pk], actor=staff)
    redeem(partner_agent, northwind, redeemed)
    assert key_lookup(partner=northwind, raw=revoked).status is LookupStatus.REVOKED
    assert key_lookup(partner=northwind, raw=redeemed).status is LookupStatus.ALREADY_USED
    assert "already been used" in key_lookup(partner=northwind, raw=redeemed).message


def test_a_key_reserved_by_another_partner_looks_unknown_and_by_a_colleague_is_used(
    make_keys, northwind, fabrikam, partner_agent, other_partner_admin
):
    theirs, colleagues = make_keys(2)
    reserve(other_partner_admin, fabrikam, theirs)
    reserve(partner_agent, northwind, colleagues)
    assert key_lookup(partner=northwind, raw=theirs).status is LookupStatus.RESERVED_ELSEWHERE
    assert key_lookup(partner=northwind, raw=colleagues).status is LookupStatus.ALREADY_USED


def test_it_revokes_available_and_reserved_keys_but_not_redeemed_ones(
    make_keys, staff, northwind, partner_agent
):
    keys = make_keys(3)
    rows = [ProductKey.objects.get(digest=key_digest(k)) for k in keys]
    redemption = reserve(partner_agent, northwind, keys[1])
    redeem(partner_agent, northwind, keys[2])
    assert keys_revoke(key_ids=[r.pk for r in rows], actor=staff, reason="lost card") == 2
    states = dict(ProductKey.objects.values_list("pk", "state"))
    assert [states[r.pk] for r in rows] == ["revoked", "revoked", "redeemed"]
    events = AuditEvent.objects.filter(action="key.revoked")
    assert events.count() == 2
    assert {e.details["previous_state"] for e in events} == {"available", "reserved"}
    # The redemption that held the revoked key no longer counts it.
    assert redemption.lines.get().released_at is not None


def test_the_database_refuses_an_unknown_state(make_keys):
    from django.db import IntegrityError, transaction

    make_keys(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductKey.objects.update(state="lost")


def test_the_database_refuses_a_reservation_without_deadline(make_keys):
    from django.db import IntegrityError, transaction

    make_keys(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductKey.objects.update(state="reserved", reserved_until=None)


def test_the_database_refuses_a_reserved_key_without_a_redemption(make_keys):
    from django.db import IntegrityError, transaction

    make_keys(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductKey.objects.update(state="reserved", reserved_until=timezone.now())


def test_the_audit_log_cannot_be_changed(make_keys):
    make_keys(1)
    event = AuditEvent.objects.get()
    event.action = "something else"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(action="x")
