"""Helpers for tests that walk the whole URLconf as each kind of signed-in person."""

from django.urls import URLResolver, get_resolver

from portal.models import Partner, User


def argless_paths() -> list[str]:
    """Every URL of the portal that takes no argument, as a path ("/partner/customers/")."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            if pattern.pattern.regex.groups:
                continue  # needs an argument (an id, a token): nothing to request blindly
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield "/" + route

    return sorted(set(walk(get_resolver().url_patterns, "")))


def make_customer_admin(partner: Partner, email: str = "megan@contoso.example") -> User:
    """An activated customer admin of a tenant the partner created."""
    from tenants.models import TenantUser
    from tests.factories import TenantFactory

    tenant = TenantFactory(name="Contoso", domain_prefix="contoso", created_by_partner=partner)
    user = User.objects.create_user(email, "portal-demo")
    TenantUser.objects.create(
        tenant=tenant, user=user, first_name="Megan", last_name="Bowen", email=email, is_admin=True
    )
    return user
