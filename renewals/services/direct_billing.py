"""Direct billing (design §5): instead of a key, a subscription switches to being billed by the
vendor. A new subscription starts today, the prepaid one ends, and the pages show the prepaid
days given up."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.emails import email_queue
from renewals.services.notices import subscription_path
from tenants import webhooks
from tenants.access import TenantAccess, direct_billing_allowed
from tenants.audit import act_record
from tenants.lifecycle import direct_billing_open
from tenants.models import License, Subscription
from tenants.selectors import Recipient, recipients
from tenants.services.tenants import subscription_end


class DirectBillingError(Exception):
    """Nothing changed: the message says why."""


def direct_billing_old_end(subscription: Subscription, today: date) -> date:
    """The prepaid subscription's new last day: today (the day of the switch is its last,
    already paid), or its first day when it starts later (an end never precedes a start); an
    already ended one keeps its end date."""
    return min(subscription.end_date, max(today, subscription.start_date))


def prepaid_days_lost(subscription: Subscription, today: date) -> int:
    """Prepaid days given up by switching today: the days after today up to the end date — the
    "days left" every page shows (0 on the last day and after it)."""
    return max((subscription.end_date - today).days, 0)


def direct_billing_new_end(subscription: Subscription, today: date) -> date:
    """The last day of the first term of the directly billed subscription a switch today starts
    (the product's term from today)."""
    return subscription_end(today, subscription.product.term_months)


@dataclass(frozen=True)
class DirectBillingPreview:
    """What switching today would do, as the confirmation shows it (nothing is changed)."""

    open: bool  # the subscription may still switch (direct_billing_open)
    ended: bool  # its end date has already passed
    end_date: date  # the prepaid subscription's end date as it is
    prepaid_end_date: date  # its last day after the switch (direct_billing_old_end)
    prepaid_days_lost: int
    start_date: date  # the directly billed subscription's first day: today
    new_end_date: date  # the last day of its first term


def direct_billing_preview(subscription: Subscription, today: date) -> DirectBillingPreview:
    return DirectBillingPreview(
        open=direct_billing_open(subscription, today),
        ended=subscription.end_date < today,
        end_date=subscription.end_date,
        prepaid_end_date=direct_billing_old_end(subscription, today),
        prepaid_days_lost=prepaid_days_lost(subscription, today),
        start_date=today,
        new_end_date=direct_billing_new_end(subscription, today),
    )


def direct_billing_check(access: TenantAccess, subscription: Subscription, today: date) -> None:
    """Raises DirectBillingError when this person may not switch this subscription today: the
    switch's own check (under its lock), which a dry run asks too."""
    if not direct_billing_allowed(access, subscription):
        raise DirectBillingError(_("You cannot switch this subscription to direct billing."))
    if not direct_billing_open(subscription, today):
        raise DirectBillingError(_("This subscription cannot switch to direct billing any more."))


def direct_billing_switch(
    *, access: TenantAccess, subscription: Subscription, today: date | None = None
) -> Subscription:
    """ "Switch to direct billing": a new subscription of the same product and seats starts today
    for the product's term, billed directly (no partner of record, no notice, no lifecycle: it
    renews on its own); the prepaid one ends today (or keeps its past end date) and is marked.
    A disabled one may switch: the new subscription makes the tenant usable again. Its licenses
    move to the new one. Audit and e-mails in the same transaction. Raises DirectBillingError
    when the subscription cannot switch."""
    today = today or timezone.localdate()
    with transaction.atomic():
        old = _switch_lock(access, subscription, today)
        lost = prepaid_days_lost(old, today)
        old_end = old.end_date
        to = _switch_recipients(access, old)
        _prepaid_end(old, today)
        new = _direct_start(old, today)
        _switch_record(access, old, new, old_end=old_end, lost=lost)
        webhooks.direct_billing(old, new, lost, today)
        for recipient in to:
            _switch_email(recipient, old, new, old_end=old_end, lost=lost, today=today)
    return new


def _switch_lock(access: TenantAccess, subscription: Subscription, today: date) -> Subscription:
    """The subscription, locked, re-checked under the lock: two clicks switch once."""
    locked = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("tenant", "product", "partner_of_record")
        .filter(pk=subscription.pk, tenant=access.tenant)
        .first()
    )
    if locked is None:
        raise DirectBillingError(_("You cannot switch this subscription to direct billing."))
    direct_billing_check(access, locked, today)
    return locked


def _switch_recipients(access: TenantAccess, subscription: Subscription) -> list[Recipient]:
    """The notice recipients, and the person who switched if they are not among them."""
    to = recipients(tenant=subscription.tenant, partner=subscription.partner_of_record)
    if access.user.email not in {recipient.email for recipient in to}:
        to.append(
            Recipient(
                email=access.user.email,
                language=access.user.language,
                user=access.user,
                for_partner=access.membership is not None,
            )
        )
    return to


def _prepaid_end(subscription: Subscription, today: date) -> None:
    subscription.end_date = direct_billing_old_end(subscription, today)
    subscription.ended_by_direct_billing = True
    # Ended on purpose: no renewal notice, no lifecycle e-mail about it.
    subscription.renewal_notice_on = None
    subscription.save(update_fields=["end_date", "ended_by_direct_billing", "renewal_notice_on"])


def _direct_start(old: Subscription, today: date) -> Subscription:
    """The directly billed subscription that replaces `old`, with its licenses."""
    new = Subscription.objects.create(
        tenant=old.tenant,
        product=old.product,
        seats=old.seats,
        start_date=today,
        end_date=direct_billing_new_end(old, today),
        created_by_partner=None,
        partner_of_record=None,
        billed_directly=True,
        renewal_notice_on=None,
    )
    License.objects.filter(subscription=old).update(subscription=new)
    return new


def _switch_record(
    access: TenantAccess, old: Subscription, new: Subscription, *, old_end: date, lost: int
) -> None:
    act_record(
        access,
        action="subscription.direct_billing",
        target=old,
        details={
            "prepaid_end_date": old_end.isoformat(),
            "end_date": old.end_date.isoformat(),
            "prepaid_days_lost": lost,
            "new_subscription": new.pk,
            "new_end_date": new.end_date.isoformat(),
        },
        activity_details={"prepaid_days_lost": lost, "new_end_date": new.end_date.isoformat()},
    )


def _switch_email(
    recipient: Recipient,
    old: Subscription,
    new: Subscription,
    *,
    old_end: date,
    lost: int,
    today: date,
) -> None:
    email_queue(
        template="direct_billing",
        to=[recipient.email],
        language=recipient.language,
        context={
            "tenant": old.tenant,
            "product": old.product,
            "old_end_date": old_end,
            "ended_on": old.end_date,
            "start_date": today,
            "end_date": new.end_date,
            "days_lost": lost,
            "for_partner": recipient.for_partner,
            "path": subscription_path(new, recipient),
        },
    )
