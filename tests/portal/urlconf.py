"""Helpers for tests that walk the whole URLconf as each kind of signed-in person."""

import re

from django.urls import URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

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


SAMPLE_ARGUMENTS = {"int": "1", "uuid": "00000000-0000-0000-0000-000000000001"}


def sample_paths(prefix: str) -> list[str]:
    """Every route under `prefix` ("partner/"), its arguments filled with sample values (1, "x").

    The pages answer 404 or a redirect for most of them; what a test checks is on every answer.
    """

    def walk(patterns, route: str):
        for pattern in patterns:
            assert isinstance(pattern.pattern, RoutePattern), pattern  # path(), not re_path()
            here = route + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, here)
            elif here.startswith(prefix):
                yield "/" + re.sub(
                    r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_ARGUMENTS.get(m[1], "x"), here
                )

    top = [p for p in get_resolver().url_patterns if not str(p.pattern).startswith("admin/")]
    return sorted(set(walk(top, "")))


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
