"""One identity per e-mail address: the long s, the Kelvin sign, full-width letters and capitals
are the same person everywhere (design, "E-mail")."""

import threading
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from portal.identity import NormalizedEmailField, email_normalize, normalization_problems
from portal.models import AuditEvent, Partner, User
from tests.helpers import contoso_details

LONG_S = "\u017f"  # NFKC and casefold make it "s"; PostgreSQL's UPPER() makes it "S"
KELVIN = "\u212a"  # NFKC makes it "K"
DOTLESS_I = "\u0131"  # no ASCII form, whatever is done to it


# The one form of an address.


@pytest.fixture
def english():
    # A page requested in French by an earlier test leaves French active in this thread.
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("  Tess@Example.COM ", "tess@example.com"),
        ("\uff34\uff45\uff53\uff53@example.com", "tess@example.com"),  # full-width letters
        (f"te{LONG_S}s@example.com", "tess@example.com"),
        (f"{KELVIN}ate@example.com", "kate@example.com"),
        ("anna@STRASSE.example", "anna@strasse.example"),
        ("anna@stra\u00dfe.example", "anna@strasse.example"),  # ß casefolds to ss
        ("megan@B\u00fccher.example", "megan@b\u00fccher.example"),
    ],
)
def test_it_normalizes_an_address(typed, normalized):
    assert email_normalize(typed) == normalized
    assert NormalizedEmailField().clean(typed) == normalized


@given(st.text())
def test_it_normalizes_to_a_form_that_stays_the_same(value):
    assert email_normalize(email_normalize(value)) == email_normalize(value)


@pytest.mark.parametrize(
    "typed", [f"t{DOTLESS_I}ss@example.com", "TESS\u0130@example.com", "ren\u00e9@example.com"]
)
def test_it_refuses_letters_with_no_ascii_form_before_the_at(typed, english):
    with pytest.raises(Exception, match="Before the @, use only unaccented Latin letters"):
        NormalizedEmailField().clean(typed)


def test_it_measures_the_length_of_the_normalized_address(english):
    field = NormalizedEmailField(max_length=20)
    assert field.clean("a@stra\u00dfe.example") == "a@strasse.example"  # 17 characters
    with pytest.raises(Exception, match="at most 20 characters"):
        field.clean("annab@stra\u00dfe.example")  # 20 typed, 21 stored


def test_it_names_the_tenant_where_two_users_would_share_an_address():
    rows = [("tenant 7", "Megan@contoso.example"), ("tenant 7", "megan@contoso.example")]
    rows += [("tenant 8", "megan@contoso.example")]
    assert normalization_problems(rows, unique=True) == [
        "tenant 7: “Megan@contoso.example” and “megan@contoso.example” would both become "
        "“megan@contoso.example”"
    ]
    assert normalization_problems(rows, unique=False) == []


# Signing in.


def sign_in(client, email, password="portal-demo", address="198.51.100.3"):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=address
    )


@pytest.fixture
def tess(db):
    return User.objects.create_user("tess@example.com", "portal-demo")


def test_it_counts_failures_for_a_look_alike_on_the_same_account(client, tess):
    for _ in range(10):
        assert sign_in(client, "tess@example.com", password="wrong").status_code == 200
    # Another client address: only the account's counter can refuse this one.
    blocked = sign_in(client, f"te{LONG_S}s@example.com", address="203.0.113.9")
    assert blocked.status_code == 429
    event = AuditEvent.objects.get(action="signin.limit_reached", details__counter="account")
    assert event.details["account"] == "tess@example.com"


def test_it_counts_failures_of_look_alikes_together(client, tess):
    for n in range(10):
        typed = "tess@example.com" if n % 2 else f"TE{LONG_S}S@example.com"
        sign_in(client, typed, password="wrong", address=f"198.51.100.{n + 10}")
    assert sign_in(client, "tess@example.com", address="203.0.113.9").status_code == 429


def test_it_signs_in_with_any_case_when_not_locked(client, tess):
    assert sign_in(client, "TESS@Example.COM")["Location"] == "/"
    client.logout()
    assert sign_in(client, f"  te{LONG_S}s@example.com ").status_code == 302


def test_it_says_what_is_wrong_with_an_address_no_account_can_have(client, tess):
    response = sign_in(client, f"t{DOTLESS_I}ss@example.com")
    assert response.status_code == 200
    assert "Before the @, use only unaccented Latin letters" in response.content.decode()


def test_it_finds_the_account_by_its_normalized_address_only(tess):
    assert User.objects.get_by_natural_key(f"TE{LONG_S}S@example.com") == tess
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key(f"t{DOTLESS_I}ss@example.com")


# Storing addresses.


def test_it_refuses_a_second_account_for_a_look_alike(db):
    User.objects.create_user("sam0@example.com")
    with pytest.raises(IntegrityError):
        User.objects.create_user(f"{LONG_S}am0@example.com")


def test_it_stores_the_normalized_form_whichever_way_a_row_is_written(tess, northwind):
    user = User(email=f"{KELVIN}ate@Example.com")
    user.save()
    assert user.email == "kate@example.com"
    User.objects.filter(pk=tess.pk).update(email="TESS@Example.com")
    assert User.objects.filter(email="tess@example.com").exists()
    assert User.objects.filter(email=f"TE{LONG_S}S@example.com").get() == tess
    northwind.contact_email = "Contact@Northwind.example"
    northwind.save()
    assert Partner.objects.get(contact_email="contact@northwind.example") == northwind


def test_model_validation_and_createsuperuser_see_the_stored_form(tess, monkeypatch, english):
    with pytest.raises(ValidationError) as refused:
        User(email=f"TE{LONG_S}S@example.com").full_clean(exclude=["password"])
    assert refused.value.messages == ["User with this E-mail address already exists."]
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-new-Passphrase-77")
    call_command("createsuperuser", "--noinput", email=f"Op{LONG_S}@Example.com", stdout=StringIO())
    assert User.objects.get(is_superuser=True).email == "ops@example.com"


def test_the_database_refuses_an_address_that_skipped_normalizing(tess):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE portal_user SET email = %s", ["Tess@example.com"])
    with pytest.raises(IntegrityError), transaction.atomic():
        # A dotless i stays one when normalized: the database refuses it, even from update().
        User.objects.filter(pk=tess.pk).update(email=f"t{DOTLESS_I}ss@example.com")


def test_the_admin_stores_the_normalized_form_and_refuses_a_look_alike(client, staff, tess):
    client.force_login(staff)
    form = {
        "email": f"{LONG_S}am@Example.com",
        "language": "en",
        "usable_password": "true",
        "password1": "a-new-Passphrase-77",
        "password2": "a-new-Passphrase-77",
    }
    assert client.post("/admin/portal/user/add/", form).status_code == 302
    assert User.objects.filter(email="sam@example.com").exists()
    again = client.post("/admin/portal/user/add/", {**form, "email": "SAM@example.com"})
    assert again.context["adminform"].form.errors["email"] == [
        "User with this E-mail address already exists."
    ]


# Step 2: the customer admin's address.


def test_it_says_the_look_alike_is_taken_at_step_2(
    client, partner_admin, northwind, redeem, make_keys, countries
):
    User.objects.create_user("sam0@contoso.example")
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    client.force_login(partner_admin)
    response = client.post(
        f"/partner/redeem/{redemption.pk}/customer/",
        contoso_details(
            admin_first_name="Sam",
            admin_last_name="Zero",
            admin_email=f"{LONG_S}am0@contoso.example",
            language="en",
        ),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["admin_email"] == [
        "An account already uses this e-mail address. Enter another address."
    ]


@pytest.mark.postgres
def test_it_creates_one_account_when_look_alikes_race_at_step_2(
    transactional_db, client, partner_admin, northwind, redeem, make_keys, countries, tenant_details
):
    from tenants.models import Tenant
    from tenants.services import TenantCreateError, tenant_admin_activate, tenant_create

    runs = [
        (redeem(partner_admin, northwind, *make_keys(1)), "sam0@contoso.example", "contoso"),
        (redeem(partner_admin, northwind, *make_keys(1)), f"{LONG_S}am0@contoso.example", "sam0"),
    ]
    barrier = threading.Barrier(len(runs))
    created, refused, failures = [], [], []

    def race(redemption, email, prefix):
        details = tenant_details(admin_email=email, domain_prefix=prefix)
        try:
            barrier.wait(timeout=30)
            created.append(
                tenant_create(redemption=redemption, user=partner_admin, details=details)
            )
        except TenantCreateError as error:
            refused.append(error)
        except Exception as error:  # anything else fails the test
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=run) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(created) == 1 and Tenant.objects.count() == 1
    assert [error.field for error in refused] == ["admin_email"]
    admin = Tenant.objects.get().users.get()
    assert admin.email == admin.user.email == "sam0@contoso.example"
    tenant_admin_activate(user=admin.user, password="a-new-Passphrase-77")
    for typed in ("sam0@contoso.example", f"{LONG_S}am0@contoso.example", "SAM0@contoso.example"):
        assert sign_in(client, typed, password="a-new-Passphrase-77").status_code == 302
        client.logout()


# The data migrations for the rows stored before.

BEFORE = [("portal", "0002_audit_actor_label"), ("tenants", "0002_default_supported_countries")]


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets).apps if targets else None


def test_it_normalizes_the_addresses_stored_before(transactional_db):
    old = _migrate(BEFORE)
    try:
        user = old.get_model("portal", "User").objects.create(email=f"Te{LONG_S}s@Example.COM")
        partner = old.get_model("portal", "Partner").objects.create(
            name="Northwind", partner_id="1000001", contact_email="Contact@Northwind.example"
        )
        tenant = old.get_model("tenants", "Tenant").objects.create(
            name="Contoso", domain_prefix="contoso", country="FR", created_by_partner=partner
        )
        tenant_user = old.get_model("tenants", "TenantUser").objects.create(
            tenant=tenant, user=user, first_name="T", last_name="S", email=user.email
        )
    finally:
        _migrate()
    assert User.objects.get(pk=user.pk).email == "tess@example.com"
    assert Partner.objects.get(pk=partner.pk).contact_email == "contact@northwind.example"
    from tenants.models import TenantUser

    assert TenantUser.objects.get(pk=tenant_user.pk).email == "tess@example.com"


def test_the_migration_stops_and_names_accounts_that_would_share_an_address(transactional_db):
    old = _migrate(BEFORE)
    users = old.get_model("portal", "User").objects
    try:
        users.create(email="sam0@example.com")
        users.create(email=f"{LONG_S}am0@example.com")
        users.create(email=f"t{DOTLESS_I}ss@example.com")
        with pytest.raises(RuntimeError) as stopped:
            _migrate()
        assert str(stopped.value).splitlines()[1:] == [
            f"  user “sam0@example.com” and “{LONG_S}am0@example.com” would both become "
            "“sam0@example.com”",
            f"  user “t{DOTLESS_I}ss@example.com” has no usable normalized form",
        ]
        assert set(users.values_list("email", flat=True)) == {
            "sam0@example.com",
            f"{LONG_S}am0@example.com",
            f"t{DOTLESS_I}ss@example.com",
        }
    finally:
        users.all().delete()
        _migrate()
