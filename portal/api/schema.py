"""The OpenAPI schema's view of an API view: the scope each operation needs."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

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


class ScopedSchema(AutoSchema):
    """Each operation says the scope it needs (in its description and as `x-required-scope`)."""

    def get_description(self):
        description = super().get_description()
        scope = self.view.required_scope(self.method)
        return f"{description}\n\nScope: `{scope}`".strip() if scope else description

    def get_override_parameters(self):
        """Every POST that creates or applies something (`@idempotent`) takes the header."""
        parameters = super().get_override_parameters()
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            parameters = [*parameters, IDEMPOTENCY_KEY]
        return parameters

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            operation["x-required-scope"] = self.view.required_scope(self.method)
        return operation
