"""Webhooks' API (scope `webhooks:manage`, held only by keys acting as a partner admin): the
partner's endpoints (list, create, read, change, delete, rotate the secret, enable, disable, send
a test event), their delivery logs with each try, Resend, and the catalogue of event types.

The same rules as the Webhooks page: its form (`WebhookEndpointForm`, `DeliveryFilterForm`)
validates the bodies and filters, `portal.webhooks.selectors` reads (another partner's endpoint or
delivery is the same 404 as none) and `portal.webhooks.services` changes, audited with the key.
A signing secret is in the answer that makes it (create, rotate) and nowhere else: not on a later
read, not in an idempotent replay.
"""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.errors import PROBLEM_CONTENT_TYPE, Problem
from portal.api.forms import form_clean, form_data, form_serializer
from portal.api.idempotency import idempotent, shown_once
from portal.api.schema import PAGE_PARAMETERS, ProblemSerializer
from portal.api.views import ApiView, KeysetPage
from portal.models import WebhookDelivery, WebhookEndpoint
from portal.webhooks.events import EVENT_TYPES
from portal.webhooks.forms import DeliveryFilterForm, WebhookEndpointForm
from portal.webhooks.selectors import (
    endpoint_deliveries,
    partner_delivery,
    partner_endpoint,
    partner_endpoints,
)
from portal.webhooks.services import (
    WebhookError,
    webhook_delivery_resend,
    webhook_endpoint_change,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_test,
)

SCOPE = "webhooks:manage"
# The page's orders (the last field unique, for the keyset cursor).
ENDPOINT_ORDER = ("-created_at", "-id")
DELIVERY_ORDER = ("-created_at", "-id")

State = WebhookDelivery.State

# --- What the API answers ----------------------------------------------------------------------

EventTypes = serializers.ListField(
    child=serializers.ChoiceField(choices=list(EVENT_TYPES)),
    help_text=gettext_lazy("The events sent to it (see /webhooks/event-types/)."),
)


class WebhookEndpointOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    event_types = EventTypes
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(
        allow_blank=True,
        help_text=gettext_lazy(
            "Why it is disabled (by whom, or after a day of failed tries); empty when enabled."
        ),
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(
        allow_null=True,
        help_text=gettext_lazy(
            "The first failed try since the last success: after a day of failures the endpoint "
            "is disabled and the partner's admins are told by e-mail."
        ),
    )
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text=gettext_lazy(
            "After a rotation, the previous secret signs alongside the new one until then."
        ),
    )
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by_label")


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret = serializers.CharField(
        allow_null=True,
        help_text=gettext_lazy(
            "The signing secret (Standard Webhooks, `whsec_…`): in this answer only, never "
            "again. null in a replay (Idempotent-Replayed): rotate it if the first answer was lost."
        ),
    )


class WebhookTryOut(serializers.Serializer):
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(
        allow_null=True, help_text=gettext_lazy("null: no answer (see error).")
    )
    duration_ms = serializers.IntegerField()
    response_excerpt = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("The answer's first bytes (1 KB at most).")
    )
    error = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("Why nothing was sent, or why it failed.")
    )


class WebhookDeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.IntegerField(source="endpoint_id")
    webhook_id = serializers.CharField(
        source="event_id",
        help_text=gettext_lazy(
            "The `webhook-id` header: the same on every try and resend (receivers drop copies)."
        ),
    )
    event_type = serializers.CharField(
        source="event.type", help_text=gettext_lazy("An event type, or webhook.test.")
    )
    occurred_at = serializers.DateTimeField(source="event.occurred_at")
    state = serializers.ChoiceField(choices=State.choices)
    attempts = serializers.IntegerField(help_text=gettext_lazy("Tries since it was last queued."))
    last_status_code = serializers.IntegerField(allow_null=True)
    next_attempt_at = serializers.SerializerMethodField(
        help_text=gettext_lazy("When it is tried next; null unless it is waiting (queued).")
    )
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, delivery: WebhookDelivery):
        if delivery.state != State.QUEUED:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    tries = WebhookTryOut(
        many=True, source="attempt_log.all", help_text=gettext_lazy("Oldest first.")
    )


class WebhookEventTypeOut(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField(help_text=gettext_lazy("In the language of Accept-Language."))


def _page_of(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    fields = {
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    }
    return type(name, (serializers.Serializer,), fields)


WebhookEndpointPage = _page_of("WebhookEndpointPage", WebhookEndpointOut)
WebhookDeliveryPage = _page_of("WebhookDeliveryPage", WebhookDeliveryOut)

# What the bodies and filters take: the page's forms' fields.
WebhookEndpointIn = form_serializer(
    "WebhookEndpointIn", WebhookEndpointForm(), event_types=EventTypes
)
WebhookDeliveryFilters = form_serializer("WebhookDeliveryFilters", DeliveryFilterForm())

# --- Examples (a test checks each against a real answer) ---------------------------------------

ENDPOINT_EXAMPLE = {
    "id": 17,
    "url": "https://crm.northwind.example/hooks/portal",
    "description": "Billing sync",
    "event_types": ["customer.created", "subscription.renewed"],
    "enabled": True,
    "disabled_reason": "",
    "disabled_at": None,
    "failing_since": None,
    "previous_secret_expires_at": None,
    "created_at": "2026-03-02T09:15:00Z",
    "created_by": "partner@northwind.example",
}
# The documentation's example, in the format of a real one; it signs nothing.
SECRET_EXAMPLE = "whsec_C2FtcGxlIHNlY3JldCBmb3IgdGhlIGRvY3MgIDAxMjM="  # noqa: S105
ROTATED_EXAMPLE = ENDPOINT_EXAMPLE | {
    "previous_secret_expires_at": "2026-03-10T08:00:00Z",
    "secret": SECRET_EXAMPLE,
}
DELIVERY_EXAMPLE = {
    "id": 5120,
    "endpoint": 17,
    "webhook_id": "msg_2mQ8dTqZ9vB3xYkR1pLs6NwE4Hf",
    "event_type": "customer.created",
    "occurred_at": "2026-03-04T10:20:00Z",
    "state": "delivered",
    "attempts": 2,
    "last_status_code": 200,
    "next_attempt_at": None,
    "delivered_at": "2026-03-04T10:20:31Z",
    "created_at": "2026-03-04T10:20:00Z",
}
DELIVERY_DETAIL_EXAMPLE = DELIVERY_EXAMPLE | {
    "tries": [
        {
            "at": "2026-03-04T10:20:01Z",
            "status_code": 503,
            "duration_ms": 212,
            "response_excerpt": "Service Unavailable",
            "error": "",
        },
        {
            "at": "2026-03-04T10:20:31Z",
            "status_code": 200,
            "duration_ms": 48,
            "response_excerpt": "ok",
            "error": "",
        },
    ]
}
QUEUED_EXAMPLE = DELIVERY_EXAMPLE | {
    "webhook_id": "msg_2mQ9aKcV7wN1zXyP3oLt5MrD8Gj",
    "event_type": "webhook.test",
    "state": "queued",
    "attempts": 0,
    "last_status_code": None,
    "next_attempt_at": "2026-03-04T10:25:00Z",
    "delivered_at": None,
    "tries": [],
}
# One item: the schema shows it in a list (the answer is a list).
EVENT_TYPE_EXAMPLE = {"type": "customer.created", "label": "Customer created"}


def _example(name: str, value, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status_code)])


def _page_example(name: str, item: dict, path: str, cursor: str) -> OpenApiExample:
    return _example(
        name,
        {
            "next": f"https://portal.example/api/v1/webhooks/{path}?cursor={cursor}",
            "previous": None,
            "results": [item],
        },
    )


def _problem(description) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


REFUSED = _problem(
    gettext_lazy(
        "`endpoint_refused`: the URL is not one webhooks are sent to (not https, a host not "
        "found, or one on a private or local network); the message is under errors.url."
    )
)

# --- Helpers -----------------------------------------------------------------------------------


def _refused(error: WebhookError) -> Problem:
    """A service's refusal: about a field (the URL), 422 with the field's message; else the
    service's word that only partner admins manage webhooks."""
    if error.field:
        return Problem(
            "endpoint_refused",
            str(error),
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
            errors={error.field: [str(error)]},
        )
    return Problem("webhooks_not_allowed", str(error), status_code=status.HTTP_403_FORBIDDEN)


def _endpoint_body(request) -> dict:
    """The body as the page's form takes it: url, description, event_types (400 otherwise)."""
    return form_clean(WebhookEndpointForm(form_data(request.data)))


def _page(view: ApiView, rows, ordering, serializer_class) -> Response:
    paginator = KeysetPage(ordering)
    page = paginator.paginate_queryset(rows, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _delivery(view: ApiView, delivery: WebhookDelivery, status_code: int = 200) -> Response:
    """The delivery as it is now (read again: a worker may have tried it meanwhile)."""
    fresh = partner_delivery(view.partner, delivery.pk)
    return Response(WebhookDeliveryDetailOut(fresh).data, status=status_code)


class WebhooksView(ApiView):
    """An API view of the partner's webhooks: its endpoints through the selector's rule."""

    def endpoint(self, endpoint_id: int) -> WebhookEndpoint:
        return partner_endpoint(self.partner, endpoint_id)


# --- Endpoints ---------------------------------------------------------------------------------


class EndpointListView(WebhooksView):
    scopes = {"GET": SCOPE, "POST": SCOPE}

    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary=gettext_lazy("List the partner's webhook endpoints"),
        parameters=PAGE_PARAMETERS,
        responses={200: WebhookEndpointPage},
        examples=[
            _page_example(
                "Endpoints", ENDPOINT_EXAMPLE, "endpoints/", "cD0lNUIlMjIyMDI2JTIyJTJDMTclNUQ%3D"
            )
        ],
    )
    def get(self, request):
        """The partner's endpoints, newest first (never their secrets)."""
        return _page(self, partner_endpoints(self.partner), ENDPOINT_ORDER, WebhookEndpointOut)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary=gettext_lazy("Add a webhook endpoint"),
        request=WebhookEndpointIn,
        responses={201: WebhookEndpointWithSecret, (422, PROBLEM_CONTENT_TYPE): REFUSED},
        examples=[_example("Endpoint added", ENDPOINT_EXAMPLE | {"secret": SECRET_EXAMPLE}, 201)],
    )
    @idempotent
    def post(self, request):
        """As "Add an endpoint" on the Webhooks page: the URL, the events it wants and a
        description. The answer holds its signing secret, shown this once (a replay of the
        same Idempotency-Key has it null). The URL must be https and its host public (422
        `endpoint_refused`); the form's rules per field (400)."""
        body = _endpoint_body(request)
        try:
            endpoint, secret = webhook_endpoint_create(membership=self.membership, **body)
        except WebhookError as error:
            raise _refused(error) from None
        response = Response(
            WebhookEndpointOut(endpoint).data | {"secret": secret},
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:webhook_endpoint", args=[endpoint.pk])},
        )
        return shown_once(response, "secret")


class EndpointView(WebhooksView):
    scopes = {"GET": SCOPE, "PATCH": SCOPE, "DELETE": SCOPE}

    @extend_schema(
        operation_id="webhook_endpoints_read",
        summary=gettext_lazy("Read a webhook endpoint"),
        responses={200: WebhookEndpointOut},
        examples=[_example("Endpoint", ENDPOINT_EXAMPLE)],
    )
    def get(self, request, endpoint_id: int):
        """One of the partner's endpoints (another partner's: 404), without its secret."""
        return Response(WebhookEndpointOut(self.endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        summary=gettext_lazy("Change a webhook endpoint"),
        request=WebhookEndpointIn,
        responses={200: WebhookEndpointOut, (422, PROBLEM_CONTENT_TYPE): REFUSED},
        examples=[_example("Endpoint changed", ENDPOINT_EXAMPLE)],
    )
    def patch(self, request, endpoint_id: int):
        """Change the fields sent (the others stay): url, event_types, description. The URL is
        checked again, as when it was added (422 `endpoint_refused`)."""
        endpoint = self.endpoint(endpoint_id)
        current = {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
        }
        form = WebhookEndpointForm(form_data(current) | form_data(request.data))
        try:
            webhook_endpoint_change(endpoint=endpoint, actor=request.user, **form_clean(form))
        except WebhookError as error:
            raise _refused(error) from None
        return Response(WebhookEndpointOut(endpoint).data)

    @extend_schema(
        operation_id="webhook_endpoints_delete",
        summary=gettext_lazy("Delete a webhook endpoint"),
        responses={204: None},
    )
    def delete(self, request, endpoint_id: int):
        """Delete the endpoint with its delivery log: nothing more is sent to it."""
        endpoint = self.endpoint(endpoint_id)
        try:
            webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
        except WebhookError as error:
            raise _refused(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateView(WebhooksView):
    scopes = {"POST": SCOPE}

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        summary=gettext_lazy("Rotate a webhook endpoint's signing secret"),
        request=None,
        responses={200: WebhookEndpointWithSecret},
        examples=[_example("Secret rotated", ROTATED_EXAMPLE)],
    )
    @idempotent
    def post(self, request, endpoint_id: int):
        """A new signing secret, shown in this answer only. Until `previous_secret_expires_at`
        (24 hours) each webhook carries a signature with each secret, so the receiver can
        switch without dropping one. A replay of the same Idempotency-Key has `secret` null."""
        endpoint = self.endpoint(endpoint_id)
        try:
            secret = webhook_endpoint_secret_rotate(endpoint=endpoint, actor=request.user)
        except WebhookError as error:
            raise _refused(error) from None
        return shown_once(
            Response(WebhookEndpointOut(endpoint).data | {"secret": secret}), "secret"
        )


class EndpointSwitchView(WebhooksView):
    """Enable or disable: `act` is the service."""

    scopes = {"POST": SCOPE}
    act = None

    def switch(self, request, endpoint_id: int) -> Response:
        endpoint = self.endpoint(endpoint_id)
        try:
            self.act(endpoint=endpoint, actor=request.user)
        except WebhookError as error:
            raise _refused(error) from None
        return Response(WebhookEndpointOut(endpoint).data)


class EndpointEnableView(EndpointSwitchView):
    act = staticmethod(webhook_endpoint_enable)

    @extend_schema(
        operation_id="webhook_endpoints_enable",
        summary=gettext_lazy("Enable a webhook endpoint"),
        request=None,
        responses={200: WebhookEndpointOut},
        examples=[_example("Endpoint enabled", ENDPOINT_EXAMPLE)],
    )
    @idempotent
    def post(self, request, endpoint_id: int):
        """Events are sent to it again, its failures forgotten (deliveries that failed while it
        was disabled can be resent). Enabled already: the same answer, nothing changes."""
        return self.switch(request, endpoint_id)


class EndpointDisableView(EndpointSwitchView):
    act = staticmethod(webhook_endpoint_disable)

    @extend_schema(
        operation_id="webhook_endpoints_disable",
        summary=gettext_lazy("Disable a webhook endpoint"),
        request=None,
        responses={200: WebhookEndpointOut},
        examples=[
            _example(
                "Endpoint disabled",
                ENDPOINT_EXAMPLE
                | {
                    "enabled": False,
                    "disabled_reason": "Disabled by partner@northwind.example.",
                    "disabled_at": "2026-03-05T16:02:00Z",
                },
            )
        ],
    )
    @idempotent
    def post(self, request, endpoint_id: int):
        """Nothing more is sent to it; its deliveries still waiting fail (resend them once it is
        enabled again). Disabled already: the same answer, nothing changes."""
        return self.switch(request, endpoint_id)


class EndpointTestView(WebhooksView):
    scopes = {"POST": SCOPE}

    @extend_schema(
        operation_id="webhook_endpoints_test",
        summary=gettext_lazy("Send a test event to a webhook endpoint"),
        request=None,
        responses={202: WebhookDeliveryDetailOut},
        examples=[_example("Test event queued", QUEUED_EXAMPLE, 202)],
    )
    @idempotent
    def post(self, request, endpoint_id: int):
        """A `webhook.test` event to this endpoint alone, enabled or not (check a fix before
        enabling it again), signed as every webhook. Tried once; the answer is its delivery,
        whose outcome the delivery log shows."""
        endpoint = self.endpoint(endpoint_id)
        try:
            delivery = webhook_endpoint_test(endpoint=endpoint, actor=request.user)
        except WebhookError as error:
            raise _refused(error) from None
        return _delivery(self, delivery, status.HTTP_202_ACCEPTED)


# --- The delivery log ----------------------------------------------------------------------------


class EndpointDeliveriesView(WebhooksView):
    scopes = {"GET": SCOPE}

    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary=gettext_lazy("List a webhook endpoint's deliveries"),
        parameters=[WebhookDeliveryFilters, *PAGE_PARAMETERS],
        responses={200: WebhookDeliveryPage},
        examples=[
            _page_example(
                "Deliveries",
                DELIVERY_EXAMPLE,
                "endpoints/17/deliveries/",
                "cD0lNUIlMjIyMDI2JTIyJTJDNTEyMCU1RA%3D%3D",
            )
        ],
    )
    def get(self, request, endpoint_id: int):
        """The endpoint's delivery log, newest first, with the page's filters: `event` (an event
        type, or webhook.test) and `outcome` (delivered, failed, or pending: waiting or
        retrying)."""
        endpoint = self.endpoint(endpoint_id)
        filters = DeliveryFilterForm(request.query_params)
        form_clean(filters)
        deliveries = endpoint_deliveries(endpoint, **filters.filters())
        return _page(self, deliveries, DELIVERY_ORDER, WebhookDeliveryOut)


class DeliveryView(WebhooksView):
    scopes = {"GET": SCOPE}

    @extend_schema(
        operation_id="webhook_deliveries_read",
        summary=gettext_lazy("Read a webhook delivery and its tries"),
        responses={200: WebhookDeliveryDetailOut},
        examples=[_example("Delivery", DELIVERY_DETAIL_EXAMPLE)],
    )
    def get(self, request, delivery_id: int):
        """One delivery to one of the partner's endpoints, with each try: when, the status code
        (or why nothing was sent), how long it took and the answer's first bytes."""
        return Response(WebhookDeliveryDetailOut(partner_delivery(self.partner, delivery_id)).data)


class DeliveryResendView(WebhooksView):
    scopes = {"POST": SCOPE}

    @extend_schema(
        operation_id="webhook_deliveries_resend",
        summary=gettext_lazy("Resend a webhook delivery"),
        request=None,
        responses={
            202: WebhookDeliveryDetailOut,
            (409, PROBLEM_CONTENT_TYPE): _problem(
                gettext_lazy(
                    "`delivery_pending`: it is waiting or being sent already; "
                    "`endpoint_disabled`: enable the endpoint first."
                )
            ),
        },
        examples=[_example("Delivery queued again", QUEUED_EXAMPLE, 202)],
    )
    @idempotent
    def post(self, request, delivery_id: int):
        """Send a delivered or failed delivery again now, with the same `webhook-id` (a receiver
        that had it drops the copy), retried like a new one if it fails. 409 while it is waiting
        or being sent (`delivery_pending`), or when its endpoint is disabled
        (`endpoint_disabled`; a test event aside)."""
        delivery = partner_delivery(self.partner, delivery_id)
        try:
            webhook_delivery_resend(delivery=delivery, actor=request.user)
        except WebhookError as error:
            raise _not_resent(delivery, error) from None
        return _delivery(self, delivery, status.HTTP_202_ACCEPTED)


def _not_resent(delivery: WebhookDelivery, error: WebhookError) -> Problem:
    """The service refuses a delivery still pending (`delivery_pending`) and one to a disabled
    endpoint (`endpoint_disabled`)."""
    delivery.refresh_from_db(fields=["state"])
    return Problem(
        error.code, str(error), status_code=status.HTTP_409_CONFLICT, state=delivery.state
    )


# --- The catalogue -------------------------------------------------------------------------------


class EventTypesView(WebhooksView):
    scopes = {"GET": SCOPE}

    @extend_schema(
        operation_id="webhook_event_types_list",
        summary=gettext_lazy("List the webhook event types"),
        responses={200: WebhookEventTypeOut(many=True)},
        examples=[_example("Event types", EVENT_TYPE_EXAMPLE)],
    )
    def get(self, request):
        """Every event an endpoint may ask for, with its label in the request's language."""
        types = [{"type": type_, "label": str(label)} for type_, label in EVENT_TYPES.items()]
        return Response(WebhookEventTypeOut(types, many=True).data)


ENDPOINT = "webhooks/endpoints/<int:endpoint_id>/"

urlpatterns = [
    path("webhooks/endpoints/", EndpointListView.as_view(), name="webhook_endpoints"),
    path(ENDPOINT, EndpointView.as_view(), name="webhook_endpoint"),
    path(
        f"{ENDPOINT}rotate-secret/",
        EndpointRotateView.as_view(),
        name="webhook_endpoint_rotate_secret",
    ),
    path(f"{ENDPOINT}enable/", EndpointEnableView.as_view(), name="webhook_endpoint_enable"),
    path(f"{ENDPOINT}disable/", EndpointDisableView.as_view(), name="webhook_endpoint_disable"),
    path(f"{ENDPOINT}test/", EndpointTestView.as_view(), name="webhook_endpoint_test"),
    path(
        f"{ENDPOINT}deliveries/",
        EndpointDeliveriesView.as_view(),
        name="webhook_endpoint_deliveries",
    ),
    path("webhooks/deliveries/<int:delivery_id>/", DeliveryView.as_view(), name="webhook_delivery"),
    path(
        "webhooks/deliveries/<int:delivery_id>/resend/",
        DeliveryResendView.as_view(),
        name="webhook_delivery_resend",
    ),
    path("webhooks/event-types/", EventTypesView.as_view(), name="webhook_event_types"),
]
