from django import template

from tenants.access import Permission
from tenants.access import tenant_url as _tenant_url

register = template.Library()


@register.simple_tag(takes_context=True)
def tenant_url(context, name, *args):
    """{% tenant_url 'user' person.pk %}: the link on the side the page is served on
    (the customer admin's own pages, or the partner's, acting for the customer)."""
    return _tenant_url(context["request"], name, *args)


@register.filter
def can(access, permission: str) -> bool:
    """{% if access|can:"users_manage" %}: what the tenant rule allows on this page."""
    return access is not None and access.can(Permission(permission))
