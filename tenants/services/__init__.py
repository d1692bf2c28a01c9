"""Every write to tenants, one module per noun: `tenants` (creating a customer's tenant, its
admin's activation), `subscriptions` (product keys applied to an existing customer), `users`
(the customer's users and their licenses), `partners_of_record`."""

from tenants.services.partners_of_record import (
    PartnerLookupError,
    partner_lookup,
    partner_of_record_set,
)
from tenants.services.subscriptions import (
    KeysApplyError,
    PreviewRow,
    keys_apply,
    keys_apply_preview,
)
from tenants.services.tenants import (
    LEGAL_SUFFIXES,
    RESERVED_PREFIXES,
    TenantCreateError,
    TenantDetails,
    activation_renew,
    activation_resend,
    admin_email_problem,
    domain_prefix_problem,
    organization_name_problem,
    partner_email_domains,
    subscription_end,
    supported_country_codes,
    tenant_admin_activate,
    tenant_create,
)
from tenants.services.users import (
    LicenseError,
    TenantUserError,
    UserDetails,
    license_assign,
    license_unassign,
    tenant_user_add,
    tenant_user_edit,
    tenant_user_remove,
    user_email_problem,
    username_problem,
)

__all__ = [
    "LEGAL_SUFFIXES",
    "RESERVED_PREFIXES",
    "KeysApplyError",
    "LicenseError",
    "PartnerLookupError",
    "PreviewRow",
    "TenantCreateError",
    "TenantDetails",
    "TenantUserError",
    "UserDetails",
    "activation_renew",
    "activation_resend",
    "admin_email_problem",
    "domain_prefix_problem",
    "keys_apply",
    "keys_apply_preview",
    "license_assign",
    "license_unassign",
    "organization_name_problem",
    "partner_email_domains",
    "partner_lookup",
    "partner_of_record_set",
    "subscription_end",
    "supported_country_codes",
    "tenant_admin_activate",
    "tenant_create",
    "tenant_user_add",
    "tenant_user_edit",
    "tenant_user_remove",
    "user_email_problem",
    "username_problem",
]
