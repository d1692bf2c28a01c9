"""A customer's users and licenses, for a partner's scripts (scopes `users:read`, `users:write`).

The same pages as "Users and licenses" under /partner/customers/<pk>/ (`tenant_pages`): the tenant
rule (`tenant_access`) with the same permission per act, the pages' own form (`TenantUserForm`),
the same services (`tenant_user_add`, `tenant_user_edit`, `tenant_user_remove`, `license_assign`,
`license_unassign`, `activation_resend_limited`) and reads (`tenant_users`, `seat_choices`).
Acts under a delegated-admin relationship go to both sides' activity log through the services.

The pages ask for a fresh second factor before an act on an administrator; a key has no session
to verify, so here the key (its scope, its role) and the tenant rule decide, as for every act.
"""

from django.conf import settings
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.errors import Problem
from portal.api.forms import form_clean, form_data, form_serializer, invalid, serializer_clean
from portal.api.idempotency import idempotent
from portal.api.schema import PAGE_PARAMETERS
from portal.api.views import ApiView, CursorPage
from portal.throttle import retry_after_seconds
from tenants.access import (
    Permission,
    TenantAccess,
    subscription_of,
    tenant_access,
    tenant_user_of,
)
from tenants.forms import TenantUserForm, tenant_user_initial
from tenants.models import License, Tenant, TenantUser
from tenants.selectors import tenant_users, user_licenses_prefetch
from tenants.services import (
    EmailLinksLimited,
    LicenseError,
    TenantUserError,
    activation_resend_limited,
    license_assign,
    license_unassign,
    seat_choices,
    tenant_user_add,
    tenant_user_edit,
    tenant_user_remove,
)

# --- What the API answers ---------------------------------------------------------------------


class CustomerUserLicense(serializers.Serializer):
    subscription = serializers.IntegerField(source="subscription_id")
    product = serializers.CharField(source="subscription.product.name")
    sku = serializers.CharField(source="subscription.product.sku")
    assigned_at = serializers.DateTimeField()


class CustomerUser(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(help_text=_("The part before the @ of the sign-in name."))
    user_principal_name = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField(help_text=_("The contact e-mail address (their sign-in)."))
    phone = serializers.CharField(allow_blank=True)
    is_admin = serializers.BooleanField()
    activated = serializers.SerializerMethodField(
        help_text=_("Whether the person has chosen a password through the activation link.")
    )
    created_at = serializers.DateTimeField()
    licenses = CustomerUserLicense(many=True, source="licenses.all")

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_activated(self, tenant_user: TenantUser) -> bool:
        return tenant_user.user is not None and tenant_user.user.has_usable_password()


class CustomerUserPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CustomerUser(many=True)


class CustomerSeats(serializers.Serializer):
    subscription = serializers.IntegerField()
    product = serializers.CharField()
    sku = serializers.CharField()
    end_date = serializers.DateField()
    seats = serializers.IntegerField()
    used = serializers.IntegerField()
    free = serializers.IntegerField()
    assignable = serializers.BooleanField(
        help_text=_("Whether a license of it can be assigned now (see problem).")
    )
    problem = serializers.CharField(allow_null=True)


class CustomerUserRemoved(serializers.Serializer):
    id = serializers.IntegerField()
    licenses_freed = serializers.IntegerField()


class ActivationResent(serializers.Serializer):
    email = serializers.EmailField()
    detail = serializers.CharField()


class CustomerUserLicenseAssign(serializers.Serializer):
    subscription = serializers.IntegerField(help_text=_("One of the customer's subscriptions."))


_EXAMPLE_TENANT = Tenant(domain_prefix="contoso")
_USERNAME = serializers.CharField(
    max_length=253,
    help_text=_("Lower-case letters, digits, dots and hyphens: the part before the @."),
)
_PHONE = serializers.CharField(required=False, allow_blank=True, max_length=32)
CustomerUserAdd = form_serializer(
    "CustomerUserAdd",
    TenantUserForm(tenant=_EXAMPLE_TENANT),
    username=_USERNAME,
    phone=_PHONE,
    language=serializers.ChoiceField(
        choices=[code for code, _name in settings.LANGUAGES],
        required=False,
        help_text=_("The language of their e-mails; left out, the customer's preferred one."),
    ),
    licenses=serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text=_(
            "Subscriptions to give the person a license of (needs a relationship that allows "
            "assigning licenses)."
        ),
    ),
)
CustomerUserEdit = form_serializer(
    "CustomerUserEdit",
    TenantUserForm(tenant=_EXAMPLE_TENANT, tenant_user=TenantUser()),
    username=_USERNAME,
    phone=_PHONE,
)

LICENSE_EXAMPLE = {
    "subscription": 42,
    "product": "Business Standard",
    "sku": "BUS-STD",
    "assigned_at": "2026-11-27T09:14:03Z",
}
USER_EXAMPLE = {
    "id": 118,
    "username": "lynne.robbins",
    "user_principal_name": "lynne.robbins@contoso.cloudsuite.example",
    "first_name": "Lynne",
    "last_name": "Robbins",
    "email": "lynne@contoso.example",
    "phone": "",
    "is_admin": False,
    "activated": False,
    "created_at": "2026-11-27T09:14:03Z",
    "licenses": [LICENSE_EXAMPLE],
}
USER_PAGE_EXAMPLE = {
    "next": "https://portal.example/api/v1/customers/7/users/?cursor=cD0xMTc%3D",
    "previous": None,
    "results": [USER_EXAMPLE],
}
SEATS_EXAMPLE = {
    "subscription": 42,
    "product": "Business Standard",
    "sku": "BUS-STD",
    "end_date": "2027-11-26",
    "seats": 25,
    "used": 24,
    "free": 1,
    "assignable": True,
    "problem": None,
}
REMOVED_EXAMPLE = {"id": 118, "licenses_freed": 1}
ACTIVATION_EXAMPLE = {
    "email": "lynne@contoso.example",
    "detail": "A new activation e-mail is on its way to lynne@contoso.example.",
}


def _example(value, name: str = "Example", status_code: int = 200) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])]


def prefilled(form) -> dict:
    """What the page's form shows filled in before anyone types (the language: the customer's),
    for the fields a request leaves out."""
    return form_data(
        {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    )


def user_data(tenant_user: TenantUser) -> dict:
    """One user as the API shows them, with their licenses (loaded here)."""
    return CustomerUser(user_licenses_prefetch(tenant_user)).data


def seats_data(tenant: Tenant) -> list[dict]:
    """The tenant's subscriptions with their seats, as "Add a user" offers them."""
    return [
        {
            "subscription": choice.subscription.pk,
            "product": choice.subscription.product.name,
            "sku": choice.subscription.product.sku,
            "end_date": choice.subscription.end_date,
            "seats": choice.subscription.seats,
            "used": choice.used,
            "free": choice.free,
            "assignable": choice.problem is None,
            "problem": choice.problem,
        }
        for choice in seat_choices(tenant, timezone.localdate())
    ]


# --- Errors as the pages word them ------------------------------------------------------------


def user_refused(error: TenantUserError) -> Problem:
    """A user the service refused to add or change: the form field's error, as on the page."""
    return invalid({error.field or "non_field_errors": [str(error)]})


def license_refused(error: LicenseError, field: str) -> Problem:
    """No seat (taken meanwhile, all assigned) or a subscription whose licenses cannot be
    assigned (its lifecycle): nothing changed."""
    return Problem("license_unavailable", str(error), status_code=409, errors={field: [str(error)]})


def email_links_limited(until) -> Problem:
    """The link e-mails' limit, as the page words it, with Retry-After."""
    problem = Problem(
        "email_link_limit",
        " ".join(
            [
                _(
                    "To protect mailboxes, no more password-reset or activation e-mails are sent "
                    "for this address or from your network for a while."
                ),
                _("You can ask again at %(time)s UTC (in %(wait)s).")
                % {"time": timezone.localtime(until).strftime("%H:%M"), "wait": timeuntil(until)},
            ]
        ),
        status_code=429,
    )
    problem.wait = retry_after_seconds(until)
    return problem


# --- Endpoints ----------------------------------------------------------------------------------


@extend_schema(tags=["users"])
class TenantUsersApiView(ApiView):
    # Every endpoint here: a customer (`pk`) through the tenant rule, with the page's
    # permission for the act.

    scopes = {
        "GET": "users:read",
        "POST": "users:write",
        "PATCH": "users:write",
        "DELETE": "users:write",
    }

    def access(self, pk: int, permission: Permission) -> TenantAccess:
        return tenant_access(user=self.request.user, tenant_id=pk, permission=permission)


SEARCH = OpenApiParameter(
    "q",
    str,
    description=_("Words that each match a name, the user name or the contact e-mail."),
)


class CustomerUsersView(TenantUsersApiView):
    @extend_schema(
        operation_id="customer_users_list",
        summary=_("List a customer's users"),
        parameters=[SEARCH, *PAGE_PARAMETERS],
        responses={200: CustomerUserPage},
        examples=_example(USER_PAGE_EXAMPLE),
    )
    def get(self, request, pk: int):
        """The customer's users, newest first, each with their licenses: for a partner that
        created the customer or is its partner of record, or under a relationship whose roles
        allow seeing users."""
        access = self.access(pk, Permission.USERS_READ)
        search = request.query_params.get("q", "").strip()
        paginator = CursorPage()
        users = paginator.paginate_queryset(tenant_users(access.tenant, search), request, self)
        return paginator.get_paginated_response(CustomerUser(users, many=True).data)

    @extend_schema(
        operation_id="customer_users_create",
        summary=_("Add a user to a customer"),
        request=CustomerUserAdd,
        responses={201: CustomerUser},
        examples=_example(USER_EXAMPLE, status_code=201),
    )
    @idempotent
    def post(self, request, pk: int):
        """Add a user, who gets an activation e-mail, with licenses of `licenses` (all in one
        transaction), under a relationship that allows managing users (and, for licenses,
        assigning them). Making an administrator needs a global administrator relationship."""
        access = self.access(pk, Permission.USERS_MANAGE)
        # The seats are always read, so that licenses asked for are checked, then refused by
        # the service (404) when the relationship does not allow assigning them: never dropped.
        seats = seat_choices(access.tenant, timezone.localdate())
        data = prefilled(TenantUserForm(tenant=access.tenant)) | form_data(request.data)
        form = TenantUserForm(data, tenant=access.tenant, seat_choices=seats)
        cleaned = form_clean(form)
        try:
            tenant_user = tenant_user_add(
                access=access, details=form.details(), subscriptions=cleaned.get("licenses", [])
            )
        except TenantUserError as error:
            raise user_refused(error) from None
        except LicenseError as error:
            raise license_refused(error, "licenses") from None
        return Response(
            user_data(tenant_user),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:customer_user", args=[pk, tenant_user.pk])},
        )


class CustomerUserView(TenantUsersApiView):
    @extend_schema(
        operation_id="customer_user_retrieve",
        summary=_("Read one of a customer's users"),
        responses={200: CustomerUser},
        examples=_example(USER_EXAMPLE),
    )
    def get(self, request, pk: int, user_id: int):
        """The user's details and licenses."""
        access = self.access(pk, Permission.USERS_READ)
        return Response(user_data(tenant_user_of(access, user_id)))

    @extend_schema(
        operation_id="customer_user_update",
        summary=_("Change one of a customer's users"),
        request=CustomerUserEdit,
        responses={200: CustomerUser},
        examples=_example(USER_EXAMPLE),
    )
    def patch(self, request, pk: int, user_id: int):
        """Change the fields sent (the others stay): names, user name, contact e-mail (also
        their sign-in), phone, administrator. An administrator's role changes only under a
        global administrator relationship; the last administrator stays one."""
        access = self.access(pk, Permission.USERS_MANAGE)
        tenant_user = tenant_user_of(access, user_id)
        data = form_data(tenant_user_initial(tenant_user)) | form_data(request.data)
        form = TenantUserForm(data, tenant=access.tenant, tenant_user=tenant_user)
        form_clean(form)
        try:
            tenant_user_edit(access=access, tenant_user=tenant_user, details=form.details())
        except TenantUserError as error:
            raise user_refused(error) from None
        return Response(user_data(tenant_user))

    @extend_schema(
        operation_id="customer_user_remove",
        summary=_("Remove one of a customer's users"),
        responses={200: CustomerUserRemoved},
        examples=_example(REMOVED_EXAMPLE),
    )
    def delete(self, request, pk: int, user_id: int):
        """Remove the user and their portal account; their licenses are freed. Neither the last
        administrator, nor an administrator unless under a global administrator relationship."""
        access = self.access(pk, Permission.USERS_MANAGE)
        tenant_user = tenant_user_of(access, user_id)
        try:
            freed = tenant_user_remove(access=access, tenant_user=tenant_user)
        except TenantUserError as error:
            raise Problem("tenant_user_refused", str(error), status_code=409) from None
        return Response({"id": user_id, "licenses_freed": freed})


class CustomerUserActivationView(TenantUsersApiView):
    @extend_schema(
        operation_id="customer_user_activation_resend",
        summary=_("Send a user's activation e-mail again"),
        request=None,
        responses={202: ActivationResent},
        examples=_example(ACTIVATION_EXAMPLE, status_code=202),
    )
    def post(self, request, pk: int, user_id: int):
        """A new activation link for a user who has not activated their account yet (409 when
        they have). Limited per address and per client, as every link e-mail: past it, 429 with
        Retry-After."""
        access = self.access(pk, Permission.USER_ACTIVATION_RESEND)
        tenant_user = tenant_user_of(access, user_id)
        try:
            sent = activation_resend_limited(
                account=tenant_user, access=access, client_address=self.client_address
            )
        except EmailLinksLimited as limited:
            raise email_links_limited(limited.until) from None
        if not sent:
            raise Problem(
                "already_activated",
                _("This user has already activated their account."),
                status_code=409,
            )
        detail = _("A new activation e-mail is on its way to %(email)s.") % {
            "email": tenant_user.email
        }
        return Response(
            {"email": tenant_user.email, "detail": detail}, status=status.HTTP_202_ACCEPTED
        )


class CustomerUserLicensesView(TenantUsersApiView):
    @extend_schema(
        operation_id="customer_user_license_assign",
        summary=_("Assign a license to a user"),
        request=CustomerUserLicenseAssign,
        responses={201: CustomerUserLicense, 200: CustomerUserLicense},
        examples=_example(LICENSE_EXAMPLE, status_code=201),
    )
    @idempotent
    def post(self, request, pk: int, user_id: int):
        """One seat of the subscription for the user: 201, or 200 when they had it already.
        409 when no seat is free or the subscription's licenses cannot be assigned."""
        access = self.access(pk, Permission.LICENSES_MANAGE)
        tenant_user = tenant_user_of(access, user_id)
        body = serializer_clean(CustomerUserLicenseAssign(data=form_data(request.data)))
        subscription = subscription_of(access, body["subscription"])
        try:
            assigned = license_assign(
                access=access, subscription=subscription, tenant_user=tenant_user
            )
        except LicenseError as error:
            raise license_refused(error, "subscription") from None
        assigned_license = License.objects.select_related("subscription__product").get(
            subscription=subscription, tenant_user=tenant_user
        )
        return Response(
            CustomerUserLicense(assigned_license).data,
            status=status.HTTP_201_CREATED if assigned else status.HTTP_200_OK,
        )


class CustomerUserLicenseView(TenantUsersApiView):
    @extend_schema(
        operation_id="customer_user_license_unassign",
        summary=_("Unassign a user's license"),
        responses={204: None},
    )
    def delete(self, request, pk: int, user_id: int, subscription_id: int):
        """Free the user's seat of the subscription: 204; 404 when they have none."""
        access = self.access(pk, Permission.LICENSES_MANAGE)
        tenant_user = tenant_user_of(access, user_id)
        subscription = subscription_of(access, subscription_id)
        if not license_unassign(access=access, subscription=subscription, tenant_user=tenant_user):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerLicensesView(TenantUsersApiView):
    @extend_schema(
        operation_id="customer_licenses_list",
        summary=_("A customer's seats per subscription"),
        responses={200: CustomerSeats(many=True)},
        examples=_example(SEATS_EXAMPLE),
    )
    def get(self, request, pk: int):
        """Each subscription with its seats, used and free, by product, and whether a license
        of it can be assigned now (and if not, why)."""
        access = self.access(pk, Permission.USERS_READ)
        return Response(seats_data(access.tenant))


USER = "customers/<int:pk>/users/<int:user_id>/"

urlpatterns = [
    path("customers/<int:pk>/users/", CustomerUsersView.as_view(), name="customer_users"),
    path(USER, CustomerUserView.as_view(), name="customer_user"),
    path(
        f"{USER}resend-activation/",
        CustomerUserActivationView.as_view(),
        name="customer_user_activation",
    ),
    path(f"{USER}licenses/", CustomerUserLicensesView.as_view(), name="customer_user_licenses"),
    path(
        f"{USER}licenses/<int:subscription_id>/",
        CustomerUserLicenseView.as_view(),
        name="customer_user_license",
    ),
    path("customers/<int:pk>/licenses/", CustomerLicensesView.as_view(), name="customer_licenses"),
]
