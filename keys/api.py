"""The key inventory's API: checking product keys before redeeming them (scope `keys:check`).

The same look-up and guessing limits as the key check page (`keys.services.key_check`): per
user, per client address and per API key.
"""

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from keys.codec import KeyFormatError
from keys.services import KeyGuessLimitReached, LookupStatus, key_check, key_error_message
from portal.api.errors import Problem
from portal.api.forms import serializer_clean
from portal.api.views import ApiView
from portal.throttle import retry_after_seconds

MAX_KEYS_PER_CHECK = 100


class KeyCheckRequest(serializers.Serializer):
    keys = serializers.ListField(
        child=serializers.CharField(max_length=100, trim_whitespace=False),
        min_length=1,
        max_length=MAX_KEYS_PER_CHECK,
        help_text=_("Product keys as typed, with or without hyphens."),
    )


KeyFormatProblem = inline_serializer(
    "KeyFormatProblem",
    {
        "code": serializers.ChoiceField(choices=["empty", "character", "length", "checksum"]),
        "position": serializers.IntegerField(allow_null=True),
        "character": serializers.CharField(allow_null=True),
    },
)


class KeyCheckResult(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("The key's place in the request, from 0."))
    status = serializers.ChoiceField(
        choices=["usable", "malformed", "unknown", "revoked", "already_used"]
    )
    usable = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    ends_with = serializers.CharField(allow_blank=True)
    product = serializers.CharField(allow_null=True)
    sku = serializers.CharField(allow_null=True)
    seats = serializers.IntegerField(allow_null=True)
    term_months = serializers.IntegerField(allow_null=True)
    format_error = KeyFormatProblem


def limit_reached(error: KeyGuessLimitReached) -> Problem:
    """The guessing limit's 429, as the pages' (with Retry-After)."""
    problem = Problem(
        "key_guess_limit",
        _("Too many product keys were not found. Try again after %(time)s.")
        % {"time": error.until.strftime("%H:%M UTC")},
        status_code=429,
    )
    problem.wait = retry_after_seconds(error.until)
    return problem


def _result(index: int, raw: str, view) -> dict:
    result = {
        "index": index,
        "usable": False,
        "ends_with": "",
        "product": None,
        "sku": None,
        "seats": None,
        "term_months": None,
        "format_error": None,
    }
    try:
        lookup = key_check(
            user=view.request.user,
            partner=view.partner,
            raw=raw,
            client_address=view.client_address,
        )
    except KeyFormatError as error:
        return result | {
            "status": "malformed",
            "message": key_error_message(error),
            "format_error": {
                "code": error.code,
                "position": error.position,
                "character": error.character,
            },
        }
    status = "unknown" if lookup.status.looks_unknown else lookup.status.value
    result |= {"status": status, "message": lookup.message, "ends_with": lookup.canonical[-5:]}
    if lookup.status is LookupStatus.USABLE:
        batch = lookup.key.batch
        result |= {
            "usable": True,
            "product": batch.product.name,
            "sku": batch.product.sku,
            "seats": batch.seats_per_key,
            "term_months": batch.product.term_months,
        }
    return result


class KeyCheckView(ApiView):
    scopes = {"POST": "keys:check"}

    @extend_schema(
        operation_id="keys_check",
        summary=_("Check product keys"),
        request=KeyCheckRequest,
        responses={200: KeyCheckResult(many=True)},
    )
    def post(self, request):
        """Each key: usable (with its product, seats and term), or why not. A key that does not
        exist, or is not this partner's to redeem, is "unknown". Failed look-ups count against
        the guessing limits; past them, 429 with Retry-After."""
        keys = serializer_clean(KeyCheckRequest(data=request.data))["keys"]
        try:
            results = [_result(index, raw, self) for index, raw in enumerate(keys)]
        except KeyGuessLimitReached as error:
            raise limit_reached(error) from None
        return Response(results)


urlpatterns = [path("keys/check/", KeyCheckView.as_view(), name="keys_check")]
