"""Customers' API: the partner's customers (list, detail), a customer created from product keys
in one call, and product keys applied to a customer (add licenses, renew, with a dry run).

The same selectors, tenant rule and services as the partner's pages: the list and the detail are
`tenants.selectors.partner_customer_list` and `partner_customer_of` (the customer list and a
customer's page); creating is `tenant_create_from_keys` (the browser's key entry, review and
step 2, all or nothing); applying is `keys_apply_from_keys` (the key entry of "Add licenses" or
"Renew", then the page's preview or "Apply product keys").
"""

from types import SimpleNamespace

from django.db.models import Q
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from keys.api import KeyFormatProblem, limit_reached
from keys.codec import KeyFormatError, validate_key
from keys.forms import MAX_KEYS_PER_STEP
from keys.services import KeyGuessLimitReached
from portal.api.errors import Problem, field_errors
from portal.api.forms import form_data, form_errors, form_serializer, invalid, serializer_clean
from portal.api.idempotency import idempotent
from portal.api.schema import PAGE_PARAMETERS
from portal.api.views import ApiView, KeysetPage
from tenants.access import Permission, TenantAccess, tenant_access
from tenants.forms import TenantForm
from tenants.models import RedemptionTarget
from tenants.selectors import (
    CUSTOMER_ORDERS,
    MAX_SEARCH_LENGTH,
    customer_rows,
    partner_customer_list,
    partner_customer_of,
    partner_next_end,
)
from tenants.serializers import (
    CustomerDetailSerializer,
    CustomerSerializer,
    KeysAppliedSerializer,
    customer_detail_data,
    keys_applied,
)
from tenants.services import (
    FewerSeatsUnconfirmed,
    KeysApplyError,
    KeysRefused,
    TenantCreateError,
    TenantDetails,
    keys_apply_from_keys,
    tenant_create_from_keys,
)

Intent = RedemptionTarget.Intent


# --- What the API shows ------------------------------------------------------------------------


def _context(view) -> dict:
    return {"partner": view.partner, "today": timezone.localdate()}


def customer_detail(view, pk: int) -> dict:
    """The customer as its page shows it, through the same rule (READ): 404 otherwise."""
    access, tenant = partner_customer_of(view.request.user, view.partner, pk)
    return customer_detail_data(access, tenant, view.partner, timezone.localdate())


# --- Realistic examples (tests check that the answers have exactly their fields) ---------------

SUBSCRIPTION_EXAMPLE = {
    "id": 812,
    "product": "Business Standard",
    "sku": "BUS-STD",
    "seats": 25,
    "seats_used": 19,
    "start_date": "2026-03-02",
    "end_date": "2027-03-01",
    "state": "active",
    "state_label": "Active",
    "billed_directly": False,
    "ended_by_direct_billing": False,
}
CUSTOMER_EXAMPLE = {
    "id": 4211,
    "name": "Contoso",
    "domain": "contoso.cloudsuite.example",
    "domain_prefix": "contoso",
    "country": "FR",
    "language": "fr",
    "created_at": "2026-03-02T09:41:07Z",
    "created_by_me": True,
    "next_end_date": "2027-03-01",
    "may_redeem": True,
    "may_read_subscriptions": True,
    "may_read_users": True,
    "subscriptions": [SUBSCRIPTION_EXAMPLE],
}
CUSTOMER_DETAIL_EXAMPLE = {
    **CUSTOMER_EXAMPLE,
    "admins": [
        {
            "id": 9120,
            "first_name": "Megan",
            "last_name": "Bowen",
            "email": "megan@contoso.example",
            "activated": False,
        }
    ],
    "relationship": None,
}


# --- The customer list and a new customer -------------------------------------------------------


class CustomerListQuery(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy(
            "Words that must each match the name, the domain, or an administrator's name or "
            "e-mail address (as the customer list's search)."
        ),
    )
    sort = serializers.ChoiceField(
        choices=list(CUSTOMER_ORDERS),
        default="name",
        help_text=gettext_lazy("By name, or the soonest end date first (none last)."),
    )
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$", required=False, help_text=gettext_lazy("ISO 3166-1 alpha-2 code.")
    )
    has_subscriptions = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=gettext_lazy(
            "Only customers with (true) or without (false) a subscription you may read."
        ),
    )
    created_by_me = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=gettext_lazy(
            "Only customers your organization created (true), or those it reaches otherwise: "
            "partner of record, delegated administration (false)."
        ),
    )


def _query(request) -> dict:
    """The query string, validated (a plain dict: an absent boolean is "not filtered")."""
    return serializer_clean(CustomerListQuery(data=request.query_params.dict()))


def _customers(view, query: dict):
    """The page's list (search, order) and the filters; what the partner may do in each row is
    added once the page is read (`customer_rows`)."""
    partner = view.partner
    search = query["q"].strip()[:MAX_SEARCH_LENGTH]
    tenants = partner_customer_list(partner, search, query["sort"])
    if query.get("country"):
        tenants = tenants.filter(country=query["country"].upper())
    if query["has_subscriptions"] is not None:
        tenants = tenants.annotate(readable_end=partner_next_end(partner)).filter(
            readable_end__isnull=not query["has_subscriptions"]
        )
    if query["created_by_me"] is not None:
        mine = Q(created_by_partner=partner)
        tenants = tenants.filter(mine if query["created_by_me"] else ~mine)
    return tenants


CustomerPageOut = inline_serializer(
    "CustomerPage",
    {
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": CustomerSerializer(many=True),
    },
)

KeysIn = serializers.ListField(
    child=serializers.CharField(max_length=100, trim_whitespace=False),
    min_length=1,
    max_length=MAX_KEYS_PER_STEP,
    help_text=gettext_lazy("Product keys as typed, with or without hyphens."),
)
# The step-2 form's own fields (its class's: an instance would read the countries at import).
CustomerCreateSerializer = form_serializer(
    "CustomerCreate", SimpleNamespace(fields=TenantForm.base_fields), keys=KeysIn
)


class CustomerKeysSerializer(serializers.Serializer):
    keys = KeysIn


def _create_input(view, request) -> tuple[list[str], TenantDetails]:
    """The keys and the step-2 details, each checked by its own rule (the step-2 form's, with its
    messages): every error at once, and all before any key is looked up."""
    form = TenantForm(form_data(request.data), partner=view.partner)
    keys = CustomerKeysSerializer(data=request.data)
    errors = {}
    if not keys.is_valid():
        errors |= field_errors(keys.errors)
    if not form.is_valid():
        errors |= form_errors(form)
    if errors:
        raise invalid(errors)
    return keys.validated_data["keys"], form.details()


class KeyRefusalSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=gettext_lazy("The key's place, from 0."))
    message = serializers.CharField()
    format_error = KeyFormatProblem


ProblemOut = inline_serializer(
    "CustomerProblem",
    {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(required=False),
        "keys": KeyRefusalSerializer(many=True, required=False),
    },
)


def keys_refused(refused: KeysRefused, raw_keys: list[str]) -> Problem:
    """The key entry's errors per key; a malformed key also says where (the codec's answer)."""
    refusals = []
    for index, message in sorted(refused.errors.items()):
        refusal = {"index": index, "message": message, "format_error": None}
        try:
            validate_key(raw_keys[index])
        except KeyFormatError as error:
            refusal["format_error"] = {
                "code": error.code,
                "position": error.position,
                "character": error.character,
            }
        refusals.append(refusal)
    return Problem(
        "keys_refused",
        _("Some product keys cannot be redeemed: see keys. Nothing was reserved."),
        errors={"keys": {str(r["index"]): [r["message"]] for r in refusals}},
        keys=refusals,
    )


def _create_problem(error: TenantCreateError) -> Problem:
    if error.field:  # taken between the form's check and the creation
        return invalid({error.field: [str(error)]})
    return Problem("customer_not_created", str(error), status_code=status.HTTP_409_CONFLICT)


class CustomerListView(ApiView):
    scopes = {"GET": "customers:read", "POST": "customers:write"}

    @extend_schema(
        operation_id="customers_list",
        summary=gettext_lazy("List your customers"),
        parameters=[CustomerListQuery, *PAGE_PARAMETERS],
        responses={200: CustomerPageOut},
        examples=[
            OpenApiExample(
                "A page of customers",
                response_only=True,
                value={
                    "next": "https://portal.example/api/v1/customers/"
                    "?cursor=cD0lNUIlMjJDb250b3NvJTIyJTJDNDIxMSU1RA%3D%3D",
                    "previous": None,
                    "results": [CUSTOMER_EXAMPLE],
                },
            )
        ],
    )
    def get(self, request):
        """The customers your organization created, is partner of record for, or administers
        under a delegated-admin relationship: as the customer list shows them, with what you
        may do in each. Subscriptions only where your roles include reading them."""
        query = _query(request)
        paginator = KeysetPage(CUSTOMER_ORDERS[query["sort"]])
        page = paginator.paginate_queryset(_customers(self, query), request, view=self)
        page = customer_rows(self.partner, page)
        data = CustomerSerializer(page, many=True, context=_context(self)).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="customers_create",
        summary=gettext_lazy("Create a customer from product keys"),
        request=CustomerCreateSerializer,
        responses={
            201: CustomerDetailSerializer,
            400: OpenApiResponse(ProblemOut, description=gettext_lazy("Invalid fields or keys.")),
            409: OpenApiResponse(ProblemOut, description=gettext_lazy("The keys changed.")),
            429: OpenApiResponse(ProblemOut, description=gettext_lazy("Guessing limit.")),
        },
        examples=[
            OpenApiExample(
                "The new customer",
                response_only=True,
                status_codes=["201"],
                value=CUSTOMER_DETAIL_EXAMPLE,
            )
        ],
    )
    @idempotent
    def post(self, request):
        """The browser's three steps in one call: the keys are reserved, confirmed and redeemed
        into a new customer with the step-2 details, its administrator is created and the same
        e-mails go out. All or nothing: when anything fails, no customer exists and every key
        is available again. The fields are checked first, before any key is looked up."""
        keys, details = _create_input(self, request)
        try:
            tenant = tenant_create_from_keys(
                user=request.user,
                partner=self.partner,
                raw_keys=keys,
                details=details,
                client_address=self.client_address,
            )
        except KeysRefused as refused:
            raise keys_refused(refused, keys) from None
        except KeyGuessLimitReached as error:
            raise limit_reached(error) from None
        except TenantCreateError as error:
            raise _create_problem(error) from None
        location = reverse("api:customer", args=[tenant.pk])
        return Response(
            customer_detail(self, tenant.pk), status=201, headers={"Location": location}
        )


class CustomerDetailView(ApiView):
    scopes = {"GET": "customers:read"}

    @extend_schema(
        operation_id="customers_retrieve",
        summary=gettext_lazy("A customer"),
        responses={200: CustomerDetailSerializer},
        examples=[OpenApiExample("A customer", response_only=True, value=CUSTOMER_DETAIL_EXAMPLE)],
    )
    def get(self, request, pk: int):
        """The customer as its page shows it: the organization, its subscriptions (when your
        roles include reading them), its administrators and whether each has activated their
        account. 404 for a customer that is not yours."""
        return Response(customer_detail(self, pk))


# --- Product keys for an existing customer: add licenses, renew ---------------------------------


class KeysApplySerializer(serializers.Serializer):
    keys = KeysIn
    dry_run = serializers.BooleanField(
        default=False,
        help_text=gettext_lazy("Only the preview: nothing changes and no key stays reserved."),
    )
    fewer_seats_confirmed = serializers.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "A renewal for fewer seats than the subscription has: you confirm that the "
            "licenses in `licenses_removed` go."
        ),
    )
    licenses_removed = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        default=list,
        max_length=10_000,
        help_text=gettext_lazy(
            "The licenses a renewal for fewer seats removes, as the dry run names them "
            "(its `licenses_removed`)."
        ),
    )


ApplyProblemOut = inline_serializer(
    "KeysApplyProblem",
    {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "problems": serializers.ListField(child=serializers.CharField()),
        "preview": KeysAppliedSerializer(),
    },
)


def _apply_problem(error: KeysApplyError, access: TenantAccess, intent: str) -> Problem:
    if not error.rows:  # the keys changed under the call (a race): nothing was applied
        return Problem("keys_changed", str(error), status_code=status.HTTP_409_CONFLICT)
    code = (
        "fewer_seats_unconfirmed"
        if isinstance(error, FewerSeatsUnconfirmed)
        else "keys_not_applicable"
    )
    return Problem(
        code,
        str(error),
        status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        problems=error.problems,
        preview=keys_applied(access.tenant, intent, error.rows, applied=False, dry_run=False),
    )


KEYS_APPLY_EXAMPLE = {
    "customer": {"id": 4211, "name": "Contoso", "domain": "contoso.cloudsuite.example"},
    "intent": "renew",
    "dry_run": True,
    "applied": False,
    "products": [
        {
            "product": "Business Standard",
            "sku": "BUS-STD",
            "subscription": 812,
            "key_count": 1,
            "key_seats": 20,
            "before": {
                "seats": 25,
                "end_date": "2027-03-01",
                "state": "active",
                "state_label": "Active",
            },
            "after": {
                "seats": 20,
                "end_date": "2028-03-01",
                "state": "active",
                "state_label": "Active",
            },
            "problem": "",
            "notes": [],
            "fewer_seats": True,
            "seats_missing": 5,
            "licenses_lost": [
                {
                    "license": 30177,
                    "tenant_user": 9388,
                    "name": "Lynne Robbins",
                    "email": "lynne@contoso.example",
                    "username": "lynne.robbins@contoso.cloudsuite.example",
                    "is_admin": False,
                }
            ],
        }
    ],
    "blocked": False,
    "fewer_seats": True,
    "users_losing": 1,
    "licenses_removed": [30177],
}


ADD_LICENSES_EXAMPLE = {
    **KEYS_APPLY_EXAMPLE,
    "intent": "add_licenses",
    "dry_run": False,
    "applied": True,
    "products": [
        {
            **KEYS_APPLY_EXAMPLE["products"][0],
            "key_count": 2,
            "key_seats": 10,
            "after": {**KEYS_APPLY_EXAMPLE["products"][0]["before"], "seats": 35},
            "fewer_seats": False,
            "seats_missing": 0,
            "licenses_lost": [],
        }
    ],
    "fewer_seats": False,
    "users_losing": 0,
    "licenses_removed": [],
}


class CustomerKeysView(ApiView):
    """Product keys applied to a customer, as `intent` (the two endpoints below)."""

    scopes = {"POST": "subscriptions:write"}
    intent: str = ""

    def apply(self, request, pk: int) -> Response:
        access = tenant_access(user=request.user, tenant_id=pk, permission=Permission.REDEEM)
        data = serializer_clean(KeysApplySerializer(data=request.data))
        try:
            rows = keys_apply_from_keys(
                access=access,
                intent=self.intent,
                raw_keys=data["keys"],
                client_address=self.client_address,
                dry_run=data["dry_run"],
                fewer_seats_confirmed=data["fewer_seats_confirmed"],
                licenses_removed=data["licenses_removed"],
            )
        except KeysRefused as refused:
            raise keys_refused(refused, data["keys"]) from None
        except KeyGuessLimitReached as error:
            raise limit_reached(error) from None
        except KeysApplyError as error:
            raise _apply_problem(error, access, self.intent) from None
        dry_run = data["dry_run"]
        return Response(
            keys_applied(access.tenant, self.intent, rows, applied=not dry_run, dry_run=dry_run)
        )


def _keys_schema(operation_id: str, summary, example: OpenApiExample) -> extend_schema:
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        request=KeysApplySerializer,
        responses={
            200: KeysAppliedSerializer,
            400: OpenApiResponse(ProblemOut, description=gettext_lazy("Invalid fields or keys.")),
            409: OpenApiResponse(ProblemOut, description=gettext_lazy("The keys changed.")),
            422: OpenApiResponse(
                ApplyProblemOut,
                description=gettext_lazy(
                    "Nothing applied: `keys_not_applicable` (a product's problem), or "
                    "`fewer_seats_unconfirmed` (confirm the licenses that go); with the preview."
                ),
            ),
            429: OpenApiResponse(ProblemOut, description=gettext_lazy("Guessing limit.")),
        },
        examples=[example],
    )


class AddLicensesView(CustomerKeysView):
    intent = Intent.ADD_LICENSES

    @_keys_schema(
        "customers_add_licenses",
        gettext_lazy("Add licenses with product keys"),
        OpenApiExample("Ten seats added", response_only=True, value=ADD_LICENSES_EXAMPLE),
    )
    @idempotent
    def post(self, request, pk: int):
        """ "Add licenses" on the customer's page: the keys' seats are added to the customer's
        subscription of each product (a product it does not have starts a new subscription).
        With `dry_run`, the preview only. Nothing is applied when a product has a problem."""
        return self.apply(request, pk)


class RenewView(CustomerKeysView):
    intent = Intent.RENEW

    @_keys_schema(
        "customers_renew",
        gettext_lazy("Renew with product keys"),
        OpenApiExample(
            "A renewal for fewer seats, dry run", response_only=True, value=KEYS_APPLY_EXAMPLE
        ),
    )
    @idempotent
    def post(self, request, pk: int):
        """ "Renew" on the customer's page: each subscription runs a new term from its end date
        (from today when it lapsed), with the keys' seats. A renewal for fewer seats removes the
        licenses beyond them: dry-run first, then send `fewer_seats_confirmed` and the dry run's
        `licenses_removed`; otherwise 422 `fewer_seats_unconfirmed`, with the preview."""
        return self.apply(request, pk)


urlpatterns = [
    path("customers/", CustomerListView.as_view(), name="customers"),
    path("customers/<int:pk>/", CustomerDetailView.as_view(), name="customer"),
    path(
        "customers/<int:pk>/add-licenses/",
        AddLicensesView.as_view(),
        name="customer_add_licenses",
    ),
    path("customers/<int:pk>/renew/", RenewView.as_view(), name="customer_renew"),
]
