"""Tenant users' user names (name@<tenant domain>): derived from the contact e-mail for rows
written before they existed, unique within a tenant."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tenants.models import username_from_email

BEFORE = [("tenants", "0004_redemption_target")]


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets).apps if targets else None


@pytest.mark.parametrize(
    ("email", "username"),
    [
        ("megan@contoso.example", "megan"),
        ("Megan.Bowen+News@contoso.example", "megan.bowen-news"),
        ("a..b@contoso.example", "a.b"),
        ("_@contoso.example", "user"),
        ("-x-@contoso.example", "x"),
        (f"{'a' * 70}@contoso.example", "a" * 64),
    ],
)
def test_it_derives_a_user_name_from_an_address(email, username):
    assert username_from_email(email) == username


def test_the_migration_gives_existing_users_unique_user_names(transactional_db):
    old = _migrate(BEFORE)
    try:
        partner = old.get_model("portal", "Partner").objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
        )
        tenants = [
            old.get_model("tenants", "Tenant").objects.create(
                name=name, domain_prefix=name.lower(), country="FR", created_by_partner=partner
            )
            for name in ("Contoso", "Tailspin")
        ]
        users = old.get_model("tenants", "TenantUser").objects
        rows = [
            users.create(tenant=tenant, first_name="M", last_name="B", email=email)
            for tenant, email in [
                (tenants[0], "megan@contoso.example"),
                (tenants[0], "megan@other.example"),
                (tenants[0], "megan@third.example"),
                (tenants[1], "megan@tailspin.example"),
            ]
        ]
    finally:
        _migrate()
    from tenants.models import TenantUser

    assert [TenantUser.objects.get(pk=row.pk).username for row in rows] == [
        "megan",
        "megan-2",
        "megan-3",
        "megan",
    ]


def test_the_database_refuses_a_second_user_name_in_a_tenant(db, northwind):
    from tenants.models import Tenant, TenantUser

    tenant = Tenant.objects.create(
        name="Contoso", domain_prefix="contoso", country="FR", created_by_partner=northwind
    )
    TenantUser.objects.create(tenant=tenant, first_name="M", last_name="B", email="m@a.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantUser.objects.create(
            tenant=tenant, first_name="M", last_name="B", email="m@b.example", username="m"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantUser.objects.create(
            tenant=tenant, first_name="M", last_name="B", email="x@b.example", username="Bad_Name"
        )
