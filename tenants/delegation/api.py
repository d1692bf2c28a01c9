"""Delegated administration's API, the partner's side: offers (send, list, withdraw, resend),
relationships (list, terminate) and the activity log.

The same access rules (`tenants.access.partner_offer`, `partner_relationship`), forms
(`OfferForm`, the activity log's filter form), services and messages as the partner's pages in
`tenants/delegation/views.py`. A key acting as an agent holds no `delegation:write`: asked to send
an offer, it is told why, in the words the page uses for an agent.
"""

import dataclasses

from django.core.exceptions import PermissionDenied
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.errors import PROBLEM_CONTENT_TYPE, Problem
from portal.api.forms import form_clean, form_data, form_serializer, invalid, serializer_clean
from portal.api.idempotency import idempotent
from portal.api.schema import PAGE_PARAMETERS, ProblemSerializer
from portal.api.views import ApiView, KeysetPage
from portal.audit_labels import action_label
from portal.throttle import retry_after_seconds
from tenants.access import (
    partner_customers,
    partner_offer,
    partner_relationship,
    relationship_may_terminate,
)
from tenants.delegation.activity import activity_filter
from tenants.delegation.forms import (
    ActivityFilterForm,
    OfferForm,
    activity_filter_form,
    offer_default_message,
)
from tenants.delegation.offers import (
    OfferClosed,
    OfferError,
    OfferPending,
    OfferResendTooSoon,
    offer_closed_message,
    offer_eligibility_problem,
    offer_resend,
    offer_send,
    offer_withdraw,
)
from tenants.delegation.relationships import relationship_terminate
from tenants.delegation.serializers import OfferSerializer, RelationshipSerializer
from tenants.models import (
    MAX_DURATION_DAYS,
    ActivityLog,
    DelegatedRole,
    DelegationOffer,
    DelegationRelationship,
    Tenant,
)
from tenants.serializers import CustomerRef

# The partner's pages' orders (the last field unique, for the keyset cursor).
OFFER_ORDER = ("-created_at", "-id")
RELATIONSHIP_ORDER = ("state", "ends_on", "id")
ACTIVITY_ORDER = ("-at", "-id")


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


CLOSED = _problem(_("The offer was answered, withdrawn or expired already (its `state`)."))

# --- Serializers (what the responses hold) ---------------------------------------------------


class ActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    customer = CustomerRef(source="tenant")
    relationship = serializers.IntegerField(source="relationship_id")
    actor = serializers.CharField(
        source="actor_label", help_text=_("Who acted (and with which API key, via the API).")
    )
    via_api = serializers.BooleanField()
    action = serializers.CharField(help_text=_("A stable code, such as tenant_user.created."))
    action_label = serializers.SerializerMethodField()
    target = serializers.CharField(source="target_label", allow_blank=True)
    details = serializers.DictField()

    def get_action_label(self, entry: ActivityLog) -> str:
        return str(action_label(entry.action))


def _paginated(name: str, item: type[serializers.Serializer]):
    return inline_serializer(
        name,
        {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


class OfferFilters(serializers.Serializer):
    state = serializers.ChoiceField(choices=DelegationOffer.State.choices, required=False)
    customer = serializers.IntegerField(
        min_value=1, required=False, help_text=_("A customer's id.")
    )


class RelationshipFilters(serializers.Serializer):
    state = serializers.ChoiceField(choices=DelegationRelationship.State.choices, required=False)
    customer = serializers.IntegerField(
        min_value=1, required=False, help_text=_("A customer's id.")
    )


ActivityFilters = form_serializer(
    "ActivityFilters",
    ActivityFilterForm(actions=[]),
    action=serializers.CharField(
        required=False, help_text=_("An action code, as in the entries' `action`.")
    ),
)


class OfferSend(form_serializer("OfferFormFields", OfferForm(tenants=Tenant.objects.none()))):
    """An offer, as the page's form takes it (the same rules and messages)."""

    tenant = None
    customer = serializers.IntegerField(help_text=_("The customer's id: one of your customers."))
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=DelegatedRole.choices),
        help_text=_("Ask only for what you need: each role allows what its line says."),
    )
    duration_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DURATION_DAYS,
        required=False,
        help_text=_("From 1 to 730 days from the customer's acceptance; 730 when left out."),
    )
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text=_(
            "Left out: the page's message, in the customer's language. Sent empty: no message."
        ),
    )


# --- Examples (a test checks each against a real response) -----------------------------------

CUSTOMER_EXAMPLE = {"id": 12, "name": "Contoso", "domain": "contoso.cloudsuite.example"}
OFFER_EXAMPLE = {
    "id": 41,
    "customer": CUSTOMER_EXAMPLE,
    "roles": ["user_admin", "license_admin"],
    "duration_days": 365,
    "auto_extend": False,
    "message": "Hello, …",
    "state": "pending",
    "open": True,
    "sent_at": "2026-03-02T09:15:00Z",
    "sent_by": "partner@northwind.example",
    "expires_at": "2026-05-31T09:15:00Z",
    "answered_at": None,
    "last_sent_at": "2026-03-02T09:15:00Z",
    "resend_after": "2026-03-02T09:25:00Z",
}
RELATIONSHIP_EXAMPLE = {
    "id": 7,
    "customer": CUSTOMER_EXAMPLE,
    "offer": 41,
    "roles": ["user_admin", "license_admin"],
    "auto_extend": False,
    "starts_on": "2026-03-03",
    "ends_on": "2027-03-03",
    "state": "active",
    "in_force": True,
    "accepted_at": "2026-03-03T08:02:11Z",
    "ended_at": None,
}
ACTIVITY_EXAMPLE = {
    "id": 301,
    "at": "2026-03-04T10:20:00Z",
    "customer": CUSTOMER_EXAMPLE,
    "relationship": 7,
    "actor": "partner@northwind.example · API key “PSA sync” (pkp_AbCd…9xYz)",
    "via_api": True,
    "action": "tenant_user.created",
    "action_label": "Customer user created",
    "target": "Lynne Robbins",
    "details": {"username": "lynne.robbins", "admin": False},
}


def _page_example(name: str, item: dict, path: str, cursor: str) -> OpenApiExample:
    return OpenApiExample(
        name,
        value={
            "next": f"https://portal.example/api/v1/{path}/?cursor={cursor}",
            "previous": None,
            "results": [item],
        },
        response_only=True,
    )


def _example(name: str, value: dict, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


# --- Helpers ---------------------------------------------------------------------------------


def _filters(serializer_class, request) -> dict:
    return serializer_clean(serializer_class(data=request.query_params))


def _page(view: ApiView, queryset, ordering, serializer_class, **context) -> Response:
    """A page of rows in the page's own order (KeysetPage: a cursor on every field of it)."""
    paginator = KeysetPage(ordering)
    rows = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(rows, many=True, context=context).data)


def _closed(closed: OfferClosed) -> Problem:
    return Problem(
        "offer_closed", offer_closed_message(closed.state), status_code=409, state=closed.state
    )


def _not_allowed(problem: str, **extra) -> Problem:
    return Problem("offer_not_allowed", problem, status_code=403, **extra)


def _offer(offer: DelegationOffer, status_code: int = 200) -> Response:
    return Response(OfferSerializer(offer).data, status=status_code)


def _offer_form(request, partner) -> OfferForm:
    """The page's form on the JSON body: `customer` is the form's `tenant`; a duration left out
    is the one the page's form starts with (the message: see `OfferListView.post`)."""
    data = form_data(request.data)
    data.pop("tenant", None)
    data["tenant"] = data.pop("customer", "")
    data.setdefault("duration_days", str(OfferForm.base_fields["duration_days"].initial))
    return OfferForm(data, tenants=partner_customers(partner))


def _offer_form_clean(form: OfferForm) -> dict:
    try:
        return form_clean(form)
    except Problem as problem:
        if problem.errors and "tenant" in problem.errors:
            problem.errors["customer"] = problem.errors.pop("tenant")
        raise


def _field(name: str | None) -> str:
    return "customer" if name == "tenant" else name or "non_field_errors"


# --- Offers ----------------------------------------------------------------------------------


class OfferListView(ApiView):
    scopes = {"GET": "delegation:read", "POST": "delegation:write"}

    def check_permissions(self, request):
        try:
            super().check_permissions(request)
        except Problem as refused:
            # A key acting as an agent never holds delegation:write. Asked to send an offer, it
            # is told why as an agent is on the page (whom to ask), not only which scope it lacks.
            if request.method != "POST" or refused.problem_code != "insufficient_scope":
                raise
            problem = offer_eligibility_problem(self.membership)
            if problem is None:
                raise
            raise _not_allowed(problem, required_scope=refused.extra["required_scope"]) from None

    @extend_schema(
        operation_id="offers_list",
        summary=_("List the partner's delegated-admin offers"),
        parameters=[OfferFilters, *PAGE_PARAMETERS],
        responses={200: _paginated("OfferPage", OfferSerializer)},
        examples=[
            _page_example(
                "Offers",
                OFFER_EXAMPLE,
                "offers",
                "cD0lNUIlMjIyMDI2LTAzLTAyVDA5JTNBMTUlM0EwMCUyQjAwJTNBMDAlMjIlMkM0MSU1RA%3D%3D",
            )
        ],
    )
    def get(self, request):
        """The partner's offers, newest first, with their states; filters: state, customer."""
        filters = _filters(OfferFilters, request)
        offers = DelegationOffer.objects.filter(partner=self.partner).select_related(
            "tenant", "created_by"
        )
        if "state" in filters:
            offers = offers.filter(state=filters["state"])
        if "customer" in filters:
            offers = offers.filter(tenant_id=filters["customer"])
        return _page(self, offers, OFFER_ORDER, OfferSerializer, now=timezone.now())

    @extend_schema(
        operation_id="offers_send",
        summary=_("Send a delegated-admin offer"),
        request=OfferSend,
        responses={
            201: OfferSerializer,
            (403, PROBLEM_CONTENT_TYPE): _problem(
                _("Not an enrolled partner's admin (the reason, and whom to ask), or the scope.")
            ),
            (409, PROBLEM_CONTENT_TYPE): _problem(_("An offer to this customer is pending.")),
        },
        examples=[_example("Offer sent", OFFER_EXAMPLE, 201)],
    )
    @idempotent
    def post(self, request):
        """As "Send delegated admin offers": the customer's admins get an e-mail with a link;
        nothing is granted before one of them accepts. Only an enrolled partner's admins send
        (403 `offer_not_allowed`, saying why and whom to ask); one pending offer per customer
        (409 `offer_pending`); the form's rules per field (400)."""
        problem = offer_eligibility_problem(self.membership)
        if problem:
            raise _not_allowed(problem)
        form = _offer_form(request, self.partner)
        tenant = _offer_form_clean(form)["tenant"]
        details = form.details()
        if "message" not in request.data:
            message = offer_default_message(self.partner, tenant.preferred_language)
            details = dataclasses.replace(details, message=message)
        try:
            offer = offer_send(membership=self.membership, tenant=tenant, details=details)
        except OfferPending as pending:
            raise Problem(
                "offer_pending", str(pending), status_code=409, pending_offer=pending.offer.pk
            ) from None
        except OfferError as error:
            if error.field:
                raise invalid({_field(error.field): [str(error)]}) from None
            raise _not_allowed(str(error)) from None
        return _offer(offer, status.HTTP_201_CREATED)


class OfferDetailView(ApiView):
    scopes = {"GET": "delegation:read"}

    @extend_schema(
        operation_id="offers_read",
        summary=_("Read one of the partner's offers"),
        responses={200: OfferSerializer},
        examples=[_example("Offer", OFFER_EXAMPLE)],
    )
    def get(self, request, offer_id: int):
        """One of the partner's offers (another partner's: 404)."""
        return _offer(partner_offer(self.membership, offer_id))


class OfferWithdrawView(ApiView):
    scopes = {"POST": "delegation:write"}

    @extend_schema(
        operation_id="offers_withdraw",
        summary=_("Withdraw a pending offer"),
        request=None,
        responses={200: OfferSerializer, (409, PROBLEM_CONTENT_TYPE): CLOSED},
        examples=[_example("Offer withdrawn", OFFER_EXAMPLE | {"state": "withdrawn"})],
    )
    @idempotent
    def post(self, request, offer_id: int):
        """The pending offer is withdrawn: its link stops working. An offer answered, withdrawn
        or expired already: 409 `offer_closed` with its `state`."""
        offer = partner_offer(self.membership, offer_id)
        try:
            offer_withdraw(membership=self.membership, offer=offer)
        except OfferClosed as closed:
            raise _closed(closed) from None
        except PermissionError:
            raise PermissionDenied from None
        return _offer(offer)


class OfferResendView(ApiView):
    scopes = {"POST": "delegation:write"}

    @extend_schema(
        operation_id="offers_resend",
        summary=_("Send a pending offer's e-mail again"),
        request=None,
        responses={
            200: OfferSerializer,
            (409, PROBLEM_CONTENT_TYPE): CLOSED,
            (429, PROBLEM_CONTENT_TYPE): _problem(
                _("Sent less than 10 minutes ago (see Retry-After), or the key's rate limit.")
            ),
        },
        examples=[_example("Offer sent again", OFFER_EXAMPLE)],
    )
    @idempotent
    def post(self, request, offer_id: int):
        """The customer's admins get the offer's e-mail again, at most once every 10 minutes
        (before then: 429 `offer_resend_too_soon` with Retry-After). A closed offer: 409."""
        offer = partner_offer(self.membership, offer_id)
        try:
            offer_resend(membership=self.membership, offer=offer)
        except OfferResendTooSoon as soon:
            problem = Problem(
                "offer_resend_too_soon",
                str(soon),
                status_code=429,
                resend_after=serializers.DateTimeField().to_representation(soon.until),
            )
            problem.wait = retry_after_seconds(soon.until)
            raise problem from None
        except OfferClosed as closed:
            raise _closed(closed) from None
        except PermissionError:
            raise PermissionDenied from None
        offer.refresh_from_db()
        return _offer(offer)


# --- Relationships ---------------------------------------------------------------------------


class RelationshipListView(ApiView):
    scopes = {"GET": "delegation:read"}

    @extend_schema(
        operation_id="relationships_list",
        summary=_("List the partner's delegated-admin relationships"),
        parameters=[RelationshipFilters, *PAGE_PARAMETERS],
        responses={200: _paginated("RelationshipPage", RelationshipSerializer)},
        examples=[
            _page_example(
                "Relationships",
                RELATIONSHIP_EXAMPLE,
                "relationships",
                "cD0lNUIlMjJhY3RpdmUlMjIlMkMlMjIyMDI3LTAzLTAzJTIyJTJDNyU1RA%3D%3D",
            )
        ],
    )
    def get(self, request):
        """The partner's relationships, newest first; filters: state, customer."""
        filters = _filters(RelationshipFilters, request)
        relationships = DelegationRelationship.objects.filter(partner=self.partner).select_related(
            "tenant"
        )
        if "state" in filters:
            relationships = relationships.filter(state=filters["state"])
        if "customer" in filters:
            relationships = relationships.filter(tenant_id=filters["customer"])
        return _page(self, relationships, RELATIONSHIP_ORDER, RelationshipSerializer)


class RelationshipDetailView(ApiView):
    scopes = {"GET": "delegation:read"}

    @extend_schema(
        operation_id="relationships_read",
        summary=_("Read one of the partner's relationships"),
        responses={200: RelationshipSerializer},
        examples=[_example("Relationship", RELATIONSHIP_EXAMPLE)],
    )
    def get(self, request, relationship_id: int):
        """One of the partner's relationships (another partner's: 404)."""
        relationship = partner_relationship(self.membership, relationship_id)
        return Response(RelationshipSerializer(relationship).data)


class RelationshipTerminateView(ApiView):
    scopes = {"POST": "delegation:write"}

    @extend_schema(
        operation_id="relationships_terminate",
        summary=_("Terminate a relationship"),
        request=None,
        responses={
            200: RelationshipSerializer,
            (409, PROBLEM_CONTENT_TYPE): _problem(_("The relationship had already ended.")),
        },
        examples=[
            _example(
                "Relationship terminated",
                RELATIONSHIP_EXAMPLE
                | {"state": "terminated", "in_force": False, "ended_at": "2026-06-01T14:00:00Z"},
            )
        ],
    )
    @idempotent
    def post(self, request, relationship_id: int):
        """ "Terminate relationship": the partner's access to the customer ends now, and both
        sides are told by e-mail. A relationship that had ended already: 409."""
        relationship = partner_relationship(self.membership, relationship_id)
        if relationship_may_terminate(self.membership, relationship) is None:
            raise PermissionDenied
        if not relationship_terminate(relationship=relationship, by=self.membership):
            raise Problem(
                "relationship_ended",
                _("This relationship had already ended."),
                status_code=409,
                state=relationship.state,
            )
        return Response(RelationshipSerializer(relationship).data)


# --- The activity log ------------------------------------------------------------------------


class ActivityListView(ApiView):
    scopes = {"GET": "activity:read"}

    @extend_schema(
        operation_id="activity_list",
        summary=_("Read the partner's activity log"),
        parameters=[ActivityFilters, *PAGE_PARAMETERS],
        responses={200: _paginated("ActivityPage", ActivitySerializer)},
        examples=[
            _page_example(
                "Activity",
                ACTIVITY_EXAMPLE,
                "activity",
                "cD0lNUIlMjIyMDI2LTAzLTA0VDEwJTNBMjAlM0EwMCUyQjAwJTNBMDAlMjIlMkMzMDElNUQ%3D",
            )
        ],
    )
    def get(self, request):
        """What the partner's users (and keys) did in customers under delegated administration,
        newest first, with the page's filters: `start`, `end` (dates) and `action`."""
        entries = ActivityLog.objects.filter(partner=self.partner)
        form = activity_filter_form(entries, request.query_params)
        if form.is_bound:  # unbound: no query parameters, no filter (as the page)
            entries = activity_filter(entries, form_clean(form))
        return _page(self, entries.select_related("tenant"), ACTIVITY_ORDER, ActivitySerializer)


urlpatterns = [
    path("offers/", OfferListView.as_view(), name="offers"),
    path("offers/<int:offer_id>/", OfferDetailView.as_view(), name="offer"),
    path("offers/<int:offer_id>/withdraw/", OfferWithdrawView.as_view(), name="offer_withdraw"),
    path("offers/<int:offer_id>/resend/", OfferResendView.as_view(), name="offer_resend"),
    path("relationships/", RelationshipListView.as_view(), name="relationships"),
    path(
        "relationships/<int:relationship_id>/",
        RelationshipDetailView.as_view(),
        name="relationship",
    ),
    path(
        "relationships/<int:relationship_id>/terminate/",
        RelationshipTerminateView.as_view(),
        name="relationship_terminate",
    ),
    path("activity/", ActivityListView.as_view(), name="activity"),
]
