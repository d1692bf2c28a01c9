"""Delegated administration's e-mails, queued in the transaction of the act that causes them:
the offer (to the tenant's admins, with its signed link), and the updates and end-of-term notices
both sides get. Recipients come from the one rule, `tenants.selectors`."""

import datetime

from django.conf import settings
from django.urls import reverse

from portal.emails import EmailBatch, Fields, email_queue, slot
from tenants.models import DelegationOffer, DelegationRelationship
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


def notice_email_add(
    emails: EmailBatch,
    relationship: DelegationRelationship,
    recipient: Recipient,
    *,
    today: datetime.date,
) -> None:
    """An end-of-term notice (the sweep's batch; `emails` is "delegation_update"): its words
    depend on the side, the end date, the roles and auto-extension (the shape); the names are
    filled in per e-mail. The same e-mail as update_email_queue(event="notice") writes."""
    days_left = (relationship.ends_on - today).days
    roles = relationship.role_choices

    def context() -> dict:
        return {
            "relationship": Fields(
                ends_on=relationship.ends_on, auto_extend=relationship.auto_extend
            ),
            "partner": Fields(name=slot("partner_name"), partner_id=slot("partner_id")),
            "tenant": Fields(name=slot("tenant_name")),
            "roles": roles,
            "days_left": days_left,
            "event": "notice",
            "side": recipient.side,
        }

    emails.add(
        to=recipient.email,
        language=recipient.language,
        shape=(recipient.side, relationship.ends_on, days_left, relationship.auto_extend, *roles),
        context=context,
        fill={
            "partner_name": relationship.partner.name,
            "partner_id": relationship.partner.partner_id,
            "tenant_name": relationship.tenant.name,
        },
    )
