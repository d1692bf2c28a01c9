from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from keys.models import Redemption
from keys.services import (
    RedemptionClosed,
    redemption_details_keep,
    redemption_lines,
    redemption_step_reach,
)
from keys.views import key_entry
from mfa.resets import reset_page
from mfa.selectors import partner_team, user_factors
from mfa.step_up import step_up_if, step_up_required
from portal.access import partner_required
from portal.forms import posted_data
from portal.models import User
from portal.services import email_link_attempt_start
from portal.views import too_many_email_links
from tenants.access import (
    Permission,
    created_tenant,
    customer_required,
    subscription_of,
    tenant_access,
    tenant_page,
    tenant_url,
    tenant_user_of,
)
from tenants.delegation.offers import offer_eligibility_problem
from tenants.forms import PartnerIdForm, TenantForm, TenantUserForm, tenant_user_initial
from tenants.lifecycle import in_lifecycle, next_change, state_label, subscription_state
from tenants.models import (
    DelegationOffer,
    DelegationRelationship,
    License,
    RedemptionTarget,
    Subscription,
    TenantUser,
)
from tenants.selectors import (
    CUSTOMER_ORDERS,
    MAX_SEARCH_LENGTH,
    customer_rows,
    partner_customer_list,
    partner_customer_of,
    tenant_admins,
    tenant_users,
)
from tenants.services import (
    EmailLinksLimited,
    KeysApplyError,
    LicenseError,
    PartnerLookupError,
    TenantCreateError,
    TenantUserError,
    activation_renew,
    activation_resend_limited,
    customer_target,
    domain_prefix_problem,
    keys_apply,
    keys_apply_preview,
    license_assign,
    license_unassign,
    partner_lookup,
    partner_of_record_set,
    seat_choices,
    tenant_admin_activate,
    tenant_create,
    tenant_user_add,
    tenant_user_edit,
    tenant_user_remove,
    users_losing_licenses,
)
from tenants.tokens import activation_token

CUSTOMERS_PER_PAGE = 25
USERS_PER_PAGE = 25
DASHBOARD_CUSTOMERS = 10


@partner_required
def partner_dashboard(request):
    customers = Paginator(partner_customer_list(request.partner), DASHBOARD_CUSTOMERS).get_page(1)
    customers.object_list = customer_rows(request.partner, customers.object_list)
    return render(
        request,
        "tenants/partner_dashboard.html",
        {
            "partner": request.partner,
            "membership": request.membership,
            "customers": customers,
            "offer_problem": offer_eligibility_problem(request.membership),
            # Partner admins see who signs in with which second factor (and can reset it).
            "team": partner_team(request.partner) if request.membership.is_admin else None,
            "drafts": Redemption.objects.drafts_of(request.membership)
            .with_active_lines()
            .select_related("target__tenant"),
        },
    )


@partner_required
def partner_customers(request):
    search = request.GET.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    order = request.GET.get("sort", "name")
    if order not in CUSTOMER_ORDERS:
        order = "name"
    page = Paginator(
        partner_customer_list(request.partner, search, order), CUSTOMERS_PER_PAGE
    ).get_page(request.GET.get("page"))
    page.object_list = customer_rows(request.partner, page.object_list)
    return render(
        request,
        "tenants/partner_customers.html",
        {"page": page, "search": search, "order": order},
    )


@partner_required
def partner_customer(request, pk: int):
    access, tenant = partner_customer_of(request.user, request.partner, pk)
    admins = tenant_admins(tenant)
    # Read only: managing users and licenses is the customer's (or, later, a delegated
    # administrator's).
    users = Paginator(tenant_users(tenant), USERS_PER_PAGE).get_page(1)
    return render(
        request,
        "tenants/partner_customer.html",
        {
            "tenant": tenant,
            "admins": admins,
            "users": users,
            "access": access,
            # To the offer form with this customer chosen (the message in its language).
            "may_offer": offer_eligibility_problem(request.membership) is None
            and access.can(Permission.REDEEM),
        },
    )


@require_POST
@partner_required
def resend_activation(request, pk: int, account_pk: int):
    access = tenant_access(user=request.user, tenant_id=pk, permission=Permission.RESEND_ACTIVATION)
    account = get_object_or_404(
        TenantUser.objects.select_related("user", "tenant"),
        pk=account_pk,
        tenant=access.tenant,
        is_admin=True,
    )
    tenant = access.tenant
    try:
        sent = activation_resend_limited(
            account=account, access=access, client_address=request.client_address
        )
    except EmailLinksLimited as limited:
        return too_many_email_links(request, limited.until)
    if sent:
        messages.success(
            request,
            _("A new activation e-mail is on its way to %(email)s.") % {"email": account.email},
        )
    else:
        messages.info(request, _("This administrator has already activated their account."))
    return redirect("tenants:partner_customer", tenant.pk)


def _own_draft(request, pk: int) -> Redemption:
    redemption = (
        Redemption.objects.owned_by(request.user, request.partner)
        .filter(pk=pk)
        .select_related("partner")
        .first()
    )
    if redemption is None:
        raise Http404
    return redemption


def _typed(request, form) -> dict[str, str]:
    """The step-2 fields as typed (not cleaned): what comes back when the partner resumes."""
    return {name: request.POST.get(name, "") for name in form.fields}


@partner_required
def create_tenant(request, pk: int):
    """Step 2: the customer's details, then "Create my account"."""
    redemption = _own_draft(request, pk)
    if redemption.state == Redemption.State.COMPLETED:
        return redirect("tenants:tenant_created", redemption.tenant.pk)
    if redemption.state != Redemption.State.DRAFT:
        messages.info(request, _("This redemption was cancelled."))
        return redirect("tenants:partner_dashboard")
    if redemption.keys_confirmed_at is None:
        return redirect("keys:redeem_review", redemption.pk)
    if RedemptionTarget.objects.filter(redemption=redemption).exists():
        return redirect("tenants:apply_keys", redemption.pk)  # keys for an existing customer
    # What was typed before (a closed browser, a detour back to the keys) comes back: it is
    # kept with the draft on the server, so nothing typed is lost.
    form = TenantForm(
        posted_data(request), partner=request.partner, initial=redemption.customer_details
    )
    if request.method == "POST":
        redemption_details_keep(redemption=redemption, details=_typed(request, form))
    else:
        redemption_step_reach(redemption=redemption, step=Redemption.Step.CUSTOMER)
    valid = request.method == "POST" and form.is_valid()
    if request.method == "POST" and not valid:
        # A second click may arrive while the first creates the tenant: its "already taken"
        # errors would be about the tenant just created.
        redemption.refresh_from_db()
        if redemption.state == Redemption.State.COMPLETED:
            return redirect("tenants:tenant_created", redemption.tenant.pk)
    if valid:
        try:
            tenant = tenant_create(redemption=redemption, user=request.user, details=form.details())
        except TenantCreateError as error:
            if error.back_to_keys:
                messages.error(request, str(error))
                return redirect("keys:redeem_keys", redemption.pk)
            form.add_error(error.field, str(error))
        else:
            return redirect("tenants:tenant_created", tenant.pk)
    return render(
        request,
        "tenants/create_tenant.html",
        {"form": form, "redemption": redemption, "lines": redemption_lines(redemption)},
    )


@require_POST
@partner_required
def create_tenant_keep(request, pk: int):
    """The step-2 page's script sends what is typed as the partner goes (nothing is checked)."""
    redemption = _own_draft(request, pk)
    form = TenantForm(partner=request.partner)
    if not redemption_details_keep(redemption=redemption, details=_typed(request, form)):
        return JsonResponse({"kept": False}, status=409)
    return JsonResponse({"kept": True})


@sensitive_post_parameters()
@never_cache
@partner_required
def customer_keys(request, pk: int, intent: str):
    """ "Add licenses" or "Renew" on a customer's page: the key entry of a redemption for that
    customer, which its first keys create (the page names the customer in full)."""
    access = tenant_access(user=request.user, tenant_id=pk, permission=Permission.REDEEM)
    target = RedemptionTarget(tenant=access.tenant, intent=intent)  # for the page, not saved
    return key_entry(
        request, None, on_created=customer_target(access.tenant, intent), target=target
    )


@partner_required
def apply_keys(request, pk: int):
    """What the keys change for the customer, each subscription before and after; then
    "Apply product keys" (after an explicit confirmation when a renewal lowers the seats)."""
    redemption = _own_draft(request, pk)
    target = RedemptionTarget.objects.filter(redemption=redemption).select_related("tenant").first()
    if target is None:
        raise Http404
    if redemption.state == Redemption.State.COMPLETED:
        messages.info(request, _("These product keys were applied."))
        return redirect("tenants:partner_customer", target.tenant_id)
    if redemption.state != Redemption.State.DRAFT:
        messages.info(request, _("This redemption was cancelled."))
        return redirect("tenants:partner_dashboard")
    access = tenant_access(
        user=request.user, tenant_id=target.tenant_id, permission=Permission.REDEEM
    )
    if redemption.keys_confirmed_at is None:
        return redirect("keys:redeem_review", redemption.pk)
    problems = []
    if request.method == "POST":
        applied = _keys_apply_posted(request, redemption, access)
        if not isinstance(applied, list):
            return applied
        problems = applied
    else:
        redemption_step_reach(redemption=redemption, step=Redemption.Step.CUSTOMER)
    lines = list(redemption_lines(redemption))
    rows = keys_apply_preview(
        tenant=access.tenant, intent=target.intent, lines=lines, today=timezone.localdate()
    )
    return render(
        request,
        "tenants/apply_keys.html",
        {
            "redemption": redemption,
            "target": target,
            "tenant": access.tenant,
            "rows": rows,
            "lines": lines,
            "problems": problems,
            "blocked": any(row.problem for row in rows),
            "fewer_seats": [row for row in rows if row.fewer_seats],
            "users_losing": users_losing_licenses(rows),
            "today": timezone.localdate(),
        },
    )


def _keys_apply_posted(request, redemption, access):
    """ "Apply product keys" posted: a redirect, or the problems to show on the preview."""
    try:
        keys_apply(
            redemption=redemption,
            access=access,
            fewer_seats_confirmed=request.POST.get("fewer_seats_confirmed") == "1",
            licenses_removed=[
                int(value)
                for value in request.POST.getlist("licenses_removed")
                if value.isascii() and value.isdigit() and len(value) <= 18
            ],
        )
    except KeysApplyError as error:
        if error.back_to_keys:
            messages.error(request, str(error))
            return redirect("keys:redeem_keys", redemption.pk)
        return error.problems
    except RedemptionClosed:
        return redirect("tenants:apply_keys", redemption.pk)
    messages.success(
        request,
        _("The product keys were applied to %(name)s (%(domain)s).")
        % {"name": access.tenant.name, "domain": access.tenant.domain},
    )
    return redirect("tenants:partner_customer", access.tenant.pk)


@partner_required
def tenant_created(request, pk: int):
    """The creating partner's confirmation of the creation, and nobody else's: the tenant rule's
    404 for a partner that only reads the customer (partner of record, or under a relationship).
    It names the administrator created with the tenant."""
    access = created_tenant(request.membership, pk)
    _access, tenant = partner_customer_of(request.user, request.partner, access.tenant.pk)
    admin = tenant_admins(tenant).order_by("created_at", "pk").first()
    return render(request, "tenants/tenant_created.html", {"tenant": tenant, "admin": admin})


@require_GET
@partner_required
def domain_check(request):
    """Answers the step-2 form as the partner types the domain prefix."""
    prefix = request.GET.get("prefix", "").strip().lower()[:253]
    problem = domain_prefix_problem(prefix)
    return JsonResponse(
        {
            "available": problem is None,
            "message": problem
            or _("%(domain)s is available.")
            % {"domain": f"{prefix}.{settings.TENANT_DOMAIN_SUFFIX}"},
        }
    )


# --- Customer admins ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HomeSubscription:
    """A subscription as the customer admin's home shows it."""

    subscription: Subscription
    state: str
    days_left: int

    @property
    def state_label(self) -> str:
        return state_label(self.subscription, self.state)

    @property
    def next_change(self) -> tuple[str, date] | None:
        """What happens next (expired, disabled, deleted) and when, as the dates say; nothing
        for a directly billed subscription or one ended by the switch."""
        if not in_lifecycle(self.subscription):
            return None
        return next_change(self.subscription.end_date, timezone.localdate())


@customer_required(Permission.MANAGE)
def customer_home(request):
    """The customer admin's home: the organization, each subscription (seats used, end date,
    days left, state, partner of record), the users, and admins still to activate."""
    tenant = request.tenant
    today = timezone.localdate()
    subscriptions = [
        HomeSubscription(
            subscription=subscription,
            state=subscription_state(subscription, today),
            days_left=(subscription.end_date - today).days,
        )
        for subscription in _subscriptions(tenant).select_related("partner_of_record")
    ]
    others = tenant_admins(tenant).exclude(pk=request.tenant_user.pk).select_related("user")
    pending_admins = [admin for admin in others if not admin.is_activated]
    return render(
        request,
        "tenants/customer_home.html",
        {
            "tenant": tenant,
            "subscriptions": subscriptions,
            "account": request.tenant_user,
            "user_count": TenantUser.objects.filter(tenant=tenant).count(),
            "pending_admins": pending_admins,
            "pending_offers": DelegationOffer.objects.open(timezone.now())
            .filter(tenant=tenant)
            .count(),
            # Partners that administer the organization today.
            "administering_partners": DelegationRelationship.objects.in_force(today)
            .filter(tenant=tenant)
            .values("partner")
            .distinct()
            .count(),
        },
    )


def _subscriptions(tenant):
    return (
        Subscription.objects.filter(tenant=tenant)
        .select_related("product")
        .annotate(seats_used=Count("licenses"))
        .order_by("end_date", "id")
    )


@tenant_page(Permission.USERS_READ)
def customer_users(request):
    """ "Users and licenses": the organization's directory."""
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(tenant_users(request.tenant, search), USERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "tenants/customer_users.html",
        {"tenant": request.tenant, "page": page, "search": search, "access": request.access},
    )


@tenant_page(Permission.USERS_MANAGE)
def customer_user_add(request):
    """ "Add a user": they get an activation e-mail, as the first admin did, and the licenses
    chosen (when the access allows managing licenses), all in one transaction. "Save and add
    another" comes back to an empty form."""
    seats = None
    if request.access.can(Permission.LICENSES_MANAGE):
        seats = seat_choices(request.tenant, timezone.localdate())
    # Adding an admin grants power: a fresh verification first.
    step_up = step_up_if(request, request.method == "POST" and _posted_admin(request))
    if step_up is not None:
        return step_up
    form = TenantUserForm(posted_data(request), tenant=request.tenant, seat_choices=seats)
    if request.method == "POST" and form.is_valid():
        try:
            tenant_user = tenant_user_add(
                access=request.access,
                details=form.details(),
                subscriptions=form.cleaned_data.get("licenses", []),
            )
        except TenantUserError as error:
            form.add_error(error.field, str(error))
        except LicenseError as error:
            # A seat taken between the form and the save: nothing was created.
            form.add_error("licenses", str(error))
        else:
            messages.success(request, _user_added_message(tenant_user))
            if request.POST.get("action") == "another":
                return redirect(tenant_url(request, "user_add"))
            return redirect(tenant_url(request, "user", tenant_user.pk))
    return render(
        request,
        "tenants/customer_user_add.html",
        {"form": form, "tenant": request.tenant, "access": request.access, "seats": seats},
    )


def _posted_admin(request) -> bool:
    """The "administrator" box as the form will read it ("false" and "0" are unticked)."""
    return bool(
        TenantUserForm.base_fields["is_admin"].widget.value_from_datadict(
            request.POST, request.FILES, "is_admin"
        )
    )


def _user_added_message(tenant_user: TenantUser) -> str:
    products = list(
        tenant_user.licenses.order_by("subscription__product__name").values_list(
            "subscription__product__name", flat=True
        )
    )
    message = _("%(name)s was added. An activation e-mail is on its way to %(email)s.") % {
        "name": tenant_user.full_name,
        "email": tenant_user.email,
    }
    if products:
        message += " " + ngettext(
            "License: %(products)s.", "Licenses: %(products)s.", len(products)
        ) % {"products": ", ".join(products)}
    return message


@tenant_page(Permission.USERS_READ)
def customer_user(request, account_pk: int):
    """A user's page: their details (edit) and a license per subscription (assign, unassign)."""
    tenant_user = tenant_user_of(request.access, account_pk)
    form = TenantUserForm(
        posted_data(request),
        tenant=request.tenant,
        tenant_user=tenant_user,
        initial=tenant_user_initial(tenant_user),
    )
    if request.method == "POST":
        request.access.require(Permission.USERS_MANAGE)
        # Making someone an admin, or an admin no longer one: a fresh verification first.
        step_up = step_up_if(request, _posted_admin(request) != tenant_user.is_admin)
        if step_up is not None:
            return step_up
    if request.method == "POST" and form.is_valid():
        try:
            changed = tenant_user_edit(
                access=request.access, tenant_user=tenant_user, details=form.details()
            )
        except TenantUserError as error:
            form.add_error(error.field, str(error))
        else:
            if changed:
                messages.success(request, _("The changes were saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect(tenant_url(request, "user", tenant_user.pk))
    assigned = set(tenant_user.licenses.values_list("subscription_id", flat=True))
    return render(
        request,
        "tenants/customer_user.html",
        {
            "tenant": request.tenant,
            "tenant_user": tenant_user,
            "form": form,
            "subscriptions": _subscriptions(request.tenant),
            "assigned": assigned,
            "is_self": tenant_user.pk == getattr(request.tenant_user, "pk", None),
            "access": request.access,
            "factors": _factors_shown(request, tenant_user),
        },
    )


def _factors_shown(request, tenant_user: TenantUser) -> dict | None:
    """The person's second factors, on the customer admin's own side only (the partner acting
    for the tenant does not reset the tenant's factors)."""
    if request.access.membership is not None or tenant_user.user is None:
        return None
    if not request.access.can(Permission.ADMINS_MANAGE):
        return None
    return user_factors(tenant_user.user)


@customer_required(Permission.ADMINS_MANAGE)
@step_up_required
def customer_user_reset(request, account_pk: int):
    """A customer admin lets a user of the tenant who lost their factors enrol again."""
    tenant_user = tenant_user_of(request.access, account_pk)
    if tenant_user.user is None:
        raise PermissionDenied
    return reset_page(
        request,
        tenant_user.user,
        reverse("tenants:customer_user", args=[tenant_user.pk]),
        by="tenant",
    )


@tenant_page(Permission.USERS_MANAGE)
def customer_user_remove(request, account_pk: int):
    """GET asks to confirm; POST removes the user and frees their licenses."""
    tenant_user = tenant_user_of(request.access, account_pk)
    if request.method == "POST":
        step_up = step_up_if(request, tenant_user.is_admin)  # removing an admin
        if step_up is not None:
            return step_up
        try:
            freed = tenant_user_remove(access=request.access, tenant_user=tenant_user)
        except TenantUserError as error:
            messages.error(request, str(error))
            return redirect(tenant_url(request, "user", tenant_user.pk))
        messages.success(
            request,
            ngettext(
                "%(name)s was removed; %(count)d license was freed.",
                "%(name)s was removed; %(count)d licenses were freed.",
                freed,
            )
            % {"name": tenant_user.full_name, "count": freed},
        )
        return redirect(tenant_url(request, "users"))
    return render(
        request,
        "tenants/customer_user_remove.html",
        {
            "tenant": request.tenant,
            "tenant_user": tenant_user,
            "licenses": tenant_user.licenses.select_related("subscription__product"),
            "is_self": tenant_user.pk == getattr(request.tenant_user, "pk", None),
            "access": request.access,
        },
    )


@require_POST
@tenant_page(Permission.USER_ACTIVATION_RESEND)
def customer_resend_activation(request, account_pk: int):
    """A new activation link for a user who has not activated their account yet (rate-limited
    per address, as every link e-mail)."""
    tenant_user = tenant_user_of(request.access, account_pk)
    try:
        sent = activation_resend_limited(
            account=tenant_user, access=request.access, client_address=request.client_address
        )
    except EmailLinksLimited as limited:
        return too_many_email_links(request, limited.until)
    if sent:
        messages.success(
            request,
            _("A new activation e-mail is on its way to %(email)s.") % {"email": tenant_user.email},
        )
    else:
        messages.info(request, _("This user has already activated their account."))
    return redirect(tenant_url(request, "user", tenant_user.pk))


@require_POST
@tenant_page(Permission.LICENSES_MANAGE)
def customer_license_assign(request, account_pk: int, subscription_pk: int):
    tenant_user = tenant_user_of(request.access, account_pk)
    subscription = subscription_of(request.access, subscription_pk)
    try:
        assigned = license_assign(
            access=request.access, subscription=subscription, tenant_user=tenant_user
        )
    except LicenseError as error:
        messages.error(request, str(error))
    else:
        if assigned:
            messages.success(
                request,
                _("%(name)s has a license of %(product)s.")
                % {"name": tenant_user.full_name, "product": subscription.product.name},
            )
    return redirect(tenant_url(request, "user", tenant_user.pk))


@require_POST
@tenant_page(Permission.LICENSES_MANAGE)
def customer_license_unassign(request, account_pk: int, subscription_pk: int):
    tenant_user = tenant_user_of(request.access, account_pk)
    subscription = subscription_of(request.access, subscription_pk)
    if license_unassign(access=request.access, subscription=subscription, tenant_user=tenant_user):
        messages.success(
            request,
            _("The license of %(product)s was unassigned from %(name)s.")
            % {"name": tenant_user.full_name, "product": subscription.product.name},
        )
    return redirect(tenant_url(request, "user", tenant_user.pk))


@customer_required(Permission.MANAGE)
@step_up_required
def customer_partner_of_record(request, subscription_pk: int):
    """ "Set partner of record": enter the partner ID ("Look up"), see the partner's name, then
    confirm; or remove the partner of record. Each step posts the ID as typed."""
    subscription = subscription_of(request.access, subscription_pk)
    if subscription.ended_by_direct_billing:
        raise Http404  # ended by the switch to direct billing: nobody's to renew any more
    form = PartnerIdForm(posted_data(request))
    action = request.POST.get("action", "")
    found = None
    if request.method == "POST" and action == "remove":
        if subscription.partner_of_record and request.POST.get("confirm") != "1":
            # Says what removing does, and asks (the partner stops hearing of the renewal).
            return render(
                request,
                "tenants/partner_of_record_remove.html",
                {"tenant": request.tenant, "subscription": subscription},
            )
        if partner_of_record_set(access=request.access, subscription=subscription, partner=None):
            messages.success(
                request,
                _("The %(product)s subscription no longer has a partner of record.")
                % {"product": subscription.product.name},
            )
        return redirect("tenants:customer_home")
    if request.method == "POST" and form.is_valid():
        try:
            found = partner_lookup(
                partner_id=form.cleaned_data["partner_id"],
                access=request.access,
                client_address=request.client_address,
            )
        except PartnerLookupError as error:
            form.add_error("partner_id", str(error))
        else:
            if action == "confirm":
                partner_of_record_set(
                    access=request.access, subscription=subscription, partner=found
                )
                messages.success(
                    request,
                    _("%(partner)s is the partner of record of %(product)s.")
                    % {"partner": found.name, "product": subscription.product.name},
                )
                return redirect("tenants:customer_home")
    return render(
        request,
        "tenants/customer_partner_of_record.html",
        {
            "tenant": request.tenant,
            "subscription": subscription,
            "form": form,
            "found": found,
        },
    )


@customer_required(Permission.OWN_LICENSES)
def customer_licenses(request):
    """A user's own licenses: all that a tenant user who is not an admin sees."""
    licenses = (
        License.objects.filter(tenant_user=request.tenant_user)
        .select_related("subscription__product")
        .order_by("subscription__product__name")
    )
    return render(
        request,
        "tenants/customer_licenses.html",
        {"tenant": request.tenant, "account": request.tenant_user, "licenses": licenses},
    )


def _broken_link_context(user, uidb64, kwargs) -> dict:
    """Why an activation link does not work, and what the person can do about it.

    Only a genuine expired link names the partner and offers a new link: a made-up or used one
    says nothing about the account behind it.
    """
    token = kwargs.get("token", "")
    if user is not None and user.has_usable_password():
        return {"link_problem": "used"}
    if user is not None and activation_token.link_state(user, token) == activation_token.EXPIRED:
        account = TenantUser.objects.select_related("tenant__created_by_partner").get(user=user)
        return {
            "link_problem": "expired",
            "partner": account.tenant.created_by_partner,
            "tenant": account.tenant,
            "renew_url": reverse("tenants:activation_renew", args=[uidb64, token]),
        }
    return {"link_problem": "invalid"}


@require_POST
def renew_activation(request, uidb64: str, token: str):
    """A new activation link for the holder of a genuine expired one (rate-limited)."""
    view = ActivateView()
    user = view.get_user(uidb64)
    if user is None or activation_token.link_state(user, token) != activation_token.EXPIRED:
        return render(
            request, "tenants/activation_renewed.html", {"link_problem": "invalid"}, status=400
        )
    account = TenantUser.objects.select_related("tenant__created_by_partner", "user").get(user=user)
    attempt = email_link_attempt_start(email=account.email, client_address=request.client_address)
    if attempt.blocked:
        return too_many_email_links(request, attempt.until)
    sent = activation_renew(account=account)
    return render(
        request,
        "tenants/activation_renewed.html",
        {
            "sent": sent,
            "email": mask_email(account.email),
            "partner": account.tenant.created_by_partner,
        },
    )


def mask_email(address: str) -> str:
    """m•••@contoso.example: enough for the person to recognize their address."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


class ActivateView(PasswordResetConfirmView):
    """The customer admin's activation link: the partner never sees or sets this password.

    Like Django's password reset, the token moves into the session and the page redirects to a
    URL without it (no leak through Referer); only the POST that sets the password acts.
    """

    token_generator = activation_token
    template_name = "tenants/activate.html"
    reset_url_token = "set-password"  # noqa: S105 — a URL segment, not a password
    success_url = reverse_lazy("home")  # the admin's home, or a user's own licenses

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is not None and not TenantUser.objects.filter(user=user).exists():
            return None
        return user

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if context["validlink"]:
            context["account"] = TenantUser.objects.filter(user=self.user).first()
        else:
            context.update(_broken_link_context(self.user, self.kwargs.get("uidb64"), self.kwargs))
        return context

    def form_valid(self, form):
        tenant_admin_activate(user=self.user, password=form.cleaned_data["new_password1"])
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        user = User.objects.get(pk=self.user.pk)
        login(self.request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        messages.success(self.request, _("Your account is active. Welcome!"))
        return HttpResponseRedirect(self.get_success_url())
