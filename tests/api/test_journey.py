"""A partner's whole journey through the API alone, against PostgreSQL and Redis: a key made by
`manage.py api_key create`, a key check, a customer created from keys, licenses added after a dry
run, a renewal, an offer sent, the activity read. Then the secrets: neither the API key nor a
product key is anywhere in clear — not in the logs, not in a dump of the database, not in Redis."""

import io
import logging
import re
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from post_office.models import Email

from portal.models import ApiKey, AuditEvent
from tenants.models import ActivityLog, Subscription, Tenant
from tests.helpers import api_client, contoso_details, dump_database

pytestmark = pytest.mark.postgres


def _redis_text() -> str:
    """Every key and string value of the portal's Redis database, as a thief would read it."""
    client = cache._cache.get_client(None)
    found = []
    for key in client.scan_iter("*"):
        found.append(key.decode(errors="replace"))
        if client.type(key) == b"string":
            found.append((client.get(key) or b"").decode(errors="replace"))
    return "\n".join(found)


def _create_key(partner) -> str:
    out = io.StringIO()
    call_command(
        "api_key", "create", "--partner", partner.partner_id, "--name", "PSA sync",
        "--scopes", ",".join(JOURNEY_SCOPES),
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return out.getvalue().strip()


def _post(client, path: str, body: dict, status: int) -> dict:
    response = client.post(
        path, body, format="json", headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == status, response.json()
    return response.json()


def _journey(client, keys: list[str]) -> int:
    """Returns the customer's ID."""
    checked = _post(client, "/api/v1/keys/check/", {"keys": keys[:1]}, 200)
    assert checked[0]["usable"] and checked[0]["seats"] == 5
    customer = _post(
        client, "/api/v1/customers/", {"keys": keys[:1], **contoso_details(language="en")}, 201
    )
    pk = customer["id"]
    assert customer["subscriptions"][0]["seats"] == 5
    preview = _post(
        client, f"/api/v1/customers/{pk}/add-licenses/", {"keys": keys[1:2], "dry_run": True}, 200
    )
    row = preview["products"][0]
    assert (row["before"]["seats"], row["after"]["seats"]) == (5, 10)
    assert Subscription.objects.get(tenant_id=pk).seats == 5  # the dry run changed nothing
    _post(client, f"/api/v1/customers/{pk}/add-licenses/", {"keys": keys[1:2]}, 200)
    assert Subscription.objects.get(tenant_id=pk).seats == 10
    before = Subscription.objects.get(tenant_id=pk).end_date
    renewed = _post(client, f"/api/v1/customers/{pk}/renew/", {"keys": keys[2:4]}, 200)
    assert renewed["applied"]
    assert Subscription.objects.get(tenant_id=pk).end_date > before
    offer = _post(
        client,
        "/api/v1/offers/",
        {"customer": pk, "roles": ["user_admin"], "duration_days": 90, "auto_extend": False},
        201,
    )
    assert offer["state"] == "pending"
    return pk


JOURNEY_SCOPES = [
    "customers:read", "customers:write", "keys:check", "subscriptions:read",
    "subscriptions:write", "delegation:read", "delegation:write", "activity:read",
]  # fmt: skip


def _create_key_on_the_page(partner_admin) -> str:
    page = Client()
    page.force_login(partner_admin)
    created = page.post(
        "/partner/api-keys/",
        {"name": "PSA sync", "role": "admin", "scopes": JOURNEY_SCOPES, "days": "30"},
    )
    return re.search(r"pkp_\w{36}", created.content.decode()).group(0)


@pytest.mark.parametrize("made_by", ["command", "page"])
def test_the_whole_partner_journey_through_the_api(
    transactional_db, northwind, partner_admin, make_keys, countries, caplog, made_by
):
    caplog.set_level(logging.DEBUG)
    raw = _create_key(northwind) if made_by == "command" else _create_key_on_the_page(partner_admin)
    keys = make_keys(4, seats=5, partner=northwind)
    client = api_client(raw)
    pk = _journey(client, keys)

    tenant = Tenant.objects.get(pk=pk)
    assert tenant.created_by_partner == northwind
    # The same e-mails as the browser flow: activation, the partner's confirmation, the keys
    # applied, the offer.
    assert Email.objects.filter(to__icontains="megan@contoso.example").count() >= 3
    # Every write is an audit event naming the key (and, as actor, the admin who created it).
    key = ApiKey.objects.get()
    written = AuditEvent.objects.filter(action__in=["tenant.created", "subscription.renewed"])
    assert written.count() == 2
    assert {(event.api_key_id, event.actor_id) for event in written} == {(key.pk, partner_admin.pk)}
    activity = client.get("/api/v1/activity/")
    assert activity.status_code == 200
    assert client.get("/api/v1/offers/").json()["results"][0]["customer"]["id"] == pk
    assert not ActivityLog.objects.exclude(via_api=True).exists()

    # The secrets: nowhere in clear.
    dump = dump_database()
    assert key.digest in dump  # it is the right database, with the journey's rows
    logs = "\n".join(record.getMessage() for record in caplog.records)
    redis = _redis_text()
    assert "keyguess" in redis  # the guessing counters are there
    for secret in [raw, raw[4:], *keys, *[k.replace("-", "") for k in keys]]:
        assert secret not in dump
        assert secret not in logs
        assert secret not in redis
