"""Every API endpoint, for every kind of key: what it gets.

The test walks the URLconf: each `api:` endpoint and each method its view serves. The objects in
the URLs are Northwind's: its customer Contoso (which it created and administers under a
global-administrator relationship), Contoso's subscription and user, Northwind's offer and
relationship, its webhook endpoint and a delivered test event. Fabrikam is the other partner.
Every request is rolled back, so no request changes what the next one meets.

Kinds of key: none, malformed (its checksum wrong), revoked, expired, Fabrikam's (every scope),
Northwind's without the endpoint's scope (every other scope), Northwind's with only that scope.
"""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import resolve
from django.utils import timezone

from portal.api.scopes import SCOPES
from portal.models import ApiKey, WebhookDelivery
from portal.webhooks.services import webhook_endpoint_create, webhook_endpoint_test
from tests.factories import (
    DelegationOfferFactory,
    DelegationRelationshipFactory,
    SubscriptionFactory,
)
from tests.helpers import api_client, api_key, url_patterns

OPEN = {"api:schema", "api:docs"}

# With the scope, an empty body: what each endpoint answers (default: GET 200, POST 400,
# PATCH 400, DELETE 200 or 204). Fabrikam's key gets 404 for Northwind's objects, and the
# default for the collections (its own list; an empty body is 400).
WITH_SCOPE = {
    ("api:customer_user", "PATCH"): {200},  # nothing sent, nothing changed
    ("api:customer_user_activation", "POST"): {202},  # Alex has not activated: sent again
    ("api:customer_user_license", "DELETE"): {404},  # Alex holds no license of it
    # The pending offer and the active relationship need no body: withdrawn, sent again, ended.
    ("api:offer_withdraw", "POST"): {200},
    ("api:offer_resend", "POST"): {200},
    ("api:relationship_terminate", "POST"): {200},
    # Northwind's webhook endpoint: nothing sent, nothing changed; a new secret; enabled (it
    # was), disabled; a test event and the delivered delivery sent again are accepted.
    ("api:webhook_endpoint", "PATCH"): {200},
    ("api:webhook_endpoint_rotate_secret", "POST"): {200},
    ("api:webhook_endpoint_enable", "POST"): {200},
    ("api:webhook_endpoint_disable", "POST"): {200},
    ("api:webhook_endpoint_test", "POST"): {202},
    ("api:webhook_delivery_resend", "POST"): {202},
}
# What Fabrikam's key gets where it is not the collection's default.
ANOTHER_PARTNERS = {
    # Fabrikam is not enrolled in the cloud program: told so before its body is read, as the
    # page tells it before its form.
    ("api:offers", "POST"): {403},
}


def endpoints():
    """(name, method, path pattern, scope) for every method of every API view."""
    found = []
    for name, pattern in url_patterns():
        if not name.startswith("api:") or name in OPEN:
            continue
        view = resolve("/" + re.sub(r"<(?:\w+:)?(\w+)>", "1", pattern)).func.view_class
        for method, scope in sorted(view.scopes.items()):
            if hasattr(view, method.lower()):
                found.append((name, method, pattern, scope))
    return found


ENDPOINTS = endpoints()


@pytest.fixture
def world(northwind, fabrikam, partner_admin, other_partner_admin, contoso, alex):
    subscription = SubscriptionFactory(tenant=contoso, partner_of_record=northwind)
    relationship = DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, roles=["global_admin"]
    )
    offer = DelegationOfferFactory(partner=northwind, tenant=contoso, created_by=partner_admin)
    endpoint, _secret = webhook_endpoint_create(
        membership=partner_admin.partner_membership,
        url="http://127.0.0.1:9/hooks",  # never called: every request is rolled back
        event_types=["customer.created"],
    )
    delivery = webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.DELIVERED)
    every = list(SCOPES)
    keys = {"fabrikam": api_key(other_partner_admin, *every, role="admin")}
    keys["revoked"] = api_key(partner_admin, *every, role="admin", name="revoked")
    ApiKey.objects.filter(name="revoked").update(revoked_at=timezone.now())
    keys["expired"] = api_key(partner_admin, *every, role="admin", name="expired")
    ApiKey.objects.filter(name="expired").update(expires_at=timezone.now() - timedelta(days=1))
    keys["per_scope"] = {
        scope: api_key(partner_admin, scope, role="admin", name=scope) for scope in every
    }
    keys["but"] = {
        scope: api_key(partner_admin, *[s for s in every if s != scope], role="admin")
        for scope in every
    }
    return {
        "keys": keys,
        "contoso": contoso,
        "subscription": subscription,
        "user": alex,
        "offer": offer,
        "relationship": relationship,
        "webhook_endpoint": endpoint,
        "webhook_delivery": delivery,
    }


def _path(name: str, pattern: str, world) -> str:
    def value(match):
        param = match.group(1)
        if param == "pk":
            if name.startswith("api:subscription"):
                return str(world["subscription"].pk)
            if name.startswith("api:offer"):
                return str(world["offer"].pk)
            if name.startswith("api:relationship"):
                return str(world["relationship"].pk)
            return str(world["contoso"].pk)
        return str(
            {
                "user_id": world["user"].pk,
                "subscription_id": world["subscription"].pk,
                "offer_id": world["offer"].pk,
                "relationship_id": world["relationship"].pk,
                "endpoint_id": world["webhook_endpoint"].pk,
                "delivery_id": world["webhook_delivery"].pk,
            }[param]
        )

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, pattern)


def _typo(raw: str) -> str:
    """The key with its last character changed: its checksum no longer matches."""
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


def _send(raw, method: str, path: str) -> int:
    client = api_client(raw)
    with transaction.atomic():
        response = getattr(client, method.lower())(path, {}, format="json")
        transaction.set_rollback(True)
    return response.status_code


def _with_scope(name: str, method: str) -> set[int]:
    if (name, method) in WITH_SCOPE:
        return set(WITH_SCOPE[name, method])
    return {"GET": {200}, "POST": {400}, "PATCH": {400}, "DELETE": {200, 204}}[method]


@pytest.mark.parametrize(
    ("name", "method", "pattern", "scope"),
    ENDPOINTS,
    ids=[f"{method} {name}" for name, method, _pattern, _scope in ENDPOINTS],
)
def test_each_kind_of_key_gets_what_it_should(world, name, method, pattern, scope):
    path = _path(name, pattern, world)
    keys = world["keys"]
    got = {
        "no key": _send(None, method, path),
        "malformed": _send(_typo(keys["fabrikam"]), method, path),
        "revoked": _send(keys["revoked"], method, path),
        "expired": _send(keys["expired"], method, path),
        "without the scope": _send(keys["but"][scope], method, path),
        "another partner's": _send(keys["fabrikam"], method, path),
        "with the scope": _send(keys["per_scope"][scope], method, path),
    }
    own_objects = "<" in pattern
    expected = {
        "no key": {401},
        "malformed": {401},
        "revoked": {401},
        "expired": {401},
        "without the scope": {403},
        "another partner's": {404}
        if own_objects
        else ANOTHER_PARTNERS.get((name, method), _with_scope(name, method)),
        "with the scope": _with_scope(name, method),
    }
    wrong = {kind: status for kind, status in got.items() if status not in expected[kind]}
    assert wrong == {}, f"{method} {path}"


def test_every_scope_is_needed_somewhere():
    needed = {scope for _name, _method, _pattern, scope in ENDPOINTS}
    assert set(SCOPES) == needed
