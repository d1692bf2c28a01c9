"""E-mails about tenants. Thin tasks: load, check it is still needed, send. Safe to run twice."""

import smtplib

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from portal.emails import email_send
from portal.models import User
from tenants.models import Tenant, TenantUser
from tenants.tokens import activation_token

RETRY = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "max_retries": 20,
}


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


@shared_task(**RETRY)
def send_activation_email(tenant_user_id: int) -> None:
    account = (
        TenantUser.objects.select_related("tenant", "user", "tenant__created_by_partner")
        .filter(pk=tenant_user_id)
        .first()
    )
    if account is None or account.user is None or account.is_activated:
        return  # gone, or already activated: nothing to send
    email_send(
        template="activation",
        to=[account.email],
        language=account.user.language,
        context={
            "account": account,
            "tenant": account.tenant,
            "partner": account.tenant.created_by_partner,
            "url": activation_url(account),
            "days": settings.ACTIVATION_LINK_DAYS,
        },
    )


@shared_task(**RETRY)
def send_tenant_created_email(tenant_id: int, user_id: int) -> None:
    tenant = Tenant.objects.filter(pk=tenant_id).select_related("created_by_partner").first()
    user = User.objects.filter(pk=user_id).first()
    if tenant is None or user is None:
        return
    email_send(
        template="tenant_created",
        to=[user.email],
        language=user.language,
        context={
            "tenant": tenant,
            "user": user,
            "subscriptions": tenant.subscriptions.select_related("product"),
            "admin": tenant.users.filter(is_admin=True).first(),
        },
    )
