"""Helpers that several test modules share. The cast (users, partners, Contoso) is in
conftest.py; helpers for browser tests only are in browser/helpers.py. A test module imports from
here, never from another test module."""

import contextlib
import copy
import functools
import io
import shutil
import subprocess
import time
import uuid
import zipfile

from celery.contrib.testing.worker import start_worker
from django import urls
from django.conf import settings

from keys.models import ProductKey
from portal.celery import app
from tenants.models import Subscription

CHROMIUM = "/usr/bin/chromium"


# --- Forms as a browser posts them -----------------------------------------------------------


def contoso_details(**overrides) -> dict[str, str]:
    """Step 2 for Contoso, as a partner admin fills it in: the form's data, and the fields of
    tenants.services.TenantDetails (the `tenant_details` fixture makes one of these)."""
    return {
        "country": "FR",
        "name": "Contoso",
        "admin_first_name": "Megan",
        "admin_last_name": "Bowen",
        "admin_email": "megan@contoso.example",
        "admin_phone": "+33 1 23 45 67 89",
        "language": "fr",
        "domain_prefix": "contoso",
        **overrides,
    }


def keys_form(*values, action="next", submission=None) -> dict[str, str]:
    """The key entry's formset, one row per value."""
    data = {
        "keys-TOTAL_FORMS": str(len(values)),
        "keys-INITIAL_FORMS": "0",
        "keys-MIN_NUM_FORMS": "1",
        "keys-MAX_NUM_FORMS": "50",
        "action": action,
        "submission": str(submission or uuid.uuid4()),
    }
    data.update({f"keys-{i}-key": value for i, value in enumerate(values)})
    return data


def add_form(**overrides) -> dict[str, str]:
    """A customer admin's Add user form: Lynne Robbins, who reads French."""
    return {
        "first_name": "Lynne",
        "last_name": "Robbins",
        "username": "lynne.robbins",
        "email": "Lynne@Contoso.example",
        "phone": "",
        "language": "fr",
        **overrides,
    }


def generate_form(client, **values) -> dict:
    """The admin's generate form as a browser posts it: the values typed, and the form's own
    token."""
    form = client.get("/admin/keys/keybatch/generate/").context["form"]
    return {"submission": form["submission"].value(), "seats_per_key": 1, **values}


def xlsx_bytes(keys) -> bytes:
    """What Excel saves: a zip of XML parts (enough of one for the signature to be real)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/sharedStrings.xml", "".join(f"<si><t>{k}</t></si>" for k in keys))
    return buffer.getvalue()


# --- Reading the database --------------------------------------------------------------------


def standard(tenant) -> Subscription:
    """The tenant's Business Standard subscription."""
    return Subscription.objects.get(tenant=tenant, product__sku="BUS-STD")


def stored_digests(queryset=None) -> set[bytes]:
    """The digests in the inventory as bytes (PostgreSQL hands bytea back as memoryview)."""
    queryset = ProductKey.objects.all() if queryset is None else queryset
    return {bytes(digest) for digest in queryset.values_list("digest", flat=True)}


# --- Workers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def real_worker_running():
    """Tasks go through Redis to a worker thread instead of running in place (the test default)."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()  # nothing left over from another run
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        app.conf.task_always_eager = eager


def wait_for(predicate, seconds: float) -> bool:
    """Whether `predicate()` came true within `seconds` (a worker in another thread or process
    works at its own pace)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


# --- The database as a thief would read it ---------------------------------------------------


def dump_database() -> str:
    db = settings.DATABASES["default"]
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to read the database as a thief would"
    result = subprocess.run(
        [
            pg_dump,
            "-h",
            db["HOST"],
            "-p",
            str(db["PORT"]),
            "-U",
            db["USER"],
            "--no-owner",
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def api_key(user, *scopes, role=None, days=30, name="Script") -> str:
    """A new API key of `user`'s partner (created by `user`, a partner admin), holding `scopes`
    (every scope its role may hold when none is named); returns the key itself."""
    from portal.api.services import api_key_create, scopes_allowed

    membership = user.partner_membership
    role = role or membership.role
    _key, raw = api_key_create(
        membership=membership,
        name=name,
        scopes=list(scopes) or scopes_allowed(role),
        days=days,
        role=role,
    )
    return raw


def api_client(raw: str | None = None, language: str = "en"):
    """A DRF test client sending `Authorization: Bearer <raw>` (none when raw is None)."""
    from rest_framework.test import APIClient

    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if raw is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def problem_type(response) -> str:
    """An API error's code: the end of its problem+json `type`."""
    assert response["Content-Type"] == "application/problem+json", response.content
    return response.json()["type"].rsplit(":", 1)[-1]


# --- The schema's examples and the real responses --------------------------------------------


@functools.cache
def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _nullable(node):
    """OpenAPI 3.0's `nullable` as JSON Schema says it."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {name: _nullable(value) for name, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def _keys(value, example, where="") -> None:
    """The response has exactly the example's keys, object by object (free-form `details`
    aside)."""
    if isinstance(example, dict):
        assert isinstance(value, dict), where
        assert set(value) == set(example), where
        for name, item in example.items():
            if name != "details" and value[name] is not None and item is not None:
                _keys(value[name], item, f"{where}.{name}")
    elif isinstance(example, list) and example and value:
        _keys(value[0], example[0], f"{where}[0]")


def assert_documented(response, path: str, method: str = "get") -> None:
    """The response matches its operation's schema and has exactly its example's keys."""
    import jsonschema

    schema = _schema()
    documented = schema["paths"][path][method]["responses"][str(response.status_code)]
    content = documented["content"]["application/json"]
    (example,) = content["examples"].values()
    body = response.json()
    _keys(body, example["value"])
    components = _nullable(copy.deepcopy(schema["components"]))
    jsonschema.validate(body, {**_nullable(content["schema"]), "components": components})


# --- The URLconf -----------------------------------------------------------------------------


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, urls.URLResolver):
            inner = entry.namespace
            if inner:
                inner = f"{namespace}:{inner}" if namespace else inner
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner or namespace)
        elif isinstance(entry, urls.URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield name, prefix + str(entry.pattern)


def url_patterns():
    """(name, pattern) for every URL, each name once (the first, which is the one that serves)."""
    seen = {}
    for name, pattern in _walk(urls.get_resolver().url_patterns):
        seen.setdefault(name or pattern, pattern)
    return sorted(seen.items())
