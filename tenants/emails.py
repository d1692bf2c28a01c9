"""E-mails about tenants, queued in the transaction of the change that causes them."""

from django.conf import settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from post_office.models import Email

from portal.emails import email_queue
from portal.models import Partner, User
from tenants.models import Tenant, TenantUser
from tenants.selectors import partner_admin_recipients, tenant_admin_recipients, tenant_admins
from tenants.tokens import activation_token


def activation_url(account: TenantUser) -> str:
    user = account.user
    path = reverse(
        "tenants:activate",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": activation_token.make_token(user),
        },
    )
    return f"{settings.PORTAL_BASE_URL}{path}"


def activation_email_queue(*, account: TenantUser, added_by: TenantUser | None = None) -> Email:
    """A tenant user's activation link, in their language: the first admin's (the partner
    created the tenant), or a user's that an admin of the tenant added (`added_by`)."""
    tenant = account.tenant
    return email_queue(
        template="activation",
        to=[account.email],
        language=account.user.language,
        context={
            "account": account,
            "tenant": tenant,
            "partner": tenant.created_by_partner,
            "url": activation_url(account),
            "days": settings.ACTIVATION_LINK_DAYS,
            "added_by": added_by,
        },
    )


def tenant_created_email_queue(*, tenant: Tenant, user: User) -> Email:
    """The partner user's confirmation that the customer's account exists."""
    return email_queue(
        template="tenant_created",
        to=[user.email],
        language=user.language,
        context={
            "tenant": tenant,
            "user": user,
            "subscriptions": tenant.subscriptions.select_related("product"),
            "admin": tenant_admins(tenant).order_by("created_at", "pk").first(),
        },
    )


def keys_applied_email_queue(*, tenant: Tenant, intent: str, rows, user: User) -> list[Email]:
    """Product keys changed the customer's subscriptions: its admins and the partner user who
    applied them each get what changed, in their own language."""
    recipients = {user.email: user.language}
    for admin in tenant_admin_recipients(tenant):
        recipients.setdefault(admin.email, admin.language)
    return [
        email_queue(
            template="keys_applied",
            to=[address],
            language=language,
            context={
                "tenant": tenant,
                "renewed": intent == "renew",
                "rows": rows,
                "for_partner": address == user.email,
            },
        )
        for address, language in recipients.items()
    ]


def partner_of_record_email_queue(
    *, subscription, old: Partner | None, new: Partner | None, by: User
):
    """The partner of record changed: the old one's admins, the new one's and the tenant's
    admins each get an e-mail in their language, saying what it means for them."""
    tenant = subscription.tenant
    audiences = []
    if old is not None:
        audiences.append(("old", partner_admin_recipients(old)))
    if new is not None:
        audiences.append(("new", partner_admin_recipients(new)))
    audiences.append(("customer", tenant_admin_recipients(tenant)))
    emails = []
    for audience, recipients in audiences:
        for recipient in recipients:
            emails.append(
                email_queue(
                    template="partner_of_record",
                    to=[recipient.email],
                    language=recipient.language,
                    context={
                        "tenant": tenant,
                        "subscription": subscription,
                        "product": subscription.product,
                        "old": old,
                        "new": new,
                        "audience": audience,
                        "by": by,
                    },
                )
            )
    return emails
