"""Delegated administration's e-mails, queued in the transaction of the act that causes them:
the offer (to the tenant's admins, with its signed link), and the updates and end-of-term notices
both sides get. Recipients come from the one rule, `tenants.selectors`."""

from django.conf import settings
from django.urls import reverse

from portal.emails import email_queue
from tenants.models import DelegationOffer
from tenants.selectors import Recipient, both_sides, tenant_admin_recipients
from tenants.tokens import offer_token


def offer_url(offer: DelegationOffer) -> str:
    """The link in the offer's e-mail: signed, for the tenant's admins."""
    path = reverse("tenants:offer_link", kwargs={"token": offer_token(offer)})
    return f"{settings.PORTAL_BASE_URL}{path}"


def offer_email_queue(offer: DelegationOffer) -> int:
    """The offer, to each of the tenant's admins in their language. Returns how many."""
    recipients = tenant_admin_recipients(offer.tenant)
    for recipient in recipients:
        email_queue(
            template="delegation_offer",
            to=[recipient.email],
            language=recipient.language,
            context={
                "offer": offer,
                "partner": offer.partner,
                "tenant": offer.tenant,
                "roles": offer.role_choices,
                "url": offer_url(offer),
            },
        )
    return len(recipients)


def update_email_queue(recipient: Recipient, *, event: str, context: dict) -> None:
    email_queue(
        template="delegation_update",
        to=[recipient.email],
        language=recipient.language,
        context={**context, "event": event, "side": recipient.side},
    )


def update_emails_queue(offer: DelegationOffer, event: str, **context) -> None:
    """An offer answered, or its relationship ended: both sides are told."""
    relationship = context.get("relationship")
    for recipient in both_sides(tenant=offer.tenant, partner=offer.partner):
        update_email_queue(
            recipient,
            event=event,
            context={
                "offer": offer,
                "partner": offer.partner,
                "tenant": offer.tenant,
                "roles": (relationship or offer).role_choices,
                **context,
            },
        )
