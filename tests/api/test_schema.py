"""The OpenAPI contract: it generates without a warning, validates, and names every endpoint."""

import io
import re

import yaml
from django.core.management import call_command

from portal.api.scopes import SCOPES
from tests.helpers import url_patterns


def _schema() -> dict:
    out = io.StringIO()
    # --fail-on-warn: any warning drf-spectacular emits (a field it cannot type, a name clash)
    # fails the test; --validate checks the document against the OpenAPI 3 specification.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_the_schema_generates_without_warning_and_covers_every_endpoint(db):
    schema = _schema()
    documented = set(schema["paths"])
    endpoints = {
        # drf-spectacular names a `pk` in a path `id` (SCHEMA_COERCE_PATH_PK).
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern).replace("{pk}", "{id}")
        for name, pattern in url_patterns()
        if name.startswith("api:") and name not in {"api:schema", "api:docs"}
    }
    assert endpoints <= documented, endpoints - documented
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["x-required-scope"] in SCOPES, (method, path)
            assert operation["security"] == [{"apiKey": []}], (method, path)
