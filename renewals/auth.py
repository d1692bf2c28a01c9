"""Signing in while a tenant's subscriptions are disabled (design §5: only admins sign in).

The rule: a tenant user who is not an admin may sign in while their tenant has a subscription
still usable on the dates — active, or expired but within its grace period — or has no
subscription at all; a directly billed subscription (it renews on its own) is always usable. It
is read from the dates, not only the stored state, so that a late lifecycle sweep does not leave
a door open. Checked by the authentication backend at sign-in
and again on every request (Django asks the backend for the session's user each time): the
session of someone who is no longer allowed ends at their next click.
"""

from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tenants.lifecycle import reached_q
from tenants.models import Subscription, TenantUser

State = Subscription.State


def tenant_user_locked_out(user) -> bool:
    """Whether this account is a non-admin tenant user of a tenant with no usable subscription."""
    today = timezone.localdate()
    subscriptions = Subscription.objects.filter(tenant_id=OuterRef("tenant_id"))
    # A directly billed subscription renews on its own: usable whatever its dates.
    usable = subscriptions.filter(
        Q(billed_directly=True)
        | (
            Q(state__in=[State.ACTIVE, State.EXPIRED], ended_by_direct_billing=False)
            & ~reached_q(State.DISABLED, today)
        )
    )
    return (
        TenantUser.objects.filter(user=user, is_admin=False)
        .filter(Exists(subscriptions), ~Exists(usable))
        .exists()
    )


class LifecycleModelBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not tenant_user_locked_out(user)
