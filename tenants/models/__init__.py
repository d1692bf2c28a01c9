"""The tenants app's models, one module per noun; every name is importable from here."""

from tenants.models.delegation import (
    AUTO_EXTEND_DAYS,
    MAX_DURATION_DAYS,
    NOTICE_THRESHOLDS,
    OFFER_LIFETIME_DAYS,
    RESEND_INTERVAL,
    ROLE_DESCRIPTIONS,
    ActivityLog,
    DelegatedRole,
    DelegationNotice,
    DelegationOffer,
    DelegationRelationship,
    roles_sorted,
)
from tenants.models.imports import UserImport
from tenants.models.subscriptions import License, RedemptionTarget, Subscription, SubscriptionKey
from tenants.models.tenants import DOMAIN_PREFIX_PATTERN, SupportedCountry, Tenant
from tenants.models.users import USERNAME_PATTERN, TenantUser, username_from_email

__all__ = [
    "AUTO_EXTEND_DAYS",
    "DOMAIN_PREFIX_PATTERN",
    "MAX_DURATION_DAYS",
    "NOTICE_THRESHOLDS",
    "OFFER_LIFETIME_DAYS",
    "RESEND_INTERVAL",
    "ROLE_DESCRIPTIONS",
    "USERNAME_PATTERN",
    "ActivityLog",
    "DelegatedRole",
    "DelegationNotice",
    "DelegationOffer",
    "DelegationRelationship",
    "License",
    "RedemptionTarget",
    "Subscription",
    "SubscriptionKey",
    "SupportedCountry",
    "Tenant",
    "TenantUser",
    "UserImport",
    "roles_sorted",
    "username_from_email",
]
