"""What an API key may do: its scopes, each checked per endpoint (`ScopedView.scopes`)."""

from django.utils.translation import gettext_lazy as _

SCOPES = {
    "customers:read": _("Read customers: their organization, subscriptions and admins"),
    "customers:write": _("Create customers from product keys"),
    "keys:check": _("Check product keys"),
    "subscriptions:read": _("Read subscriptions and renewals"),
    "subscriptions:write": _("Add licenses, renew, switch to direct billing"),
    "delegation:read": _("Read delegated-admin offers and relationships"),
    "delegation:write": _("Send, withdraw and resend offers; terminate relationships"),
    "users:read": _("Read a customer's users and licenses (under a relationship)"),
    "users:write": _("Manage a customer's users and licenses (under a relationship)"),
    "activity:read": _("Read the activity log"),
    "webhooks:manage": _("Manage webhooks"),
}

# Acts that the pages leave to partner admins. A key holds them only if it acts as an admin;
# the services check the role again (a key acting as an agent cannot switch billing or send
# offers, whatever its scopes).
ADMIN_SCOPES = frozenset({"delegation:write", "webhooks:manage"})


def scope_choices() -> list[tuple[str, str]]:
    return [(scope, f"{scope} — {label}") for scope, label in SCOPES.items()]
