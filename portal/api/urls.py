"""/api/v1/: each app's endpoints (`<app>/api.py`, its `urlpatterns`), found by module name so
that portal imports no app; the OpenAPI schema and its docs page, served by the portal."""

from importlib import import_module

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

API_MODULES = [
    "keys.api",
    "tenants.api",
    "tenants.api_users",
    "tenants.delegation.api",
    "renewals.api",
    "portal.webhooks.api",
]

app_name = "api"


def _endpoints() -> list:
    patterns = []
    for name in API_MODULES:
        patterns += import_module(name).urlpatterns
    return patterns


urlpatterns = [
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from drf-spectacular-sidecar's files; its start-up script is a separate file
    # (the "split" view), so the page runs under the portal's CSP, which allows no inline code.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/docs.html"),
        name="docs",
    ),
    path("v1/", include(_endpoints())),
]
