"""Product keys for an existing customer: add licenses, or renew (design §3, "Existing tenant").

A partner redeems keys from a customer's page (a RedemptionTarget names the tenant and the
intent), sees each subscription before and after, and confirms with "Apply product keys". The
keys service consumes the keys; this module writes the subscriptions, in the same transaction.

A renewal whose keys are for fewer seats than the subscription has lowers the seats when it is
applied (the subscription has one seat count, and the PostgreSQL seat trigger refuses any
moment with more licenses than seats). The licenses beyond the new seat count are removed in
that transaction, before the seats go down: users who are not admins first, the most recently
assigned first (`licenses_beyond`). The preview names those users and the partner must confirm
them; `keys_apply` refuses without that confirmation, or when the licenses changed since.
"""

from collections.abc import Callable, Collection, Sequence
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from keys.models import Product, Redemption, RedemptionLine
from keys.services import (
    RedemptionClosed,
    RedemptionKeysChanged,
    redemption_cancel,
    redemption_keys_consume,
    redemption_lines,
    redemption_lock,
)
from tenants import webhooks
from tenants.access import Permission, TenantAccess
from tenants.audit import act_record
from tenants.emails import keys_applied_email_queue
from tenants.lifecycle import subscription_state
from tenants.models import License, RedemptionTarget, Subscription, SubscriptionKey, Tenant
from tenants.previews import PreviewRow, Snapshot, users_losing_licenses
from tenants.services.tenants import keys_by_product, keys_reserved, subscription_end

Intent = RedemptionTarget.Intent
State = Subscription.State


class KeysApplyError(Exception):
    """Nothing was applied. `problems`: what stops it, one a product; `back_to_keys` when the
    keys themselves changed since the review (the partner looks at them again); `rows`: the
    preview as it stood when the rules stopped it (empty when the keys changed)."""

    def __init__(
        self,
        problems: Sequence[str],
        back_to_keys: bool = False,
        rows: Sequence["PreviewRow"] = (),
    ):
        self.problems = list(problems)
        self.back_to_keys = back_to_keys
        self.rows = list(rows)
        super().__init__(" ".join(self.problems))


class FewerSeatsUnconfirmed(KeysApplyError):
    """A renewal lowers the seats and the partner did not confirm it, or confirmed other
    licenses than those it removes now (`rows` names them)."""


def keys_apply_preview(
    *, tenant: Tenant, intent: str, lines: Sequence[RedemptionLine], today: date
) -> list[PreviewRow]:
    """Each product's subscription before and after the keys, and what would stop it."""
    subscriptions = {
        subscription.product_id: subscription
        for subscription in Subscription.objects.filter(
            tenant=tenant, ended_by_direct_billing=False
        )
        .select_related("product")
        .annotate(seats_used=Count("licenses"))
    }
    rows = []
    for product, keys in keys_by_product(lines):
        key_seats = sum(key.batch.seats_per_key for key in keys)
        subscription = subscriptions.get(product.pk)
        row = PreviewRow(
            product=product,
            key_count=len(keys),
            key_seats=key_seats,
            subscription=subscription,
            before=None,
            after=None,
        )
        if subscription is not None:
            row.before = Snapshot(
                subscription.seats,
                subscription.end_date,
                subscription_state(subscription, today),
            )
        if intent == Intent.ADD_LICENSES:
            _add_licenses(row, product, today)
        else:
            _renew(row, product, today)
        rows.append(row)
    return rows


def _too_many(product: Product, seats: int) -> str:
    return _(
        "%(product)s allows at most %(max)d seats in one subscription; these keys would make "
        "%(seats)d."
    ) % {"product": product.name, "max": product.max_seats, "seats": seats}


def _add_licenses(row: PreviewRow, product: Product, today: date) -> None:
    if row.subscription is None:
        # A product the customer does not have yet starts a new subscription today.
        row.after = Snapshot(
            row.key_seats, subscription_end(today, product.term_months), State.ACTIVE
        )
        row.notes.append(_("A new subscription starts today."))
        if row.key_seats > product.max_seats:
            row.problem = _too_many(product, row.key_seats)
        return
    if row.before.state in (State.DISABLED, State.DELETED):
        row.problem = _(
            "The %(product)s subscription is %(state)s: renew it before adding licenses."
        ) % {"product": product.name, "state": row.before.state_label.lower()}
        return
    seats = row.subscription.seats + row.key_seats
    row.after = Snapshot(seats, row.subscription.end_date, row.before.state)
    if seats > product.max_seats:
        row.problem = _too_many(product, seats)


def _renew(row: PreviewRow, product: Product, today: date) -> None:
    subscription = row.subscription
    if subscription is None:
        row.problem = _(
            "The customer has no %(product)s subscription to renew. Use “Add licenses” to "
            "start one."
        ) % {"product": product.name}
        return
    if row.before.state == State.DELETED:
        row.problem = _("The %(product)s subscription was deleted: it cannot be renewed.") % {
            "product": product.name
        }
        return
    # From the current end date; from today when it already lapsed (this reactivates it).
    lapsed = row.before.state in (State.EXPIRED, State.DISABLED)
    start = today if lapsed else subscription.end_date + timedelta(days=1)
    # A renewal never shortens a term.
    end = max(subscription_end(start, product.term_months), subscription.end_date)
    row.after = Snapshot(row.key_seats, end, State.ACTIVE)
    if lapsed:
        row.notes.append(_("The subscription is active again from today."))
    if row.key_seats > subscription.seats:
        row.notes.append(
            _("The keys are for %(new)d seats: the subscription goes from %(old)d to %(new)d.")
            % {"new": row.key_seats, "old": subscription.seats}
        )
    # Fewer seats: the page warns, names who loses a license, and asks to confirm.
    row.licenses_lost = licenses_beyond(subscription, row.key_seats)
    if row.key_seats > product.max_seats:
        row.problem = _too_many(product, row.key_seats)


def licenses_beyond(subscription: Subscription, seats: int) -> list[License]:
    """The licenses a subscription loses when its seats go down to `seats`, in the order they go:
    users who are not admins before admins (an admin keeps the tools to put things right), then
    the most recently assigned first (who had it longest keeps it). Empty when they fit."""
    used = getattr(subscription, "seats_used", None)  # annotated by the preview
    if used is None:
        used = License.objects.filter(subscription=subscription).count()
    extra = used - seats
    if extra <= 0:
        return []
    return list(
        License.objects.filter(subscription=subscription)
        .select_related("tenant_user__tenant")
        .order_by("tenant_user__is_admin", "-assigned_at", "-id")[:extra]
    )


def _fewer_seats_check(rows, *, confirmed: bool, licenses_removed: Collection[int]) -> None:
    """Lowering seats is applied only as the partner confirmed it: the same licenses go."""
    if not any(row.fewer_seats for row in rows):
        return
    if not confirmed:
        count = users_losing_licenses(rows)
        raise FewerSeatsUnconfirmed(
            [
                ngettext(
                    "Confirm that %(count)d user loses their license before applying these keys.",
                    "Confirm that %(count)d users lose their license before applying these keys.",
                    count,
                )
                % {"count": count}
                if count
                else _("Confirm that the customer has fewer seats before applying these keys.")
            ],
            rows=rows,
        )
    if {lic.pk for row in rows for lic in row.licenses_lost} != set(licenses_removed):
        raise FewerSeatsUnconfirmed(
            [_("The licenses assigned changed since you looked: check who loses theirs again.")],
            rows=rows,
        )


def keys_apply(
    *,
    redemption: Redemption,
    access: TenantAccess,
    fewer_seats_confirmed: bool = False,
    licenses_removed: Collection[int] = (),
) -> list[PreviewRow]:
    """ "Apply product keys": the customer's subscriptions change as the preview showed.

    One transaction under locks on the redemption and the tenant's subscriptions: the preview
    is computed again there, so what is applied is what the rules allow now. A renewal that
    lowers the seats needs `fewer_seats_confirmed` and, in `licenses_removed`, exactly the
    licenses the preview named (`licenses_beyond`); they are removed, each audited, before the
    seats go down. Raises KeysApplyError (nothing applied) when a rule stops it, the
    confirmation is missing or out of date, or the keys changed.
    """
    access.require(Permission.REDEEM)
    tenant = access.tenant
    today = timezone.localdate()
    with transaction.atomic():
        redemption = redemption_lock(redemption)
        if not redemption.is_draft:
            raise RedemptionClosed
        target = RedemptionTarget.objects.get(redemption=redemption)
        if target.tenant_id != tenant.pk:
            raise KeysApplyError([_("These keys are for another customer.")])
        # Locked in primary-key order: two partners applying keys to one customer take turns.
        list(Subscription.objects.select_for_update().filter(tenant=tenant).order_by("pk"))
        rows = keys_apply_preview(
            tenant=tenant,
            intent=target.intent,
            lines=list(redemption_lines(redemption)),
            today=today,
        )
        problems = [row.problem for row in rows if row.problem]
        if problems:
            raise KeysApplyError(problems, rows=rows)
        _fewer_seats_check(rows, confirmed=fewer_seats_confirmed, licenses_removed=licenses_removed)
        try:
            lines = redemption_keys_consume(redemption=redemption, user=access.user, tenant=tenant)
        except RedemptionKeysChanged:
            raise KeysApplyError(
                [_("The keys of this redemption changed. Check them again.")], back_to_keys=True
            ) from None
        keys_of = {product.pk: keys for product, keys in keys_by_product(lines)}
        now = timezone.now()
        for row in rows:
            _apply_row(row, target, access, keys_of[row.product.pk], today, now)
        keys_applied_email_queue(tenant=tenant, intent=target.intent, rows=rows, user=access.user)
        webhooks.keys_applied_to(tenant, target.intent, rows, today)
    return rows


def customer_target(tenant: Tenant, intent: str) -> Callable[[Redemption], None]:
    """For `redemption_start(on_created=...)`: the new redemption is for this customer, as
    `intent` ("Add licenses" or "Renew" on the customer's page, or the API's)."""

    def record(redemption: Redemption) -> None:
        RedemptionTarget.objects.create(redemption=redemption, tenant=tenant, intent=intent)

    return record


def keys_apply_from_keys(
    *,
    access: TenantAccess,
    intent: str,
    raw_keys: Sequence[str],
    client_address: str | None,
    dry_run: bool = False,
    fewer_seats_confirmed: bool = False,
    licenses_removed: Collection[int] = (),
) -> list[PreviewRow]:
    """Add licenses or renew with product keys in one call (the API): the keys reserved into a
    redemption for the customer and confirmed (`keys_reserved`), then `keys_apply` — or, with
    `dry_run`, only its preview, after which the keys are released: a dry run changes nothing
    and holds no key. Raises KeysRefused and KeyGuessLimitReached (nothing reserved), and
    KeysApplyError (nothing applied; the redemption is cancelled, every key available again)."""
    access.require(Permission.REDEEM)
    with keys_reserved(
        user=access.user,
        partner=access.partner,
        raw_keys=raw_keys,
        client_address=client_address,
        on_created=customer_target(access.tenant, intent),
    ) as redemption:
        if not dry_run:
            return keys_apply(
                redemption=redemption,
                access=access,
                fewer_seats_confirmed=fewer_seats_confirmed,
                licenses_removed=licenses_removed,
            )
        rows = keys_apply_preview(
            tenant=access.tenant,
            intent=intent,
            lines=list(redemption_lines(redemption)),
            today=timezone.localdate(),
        )
        redemption_cancel(redemption=redemption, user=access.user)
        return rows


def _apply_row(row: PreviewRow, target, access: TenantAccess, keys, today: date, now) -> None:
    if row.subscription is None:
        subscription, kind = (
            _subscription_create(row, access, today, now),
            SubscriptionKey.Kind.CREATED,
        )
    else:
        subscription, kind = _subscription_change(row, target, access, today)
    SubscriptionKey.objects.bulk_create(
        SubscriptionKey(
            subscription=subscription,
            product_key=key,
            kind=kind,
            seats=key.batch.seats_per_key,
            redeemed_at=now,
            redeemed_by=access.user,
        )
        for key in keys
    )
    row.subscription = subscription


def _subscription_create(row: PreviewRow, access: TenantAccess, today: date, now) -> Subscription:
    subscription = Subscription.objects.create(
        tenant=access.tenant,
        product=row.product,
        seats=row.after.seats,
        start_date=today,
        end_date=row.after.end_date,
        created_by_partner=access.partner,
        created_at=now,
    )
    act_record(
        access,
        action="subscription.created",
        target=subscription,
        details={
            "product": row.product.sku,
            "seats": row.after.seats,
            "end_date": row.after.end_date.isoformat(),
        },
    )
    return subscription


def _subscription_change(row: PreviewRow, target, access: TenantAccess, today: date):
    """Seats added or the term renewed, as the preview row says; (subscription, key kind)."""
    subscription = row.subscription
    # Before the seats go down: the seat trigger refuses a subscription with more licenses.
    _licenses_remove(row, access)
    subscription.seats = row.after.seats
    fields = ["seats", "end_date", "state"]
    if subscription.end_date != row.after.end_date:
        # A new end date: the renewal-notice sweep works out its thresholds again.
        subscription.renewal_notice_on = today
        fields.append("renewal_notice_on")
    subscription.end_date = row.after.end_date
    subscription.state = row.after.state
    renewing = target.intent == Intent.RENEW
    if renewing and subscription.billed_directly:
        # Renewed with a prepaid key: prepaid again, with notices and the lifecycle.
        subscription.billed_directly = False
        subscription.renewal_notice_on = today
        fields += ["billed_directly", "renewal_notice_on"]
    subscription.save(update_fields=list(dict.fromkeys(fields)))
    act_record(
        access,
        action="subscription.renewed" if renewing else "subscription.licenses_added",
        target=subscription,
        details={
            "seats": [row.before.seats, row.after.seats],
            "end_date": [row.before.end_date.isoformat(), row.after.end_date.isoformat()],
            "state": [row.before.state, row.after.state],
        },
    )
    return subscription, SubscriptionKey.Kind.RENEWED if renewing else SubscriptionKey.Kind.ADDED


def _licenses_remove(row: PreviewRow, access: TenantAccess) -> None:
    """The licenses beyond a lowered seat count go, each audited as an unassignment."""
    if not row.licenses_lost:
        return
    License.objects.filter(pk__in=[lic.pk for lic in row.licenses_lost]).delete()
    for lic in row.licenses_lost:
        person = lic.tenant_user
        act_record(
            access,
            action="license.unassigned",
            target=row.subscription,
            details={
                "tenant_user": person.pk,
                "username": person.username,
                "reason": "renewal_with_fewer_seats",
                "seats": [row.before.seats, row.after.seats],
            },
            activity_details={"username": person.username, "reason": "renewal_with_fewer_seats"},
            person=person,
        )
