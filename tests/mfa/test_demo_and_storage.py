"""The demo's second factors (var/demo_mfa.txt, `manage.py demo_codes`), and what a thief with a
database dump gets: no authenticator-app secret, no recovery code."""

import base64
import os
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client

from mfa import demo
from mfa.crypto import secret_decrypt, secret_encrypt
from mfa.models import AuthenticatorApp
from mfa.services import recovery_codes_generate
from portal.env import env_fernet_keys
from tests.helpers import dump_database
from tests.second_factor import app_of


@pytest.fixture
def demo_file(tmp_path, monkeypatch, settings):
    settings.DEBUG = True  # as `make run` sets it
    path = tmp_path / "demo_mfa.txt"
    monkeypatch.setattr(demo, "DEMO_MFA_FILE", path)
    return path


def test_seed_demo_enrols_the_demo_accounts_and_writes_their_secrets(
    db, demo_file, tmp_path, monkeypatch, countries
):
    from tenants.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "DEMO_KEYS_FILE", tmp_path / "demo_keys.txt")
    call_command("seed_demo", stdout=StringIO())
    lines = demo_file.read_text().splitlines()
    emails = [line.split()[0] for line in lines]
    assert sorted(emails) == sorted(seed_demo.DEMO_ACCOUNTS)
    assert oct(demo_file.stat().st_mode & 0o777) == "0o600"
    for line in lines:
        email, secret = line.split()
        device = AuthenticatorApp.objects.get(user__email=email, confirmed=True)
        assert device.secret_base32 == secret
    call_command("seed_demo", stdout=StringIO())  # idempotent: the same secrets
    assert demo_file.read_text().splitlines() == lines


def test_demo_codes_prints_codes_that_sign_in(db, demo_file, partner_admin):
    demo.demo_enrol([partner_admin])
    out = StringIO()
    call_command("demo_codes", stdout=out)
    email, code = out.getvalue().splitlines()[0].split()
    assert email == partner_admin.email
    client = Client()
    client.post("/accounts/login/", {"username": email, "password": "portal-demo"})
    assert client.post("/accounts/verify/", {"method": "app", "code": code}).status_code == 302
    assert client.get("/partner/").status_code == 200


def test_no_demo_secret_outside_debug(db, tmp_path, monkeypatch, settings, partner_admin):
    settings.DEBUG = False
    monkeypatch.setattr(demo, "DEMO_MFA_FILE", tmp_path / "demo_mfa.txt")
    with pytest.raises(ImproperlyConfigured):
        demo.demo_enrol([partner_admin])
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_codes", stdout=StringIO())
    assert not (tmp_path / "demo_mfa.txt").exists()


@pytest.mark.postgres
def test_a_dump_of_the_database_holds_no_secret_and_no_recovery_code(
    transactional_db, partner_admin
):
    device = app_of(partner_admin)
    codes = recovery_codes_generate(user=partner_admin, actor=partner_admin)
    dump = dump_database()
    assert "portal_user" in dump and "mfa_authenticatorapp" in dump  # it is the right database
    secret = device.secret
    for form in (
        device.secret_base32,
        device.secret_base32.lower(),
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
    ):
        assert form not in dump
    for code in codes:
        assert code not in dump and code.replace("-", "") not in dump


def test_secrets_encrypted_under_an_old_key_still_work_and_move_to_the_new_one(
    settings, partner_admin
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MFA_SECRET_KEYS = [old]
    token = secret_encrypt(b"twenty bytes secret!")
    settings.MFA_SECRET_KEYS = [new, old]
    assert secret_decrypt(token) == b"twenty bytes secret!"
    device = AuthenticatorApp(user=partner_admin, name="x", encrypted_secret=token, confirmed=True)
    device.save()  # saving re-encrypts under the first key
    settings.MFA_SECRET_KEYS = [new]
    assert AuthenticatorApp.objects.get(pk=device.pk).secret == b"twenty bytes secret!"


def test_the_secret_key_setting_is_strict(monkeypatch):
    monkeypatch.setenv("MFA_TEST_KEYS", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="MFA_TEST_KEYS"):
        env_fernet_keys("MFA_TEST_KEYS", None)
    monkeypatch.delenv("MFA_TEST_KEYS")
    with pytest.raises(ImproperlyConfigured, match="required"):
        env_fernet_keys("MFA_TEST_KEYS", None)
    good = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("MFA_TEST_KEYS", f"{good},{good}")
    assert env_fernet_keys("MFA_TEST_KEYS", None) == [good, good]
