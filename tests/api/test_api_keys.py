"""The API keys page, the admin and `manage.py api_key`."""

import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.models import ApiKey, AuditEvent
from tests.helpers import api_client

CHECK = "/api/v1/keys/check/"
PAGE = "/partner/api-keys/"


def _create(client, **overrides):
    data = {"name": "Billing sync", "role": "agent", "scopes": ["keys:check"], "days": "30"}
    data.update(overrides)
    return client.post(PAGE, data)


def test_a_partner_admin_creates_a_key_shown_once_that_works(client, partner_admin):
    client.force_login(partner_admin)
    page = _create(client)
    assert page.status_code == 200
    raw = re.search(r"pkp_\w{36}", page.content.decode()).group(0)
    assert "no-store" in page["Cache-Control"]
    key = ApiKey.objects.get()
    assert (key.name, key.role, key.scopes) == ("Billing sync", "agent", ["keys:check"])
    assert AuditEvent.objects.filter(action="api_key.created", actor=partner_admin).exists()
    listing = client.get(PAGE).content.decode()
    assert key.shown in listing and raw not in listing
    assert api_client(raw).post(CHECK, {"keys": ["x"]}, format="json").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_from == "127.0.0.1"
    assert key.last_used_from in client.get(PAGE).content.decode()


def test_bad_input_keeps_what_was_typed(client, partner_admin):
    client.force_login(partner_admin)
    page = _create(client, scopes=[], days="400")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="Billing sync"' in body
    assert "Ensure this value is less than or equal to 366" in body
    assert "data-error-summary" in body
    assert ApiKey.objects.count() == 0


def test_an_agent_key_holds_no_admin_scope(client, partner_admin):
    client.force_login(partner_admin)
    page = _create(client, scopes=["delegation:write"])
    assert "may hold" in page.content.decode()
    assert ApiKey.objects.count() == 0
    _create(client, role="admin", scopes=["delegation:write"])
    assert ApiKey.objects.get().scopes == ["delegation:write"]


def test_agents_have_no_api_keys_page(client, partner_agent):
    client.force_login(partner_agent)
    assert client.get(PAGE).status_code == 403
    assert _create(client).status_code == 403


def test_creating_a_key_asks_for_a_fresh_second_factor(client, partner_admin, settings):
    client.force_login(partner_admin)
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.MFA_STEP_UP_MINUTES + 1)):
        response = _create(client)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/verify/")
    assert ApiKey.objects.count() == 0


def test_revoking_asks_then_refuses_the_key(client, partner_admin, fabrikam, other_partner_admin):
    client.force_login(partner_admin)
    raw = re.search(r"pkp_\w{36}", _create(client).content.decode()).group(0)
    key = ApiKey.objects.get()
    confirm = client.get(f"{PAGE}{key.pk}/revoke/")
    assert confirm.status_code == 200 and key.shown in confirm.content.decode()
    other = type(client)()
    other.force_login(other_partner_admin)
    assert other.post(f"{PAGE}{key.pk}/revoke/").status_code == 404
    assert client.post(f"{PAGE}{key.pk}/revoke/").status_code == 302
    key.refresh_from_db()
    assert key.is_revoked
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1
    response = api_client(raw).post(CHECK, {"keys": ["x"]}, format="json")
    assert response.status_code == 401


def test_the_command_prints_a_key_once(partner_admin, northwind):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_key", "create", "--partner", northwind.partner_id, "--name", "RMM",
        "--scopes", "keys:check,customers:read", "--days", "10", stdout=out, stderr=err,
    )  # fmt: skip
    raw = out.getvalue().strip()
    assert raw.startswith("pkp_") and "shown once" in err.getvalue()
    key = ApiKey.objects.get()
    assert key.created_by == partner_admin and key.role == "admin"
    assert key.scopes == ["customers:read", "keys:check"]
    assert api_client(raw).post(CHECK, {"keys": ["x"]}, format="json").status_code == 200
    listing = io.StringIO()
    call_command("api_key", "list", "--partner", northwind.partner_id, stdout=listing)
    assert key.shown in listing.getvalue() and raw not in listing.getvalue()
    with pytest.raises(CommandError):
        call_command("api_key", "create", "--partner", "9999999", "--name", "x", "--scopes", "a")


def test_ops_revoke_in_the_admin(client, staff, partner_admin):
    from tests.helpers import api_key

    raw = api_key(partner_admin, "keys:check")
    key = ApiKey.objects.get()
    client.force_login(staff)
    listing = client.get("/admin/portal/apikey/")
    assert key.shown in listing.content.decode() and raw not in listing.content.decode()
    client.post(
        "/admin/portal/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    key.refresh_from_db()
    assert key.is_revoked
