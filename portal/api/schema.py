"""The OpenAPI schema's view of an API view: the scope each operation needs."""

from drf_spectacular.openapi import AutoSchema


class ScopedSchema(AutoSchema):
    """Each operation says the scope it needs (in its description and as `x-required-scope`)."""

    def get_description(self):
        description = super().get_description()
        scope = self.view.required_scope(self.method)
        return f"{description}\n\nScope: `{scope}`".strip() if scope else description

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            operation["x-required-scope"] = self.view.required_scope(self.method)
        return operation
