"""Subscriptions and renewals for scripts (scopes `subscriptions:read`, `subscriptions:write`).

The same reads and rules as the renewals pages: the renewal list (`renewals.queries.renewal_list`
with the page's own filter form), a subscription through the tenant rule with its timeline
(`readable_subscription`, `subscription_overview`), and the switch to direct billing
(`renewals.services.direct_billing_switch`, behind the page's own `direct_billing_allowed`).
"""

from django.db.models import Count
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.errors import Problem
from portal.api.forms import form_clean
from portal.api.idempotency import idempotent
from portal.api.views import ApiView, CursorPage
from renewals.forms import RenewalFilterForm
from renewals.queries import (
    readable_subscription,
    renewal_list,
    renewal_list_actions,
    subscription_overview,
)
from renewals.services import (
    DirectBillingError,
    DirectBillingPreview,
    direct_billing_check,
    direct_billing_preview,
    direct_billing_switch,
)
from tenants.access import direct_billing_allowed
from tenants.lifecycle import LIFECYCLE_ORDER
from tenants.models import Subscription
from tenants.serializers import ProductRef, SubscriptionOut, subscription_data

State = Subscription.State
TIMELINE_KINDS = ["today", "notice", "end", "expired", "disabled", "deleted"]

# --- Serializers: the schema of every field answered ------------------------------------------


class TimelineEventOut(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=TIMELINE_KINDS)
    label = serializers.CharField()
    past = serializers.BooleanField()


class NextChangeOut(serializers.Serializer):
    state = serializers.ChoiceField(choices=[str(state) for state in LIFECYCLE_ORDER[1:]])
    date = serializers.DateField(help_text=_("Unless it is renewed before."))


class SubscriptionDetailOut(SubscriptionOut):
    timeline = TimelineEventOut(
        many=True,
        help_text=_(
            "Today, the renewal notices, the end date, grace, disabled and deletion, in date "
            "order; empty for a subscription billed directly or ended by the switch."
        ),
    )
    next_change = NextChangeOut(allow_null=True)
    replaced_by = serializers.IntegerField(
        allow_null=True,
        help_text=_("The directly billed subscription that replaced this one, if it switched."),
    )


class DirectBilling(serializers.Serializer):
    dry_run = serializers.BooleanField(
        default=False,
        help_text=_("Answer what the switch would do (the page's confirmation), change nothing."),
    )
    confirm = serializers.BooleanField(
        default=False,
        help_text=_(
            "true to switch: the prepaid days left are given up, which cannot be undone. "
            "Without it (and without dry_run) nothing happens."
        ),
    )

    def validate(self, data):
        # An irreversible act is never the answer to an empty body: say what is wanted.
        if not data["dry_run"] and not data["confirm"]:
            raise serializers.ValidationError(
                {
                    "confirm": _(
                        "Send confirm: true to switch (the prepaid days left are given up), "
                        "or dry_run: true to see what the switch would do."
                    )
                }
            )
        return data


class NewSubscriptionOut(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text=_("null on a dry run."))
    product = ProductRef()
    seats = serializers.IntegerField()
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text=_("The last day of its first term."))
    billed_directly = serializers.BooleanField()


class DirectBillingOut(serializers.Serializer):
    dry_run = serializers.BooleanField()
    subscription = serializers.IntegerField(help_text=_("The prepaid subscription's ID."))
    ended = serializers.BooleanField(help_text=_("Whether it had already ended."))
    end_date = serializers.DateField(help_text=_("The prepaid subscription's end date before."))
    prepaid_end_date = serializers.DateField(
        help_text=_("Its last day after the switch: today, or its end date if already ended.")
    )
    prepaid_days_lost = serializers.IntegerField()
    new_subscription = NewSubscriptionOut()


# --- Examples (tests check each against a real response) -------------------------------------

ROW_EXAMPLE = {
    "id": 412,
    "customer": {"id": 88, "name": "Contoso", "domain": "contoso.onportal.example"},
    "product": {"sku": "BUS-STD", "name": "Business Standard"},
    "seats": 25,
    "seats_used": 19,
    "start_date": "2025-07-01",
    "end_date": "2026-06-30",
    "state": {"code": "active", "label": "Active"},
    "days_left": 10,
    "partner_of_record": {"partner_id": "1000001", "name": "Northwind Traders", "is_you": True},
    "billed_directly": False,
    "ended_by_direct_billing": False,
    "actions": {"may_renew": True, "may_switch_to_direct_billing": True},
}


def _event(day: str, kind: str, label: str, past: bool) -> dict:
    return {"date": day, "kind": kind, "label": label, "past": past}


DETAIL_EXAMPLE = {
    **ROW_EXAMPLE,
    "timeline": [
        _event("2026-05-01", "notice", "Renewal notice (60 days before the end)", True),
        _event("2026-05-31", "notice", "Renewal notice (30 days before the end)", True),
        _event("2026-06-20", "today", "Today", False),
        _event("2026-06-23", "notice", "Renewal notice (7 days before the end)", False),
        _event("2026-06-29", "notice", "Renewal notice (1 day before the end)", False),
        _event("2026-06-30", "end", "Last day of the subscription", False),
        _event("2026-07-01", "expired", "Expired: grace period, still fully usable", False),
        _event("2026-07-30", "disabled", "Disabled: only admins can sign in", False),
        _event("2026-10-28", "deleted", "Deleted: users and licenses removed", False),
    ],
    "next_change": {"state": "expired", "date": "2026-07-01"},
    "replaced_by": None,
}

DIRECT_BILLING_EXAMPLE = {
    "dry_run": False,
    "subscription": 412,
    "ended": False,
    "end_date": "2026-06-30",
    "prepaid_end_date": "2026-06-20",
    "prepaid_days_lost": 10,
    "new_subscription": {
        "id": 977,
        "product": {"sku": "BUS-STD", "name": "Business Standard"},
        "seats": 25,
        "start_date": "2026-06-20",
        "end_date": "2027-06-19",
        "billed_directly": True,
    },
}


# --- What a subscription looks like --------------------------------------------------------


class RenewalPage(CursorPage):
    # The list's own order (soonest end first), with the ID to break ties: stable under inserts.
    ordering = ("end_date", "id")


def _filter_parameters() -> list[OpenApiParameter]:
    """The page's filter form, as query parameters."""
    return [
        OpenApiParameter(
            name,
            str,
            enum=[value for value, _label in field.choices if value],
            description=field.help_text,
        )
        for name, field in RenewalFilterForm().fields.items()
    ]


class SubscriptionListView(ApiView):
    scopes = {"GET": "subscriptions:read"}
    pagination_class = RenewalPage

    @extend_schema(
        operation_id="subscriptions_list",
        summary=_("List subscriptions to renew"),
        parameters=_filter_parameters(),
        responses={200: SubscriptionOut(many=True)},
        examples=[OpenApiExample("Subscription", value=ROW_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        """The renewal list, as on the Renewals page: the subscriptions of the partner's
        customers whose subscriptions it may read, still renewable (not billed directly, not
        deleted), soonest end first, with the page's filters. Cursor pagination."""
        filters = form_clean(RenewalFilterForm(request.query_params))
        today = timezone.localdate()
        rows = renewal_list(
            self.partner, today=today, window=filters["window"], state=filters["state"]
        ).annotate(seats_used=Count("licenses"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        actions = renewal_list_actions(request.user, page, today)
        return paginator.get_paginated_response(
            [subscription_data(row, today, actions[row.pk], self.partner) for row in page]
        )


class SubscriptionDetailView(ApiView):
    scopes = {"GET": "subscriptions:read"}

    @extend_schema(
        operation_id="subscriptions_retrieve",
        summary=_("A subscription and its timeline"),
        responses={200: SubscriptionDetailOut},
        examples=[OpenApiExample("Subscription", value=DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request, pk: int):
        """A subscription of a customer whose subscriptions the partner may read (404 for any
        other), with its timeline's dated events as on its page: renewal notices, end date,
        grace period, disabled and deletion."""
        access, subscription = readable_subscription(request.user, pk)
        today = timezone.localdate()
        overview = subscription_overview(access, subscription, today)
        body = subscription_data(subscription, today, overview.actions, self.partner)
        body["timeline"] = [
            {"date": event.day, "kind": event.kind, "label": event.label, "past": event.past}
            for event in overview.timeline or []
        ]
        body["next_change"] = (
            {"state": overview.next_change[0], "date": overview.next_change[1]}
            if overview.next_change
            else None
        )
        body["replaced_by"] = overview.replacement.pk if overview.replacement else None
        return Response(body)


def _direct_billing_body(
    old: Subscription, preview: DirectBillingPreview, new: Subscription | None
) -> dict:
    """What the switch does (from the confirmation's preview, taken before it), and the new
    subscription once made."""
    product = old.product
    return {
        "dry_run": new is None,
        "subscription": old.pk,
        "ended": preview.ended,
        "end_date": preview.end_date,
        "prepaid_end_date": preview.prepaid_end_date,
        "prepaid_days_lost": preview.prepaid_days_lost,
        "new_subscription": {
            "id": new.pk if new else None,
            "product": {"sku": product.sku, "name": product.name},
            "seats": new.seats if new else old.seats,
            "start_date": new.start_date if new else preview.start_date,
            "end_date": new.end_date if new else preview.new_end_date,
            "billed_directly": True,
        },
    }


class DirectBillingView(ApiView):
    scopes = {"POST": "subscriptions:write"}

    @extend_schema(
        operation_id="subscriptions_direct_billing",
        summary=_("Switch a subscription to direct billing"),
        request=DirectBilling,
        responses={
            200: OpenApiResponse(DirectBillingOut, description=_("The dry run's answer.")),
            201: OpenApiResponse(DirectBillingOut, description=_("Switched.")),
            404: OpenApiResponse(
                description=_("Not a subscription this key may switch (a partner agent's key).")
            ),
            409: OpenApiResponse(description=_("It cannot switch to direct billing any more.")),
        },
        examples=[
            OpenApiExample(
                "Switched", value=DIRECT_BILLING_EXAMPLE, response_only=True, status_codes=["201"]
            )
        ],
    )
    @idempotent
    def post(self, request, pk: int):
        """A new subscription of the same product and seats starts today, billed directly (it
        renews on its own); the prepaid one ends today and its remaining prepaid days are given
        up; licenses move to the new one. A partner admin's act, for the partner of record or
        under a global administrator relationship: a key acting as a partner agent gets 404, as
        the page answers an agent. `dry_run` answers the page's confirmation (200) and changes
        nothing; the switch answers 201. 409 when the subscription cannot switch any more."""
        access, subscription = readable_subscription(request.user, pk)
        if not direct_billing_allowed(access, subscription):
            raise Http404  # first: nothing is said about a subscription the key may not switch
        serializer = DirectBilling(data=request.data)
        serializer.is_valid(raise_exception=True)  # the "invalid" problem, errors per field
        today = timezone.localdate()
        preview = direct_billing_preview(subscription, today)
        try:
            if serializer.validated_data["dry_run"]:
                direct_billing_check(access, subscription, today)
                return Response(_direct_billing_body(subscription, preview, None))
            new = direct_billing_switch(access=access, subscription=subscription, today=today)
        except DirectBillingError as error:
            raise Problem("direct_billing_refused", str(error), status_code=409) from None
        return Response(
            _direct_billing_body(subscription, preview, new),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:subscriptions_retrieve", args=[new.pk])},
        )


urlpatterns = [
    path("subscriptions/", SubscriptionListView.as_view(), name="subscriptions_list"),
    path(
        "subscriptions/<int:pk>/",
        SubscriptionDetailView.as_view(),
        name="subscriptions_retrieve",
    ),
    path(
        "subscriptions/<int:pk>/direct-billing/",
        DirectBillingView.as_view(),
        name="subscriptions_direct_billing",
    ),
]
