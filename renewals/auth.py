"""Signing in while a tenant's subscriptions are disabled (design §5: only admins sign in).

The rule: a tenant user who is not an admin may sign in while their tenant has a subscription
still usable on the dates — active, or expired but within its grace period — or has no
subscription at all; a directly billed subscription (it renews on its own) is always usable. It
is read from the dates, not only the stored state, so that a late lifecycle sweep does not leave
a door open. Checked by the authentication backend at sign-in
and again on every request (Django asks the backend for the session's user each time): the
session of someone who is no longer allowed ends at their next click.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.models import User
from tenants.lifecycle import reached_q
from tenants.models import Subscription, TenantUser

State = Subscription.State


def tenant_user_locked_out(user) -> bool:
    """Whether this account is a non-admin tenant user of a tenant with no usable subscription."""
    if User.tenant_user.is_cached(user):
        # Loaded with the user (the backend's get_user): no tenant user record, or an admin's,
        # is never locked out; no query to ask it.
        account = getattr(user, "tenant_user", None)
        if account is None or account.is_admin:
            return False
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


# Set on the request when the password was right but the rule refused: the sign-in form then
# tells the person to ask their admin instead of "wrong e-mail or password" (they proved who
# they are, so this says nothing to someone guessing).
SIGN_IN_REFUSAL = "sign_in_refusal"
TENANT_DISABLED = "tenant_disabled"


class LifecycleModelBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not tenant_user_locked_out(user)

    def get_user(self, user_id):
        """The session's user, asked on every request: one query that also loads what the
        access rule and the page's header read next — the partner membership with its
        partner, the tenant user record with its tenant (absent ones are remembered as
        absent). The lifecycle rule then costs a query only for a tenant user who is not an
        admin."""
        model = get_user_model()
        try:
            user = model._default_manager.select_related(
                "partner_membership__partner", "tenant_user__tenant"
            ).get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def authenticate(self, request, username=None, password=None, **kwargs):
        """ModelBackend's, with one password check whatever happens: an unknown address costs
        the same hashing as a known one (Django's own timing guard), and a right password that
        the rule refuses is told apart only after that check."""
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            model().set_password(password)  # the same hashing time as a real check
            return None
        if not user.check_password(password):
            return None
        if self.user_can_authenticate(user):
            return user
        if request is not None and user.is_active and tenant_user_locked_out(user):
            setattr(request, SIGN_IN_REFUSAL, TENANT_DISABLED)
        return None
