from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from keys.models import ProductKey
from portal.models import Partner, User
from tenants.models import Tenant


def test_it_seeds_the_demo_and_is_idempotent(db, tmp_path, monkeypatch, countries, settings):
    from tenants.management.commands import seed_demo

    settings.DEBUG = True  # as `make run` sets it
    monkeypatch.setattr(seed_demo, "DEMO_KEYS_FILE", tmp_path / "demo_keys.txt")
    call_command("seed_demo", stdout=StringIO())
    first = (
        set(Partner.objects.values_list("partner_id", "cloud_program_enrolled")),
        ProductKey.objects.count(),
        Tenant.objects.count(),
        User.objects.count(),
        (tmp_path / "demo_keys.txt").read_text(),
    )
    call_command("seed_demo", stdout=StringIO())
    again = (
        set(Partner.objects.values_list("partner_id", "cloud_program_enrolled")),
        ProductKey.objects.count(),
        Tenant.objects.count(),
        User.objects.count(),
        (tmp_path / "demo_keys.txt").read_text(),
    )
    assert first == again
    assert first[0] == {("1000001", True), ("1000002", False)}
    assert ProductKey.objects.count() == 32  # 10 per product, Contoso's and Adatum's own
    lines = first[4].splitlines()
    assert len(lines) == 30
    # The renewal demos: ends in 1, 7, 30 and 60 days, one expired, one disabled.
    from tenants.models import Subscription

    assert sorted(
        Subscription.objects.exclude(tenant__domain_prefix__in=["contoso", "adatum"]).values_list(
            "state", flat=True
        )
    ) == ["active"] * 4 + ["disabled", "expired"]
    contoso = Tenant.objects.get(domain_prefix="contoso")
    assert contoso.created_by_partner.partner_id == "1000001"
    subscription = contoso.subscriptions.get()
    assert subscription.product.sku == "BUS-STD"
    assert (subscription.seats, subscription.licenses.count()) == (2, 1)  # one seat left
    for email in (
        "partner@example.com",
        "agent@fabrikam.example",
        "ops@example.com",
        "admin@contoso.example",
    ):
        assert User.objects.get(email=email).check_password("portal-demo"), email
    assert User.objects.get(email="ops@example.com").is_staff
    # Delegated administration: a pending offer to Contoso, an active relationship with Adatum.
    from tenants.models import DelegationOffer, DelegationRelationship

    assert DelegationOffer.objects.get(tenant=contoso).state == "pending"
    (relationship,) = DelegationRelationship.objects.all()
    assert (relationship.tenant.domain_prefix, relationship.state) == ("adatum", "active")
    # The plain keys are in the file only: the database has digests.
    out = StringIO()
    monkeypatch.setattr(
        "tenants.management.commands.demo_keys.DEMO_KEYS_FILE", tmp_path / "demo_keys.txt"
    )
    call_command("demo_keys", "--available", stdout=out)
    assert len(out.getvalue().splitlines()) == 30  # Contoso used a key of its own


def test_it_refuses_to_run_with_debug_off(db, tmp_path, monkeypatch, settings):
    from tenants.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "DEMO_KEYS_FILE", tmp_path / "demo_keys.txt")
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on") as caught:
        call_command("seed_demo", stdout=StringIO())
    assert caught.value.returncode == 1
    assert not User.objects.exists()
    assert not (tmp_path / "demo_keys.txt").exists()
