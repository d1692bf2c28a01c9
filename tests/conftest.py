"""The test cast and the rules for tests that need real services.

Services come from portal.settings_test: PostgreSQL and Redis when they answer, else SQLite and
local memory. Tests marked `postgres`, `redis` or `browser` are skipped where their service is
missing, with the reason in the summary; under CI=true a missing service fails the run instead.
"""

import os
import shutil

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.test.client import ClientMixin

from portal.models import Partner, PartnerMembership, User
from tests.helpers import CHROMIUM, contoso_details
from tests.second_factor import session_verify

IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing() -> dict[str, str]:
    missing = {}
    for reason in settings.MISSING_SERVICES:
        if reason.startswith("PostgreSQL"):
            missing["postgres"] = reason
        elif reason.startswith("Redis"):
            missing["redis"] = reason
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing.setdefault("postgres", "DATABASE_URL is not a PostgreSQL database")
    if settings.CACHES["default"]["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        missing.setdefault("redis", "no Redis cache configured")
    if not shutil.which(CHROMIUM):
        missing["browser"] = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return missing


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    lines = [
        f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or db['NAME']}",
        f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}",
        f"broker: {settings.CELERY_BROKER_URL}",
    ]
    lines += [f"MISSING {name}: {reason}" for name, reason in _missing().items()]
    return lines


def pytest_collection_modifyitems(config, items):
    missing = _missing()
    if not missing:
        return
    if IN_CI:
        raise pytest.UsageError("CI=true but services are missing: " + "; ".join(missing.values()))
    for item in items:
        for name, reason in missing.items():
            if item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(reason=f"needs {name}: {reason}"))


_django_force_login = ClientMixin.force_login


def _force_login(self, user, backend=None, verified=True):
    """Django's force_login, then the second step with the person's authenticator app (see
    tests/second_factor.py). `verified=False`: signed in with the password only."""
    _django_force_login(self, user, backend)
    if verified:
        session_verify(self, user)


ClientMixin.force_login = _force_login


@pytest.fixture(autouse=True)
def _clean_cache():
    # Redis outlives a test: start each one with no guessing counters or cached state (nor any
    # of the layout's menus remembered by this process: settings.CACHES["fragments"]).
    cache.clear()
    caches["fragments"].clear()
    yield
    cache.clear()
    caches["fragments"].clear()


# The cast: two partners (Northwind enrolled, Fabrikam not), each role, and ops staff.


@pytest.fixture
def northwind(db):
    return Partner.objects.create(
        name="Northwind Partners",
        partner_id="1000001",
        cloud_program_enrolled=True,
        contact_email="contact@northwind.example",
    )


@pytest.fixture
def fabrikam(db):
    return Partner.objects.create(
        name="Fabrikam Resellers", partner_id="1000002", contact_email="contact@fabrikam.example"
    )


def _member(partner: Partner, email: str, role: str) -> User:
    user = User.objects.create_user(email, "portal-demo")
    PartnerMembership.objects.create(user=user, partner=partner, role=role)
    return user


@pytest.fixture
def partner_admin(northwind):
    return _member(northwind, "partner@northwind.example", PartnerMembership.Role.ADMIN)


@pytest.fixture
def partner_agent(northwind):
    return _member(northwind, "agent@northwind.example", PartnerMembership.Role.AGENT)


@pytest.fixture
def other_partner_admin(fabrikam):
    return _member(fabrikam, "admin@fabrikam.example", PartnerMembership.Role.ADMIN)


@pytest.fixture
def other_partner_agent(fabrikam):
    return _member(fabrikam, "agent@fabrikam.example", PartnerMembership.Role.AGENT)


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("ops@example.com", "portal-demo")


@pytest.fixture
def nobody(db):
    """Signed-in user with no role anywhere."""
    return User.objects.create_user("nobody@example.com", "portal-demo")


# Contoso, Northwind's customer, in France: Megan is its admin, Alex a user.


@pytest.fixture
def contoso(northwind):
    """Contoso as rows, with no subscription (a test adds the ones it needs), and Megan, its
    admin, who reads French and has activated her account. For Contoso as the portal creates it,
    from a key, see `make_contoso`."""
    from tenants.models import TenantUser
    from tests.factories import TenantFactory

    tenant = TenantFactory(
        name="Contoso", domain_prefix="contoso", created_by_partner=northwind,
        preferred_language="fr",
    )  # fmt: skip
    megan = User.objects.create_user("megan@contoso.example", "portal-demo", language="fr")
    TenantUser.objects.create(
        tenant=tenant, user=megan, first_name="Megan", last_name="Bowen", email=megan.email,
        is_admin=True,
    )  # fmt: skip
    return tenant


@pytest.fixture
def contoso_admin(contoso):
    """Megan's account."""
    return User.objects.get(email="megan@contoso.example")


@pytest.fixture
def alex(contoso):
    """Alex Wilber, Contoso's user who is not an admin, and has not activated his account yet."""
    from tenants.models import TenantUser

    user = User.objects.create_user("alex@contoso.example")
    return TenantUser.objects.create(
        tenant=contoso, user=user, first_name="Alex", last_name="Wilber", email=user.email
    )


@pytest.fixture
def products(db):
    from keys.models import Product

    return {
        sku: Product.objects.create(sku=sku, name=name, term_months=12)
        for sku, name in [
            ("BUS-BASIC", "Business Basic"),
            ("BUS-STD", "Business Standard"),
            ("BUS-PREM", "Business Premium"),
        ]
    }


@pytest.fixture
def make_keys(products):
    """make_keys(count, sku="BUS-STD", seats=1, partner=None) -> list of plain canonical keys."""
    from keys.services import batch_generate

    def make(count=1, sku="BUS-STD", seats=1, partner=None):
        _batch, keys = batch_generate(
            product=products[sku], count=count, seats_per_key=seats, partner=partner, actor=None
        )
        return keys

    return make


@pytest.fixture
def redeem(make_keys):
    """redeem(user, partner, *keys) -> a redemption holding the keys, confirmed."""
    from keys.services import redemption_keys_confirm, redemption_start

    def start(user, partner, *keys, confirm=True):
        redemption, errors = redemption_start(
            user=user, partner=partner, raw_keys=list(keys), client_address=None
        )
        assert errors == {}
        if confirm:
            redemption_keys_confirm(redemption=redemption, user=user)
        return redemption

    return start


@pytest.fixture
def tenant_details():
    from tenants.services import TenantDetails

    def details(**overrides):
        return TenantDetails(**contoso_details(**overrides))

    return details


@pytest.fixture
def make_contoso(partner_admin, northwind, make_keys, redeem, tenant_details, countries):
    """make_contoso(seats, megan_signs_in=False) -> Contoso as the portal creates a customer:
    Northwind's admin redeems one Business Standard key of `seats` and fills in step 2 in English.
    Megan is its admin, with one license; she has activated her account (password portal-demo)
    only if `megan_signs_in`. The same customer as `contoso`: a test takes one or the other."""
    from tenants.services import tenant_create

    def make(seats, megan_signs_in=False):
        redemption = redeem(partner_admin, northwind, *make_keys(1, seats=seats))
        tenant = tenant_create(
            redemption=redemption, user=partner_admin, details=tenant_details(language="en")
        )
        if megan_signs_in:
            megan = User.objects.get(email="megan@contoso.example")
            megan.set_password("portal-demo")
            megan.save()
        return tenant

    return make


@pytest.fixture
def countries(db):
    """Supported countries. The data migration adds them, but transactional tests flush tables,
    so tests that need them ask for them."""
    from tenants.models import SupportedCountry

    for code in ("BE", "DE", "FR", "GB", "US"):
        SupportedCountry.objects.get_or_create(country=code)


@pytest.fixture
def receiver():
    """A partner's webhook receiver on the loopback interface, checking every signature
    (tests/webhook_receiver.py); give it the endpoint's secrets in `receiver.secrets`."""
    from tests.webhook_receiver import receiving

    with receiving() as holder:
        yield holder
