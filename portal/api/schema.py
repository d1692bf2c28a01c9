"""The OpenAPI schema's view of an API view: the scope each operation needs."""

from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from portal.api.errors import PROBLEM_CONTENT_TYPE

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=_(
        "Any unique text (a UUID): sent again with the same body, the first answer comes back "
        "(Idempotent-Replayed: true) instead of a second change; with another body, 422; while "
        "the first is still running, 409."
    ),
)


# Every list's pages (portal.api.views.CursorPage and its kin).
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _page_size_text() -> str:
    return gettext("Rows per page: %(default)d unless asked, at most %(max)d.") % {
        "default": PAGE_SIZE,
        "max": MAX_PAGE_SIZE,
    }


PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor", str, description=_("The `next` or `previous` link's cursor."), required=False
    ),
    OpenApiParameter("page_size", int, description=lazy(_page_size_text, str)(), required=False),
]


class ProblemSerializer(serializers.Serializer):
    """An error (RFC 9457), as every endpoint answers it."""

    type = serializers.CharField(help_text=_("Stable: tag:partner-key-portal,2026:problem:<code>."))
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("The messages per field, for a request that is not valid."),
    )


class ScopedSchema(AutoSchema):
    """Each operation says the scope it needs (in its description and as `x-required-scope`).
    A webhook (SPECTACULAR_SETTINGS["WEBHOOKS"]) is described by a view of drf-spectacular's
    own, which is no API view: no scope, no key, none of the API's errors."""

    @property
    def is_api_view(self) -> bool:
        return hasattr(self.view, "required_scope")

    def get_description(self):
        description = super().get_description()
        if not self.is_api_view:
            return description
        scope = self.view.required_scope(self.method)
        return f"{description}\n\nScope: `{scope}`".strip() if scope else description

    def get_override_parameters(self):
        """Every POST that creates or applies something (`@idempotent`) takes the header."""
        parameters = super().get_override_parameters()
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            parameters = [*parameters, IDEMPOTENCY_KEY]
        return parameters

    def _get_response_bodies(self, direction="response"):
        """Every operation's errors, as problem+json: 401 (no key or a refused one), 403 (the
        scope), 429 (the rate limit), 400 and 404 where a body or a path can be wrong."""
        responses = super()._get_response_bodies(direction)
        if not self.is_api_view:
            return responses
        codes = ["401", "403", "429"]
        if self.method in {"POST", "PUT", "PATCH"}:
            codes.append("400")
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            responses.setdefault(
                code,
                self._get_response_for_code(
                    ProblemSerializer, code, media_types=[PROBLEM_CONTENT_TYPE]
                ),
            )
        return responses

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            operation["x-required-scope"] = self.view.required_scope(self.method)
        return operation
