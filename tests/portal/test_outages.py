"""A service away for a moment (portal.outages): Redis stopped or PostgreSQL restarting gives a
clear 503, never the generic 500; the guessing limits fail closed; pages that count nothing keep
working. The fault drills (`make drills`) do this for real to a running cluster; these are the
parts that fit in the test suite's time."""

import datetime
import hashlib
import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test import Client
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.renderers import JSONRenderer

from keys.codec import format_key
from keys.models import ProductKey, Redemption
from portal.models import ApiKey, IdempotentRequest
from portal.outages import DATABASE, LIMITS, outage_of
from portal.views import server_error
from tenants.models import Tenant
from tests.helpers import api_client, api_key, contoso_details, problem_type

LIMITS_TEXT = b"cannot check its limits on repeated attempts"
DATABASE_TEXT = b"cannot reach its database"


@pytest.fixture
def redis_down(settings):
    """The cache on a port where nothing listens: a real refused connection, not a mock. The
    other caches (the layout's menus, in each process's memory) stay as they are."""

    def stop():
        settings.CACHES = {
            **settings.CACHES,
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
            },
        }

    return stop


def browser(user=None) -> Client:
    """A client that gets the answer a browser would get, not the exception."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


# --- Redis away: the limits fail closed --------------------------------------------------------


def test_it_refuses_a_key_check_when_the_limits_cannot_be_checked(
    partner_admin, make_keys, redis_down
):
    key = make_keys(1, sku="BUS-PREM")[0]
    client = browser(partner_admin)
    redis_down()
    response = client.post("/partner/keys/check/", {"key": format_key(key)})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    assert LIMITS_TEXT in response.content
    assert b"Business Premium" not in response.content  # nothing looked up
    assert b"Traceback" not in response.content


def test_the_api_refuses_with_problem_json_when_the_limits_cannot_be_checked(
    partner_admin, make_keys, redis_down
):
    key = make_keys(1)[0]
    client = api_client(api_key(partner_admin, "keys:check"))
    client.raise_request_exception = False
    redis_down()
    response = client.post("/api/v1/keys/check/", {"keys": [key]}, format="json")
    assert response.status_code == 503
    assert problem_type(response) == "unavailable"
    assert response.json()["title"] == "The service is unavailable for a moment."
    assert "limits on guessing" in response.json()["detail"]
    assert response["Retry-After"] == "30"


def test_signing_in_fails_closed_without_the_limits(partner_admin, redis_down):
    redis_down()
    response = browser().post(
        "/accounts/login/", {"username": partner_admin.email, "password": "portal-demo"}
    )
    assert response.status_code == 503
    assert LIMITS_TEXT in response.content
    assert "_auth_user_id" not in browser().session  # nobody signed in


def test_pages_that_count_nothing_keep_working_without_redis(partner_admin, redis_down):
    client = browser(partner_admin)
    redis_down()
    assert client.get("/partner/").status_code == 200
    assert client.get("/partner/customers/").status_code == 200


# --- The database away -------------------------------------------------------------------------


@pytest.fixture
def database_down(monkeypatch):
    """Every query fails as when PostgreSQL restarts (the drills restart it for real). Undone
    before the test's own teardown, which needs a working cursor."""

    def refuse(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    with monkeypatch.context() as patched:
        yield lambda: patched.setattr(connection, "cursor", refuse)


def test_a_page_says_the_database_is_away_in_the_readers_language(partner_admin, database_down):
    client = browser(partner_admin)
    database_down()
    response = client.get("/partner/customers/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 503
    assert b'<html lang="fr">' in response.content
    english = client.get("/partner/customers/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 503
    assert DATABASE_TEXT in english.content
    assert b"Something went wrong" not in english.content  # not the generic 500


def test_the_api_says_the_database_is_away_with_problem_json(partner_admin, database_down):
    client = api_client(api_key(partner_admin, "customers:read"))
    client.raise_request_exception = False
    database_down()
    response = client.get("/api/v1/customers/")
    assert response.status_code == 503
    assert problem_type(response) == "unavailable"
    assert "Idempotency-Key" in response.json()["detail"]


# --- Which errors are outages ------------------------------------------------------------------


def test_it_recognises_an_outage_behind_the_error_raised_while_cleaning_up():
    try:
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError:
            # A service cleaning up after the first error meets the broken transaction.
            raise TransactionManagementError("An error occurred in the current transaction.")  # noqa: B904
    except TransactionManagementError as error:
        cleaning_up = error
    assert outage_of(cleaning_up) == DATABASE
    assert outage_of(RedisConnectionError("Connection refused")) == LIMITS
    assert outage_of(ValueError("a bug")) is None
    assert outage_of(None) is None


def test_any_other_error_stays_the_generic_500(rf):
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(rf.get("/partner/"))
    assert response.status_code == 500
    try:
        raise OperationalError("the database restarted")
    except OperationalError:
        response = server_error(rf.get("/partner/"))
    assert response.status_code == 503


# --- A call cut by the database is all or nothing (portal.api.idempotency) ---------------------


@pytest.fixture
def writer(partner_admin):
    client = api_client(api_key(partner_admin, "customers:write"))
    client.raise_request_exception = False
    return client


def _cut(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_a_call_cut_between_its_steps_holds_no_key(writer, make_keys, countries, monkeypatch):
    # The keys are reserved (one step), then the database goes away while the customer is
    # created (the next step) and is still away when the call tries to give the keys back.
    keys = make_keys(1)
    monkeypatch.setattr("tenants.services.tenants.tenant_create", _cut)
    monkeypatch.setattr("tenants.services.tenants.redemption_cancel", _cut)
    response = writer.post("/api/v1/customers/", {"keys": keys, **contoso_details()}, format="json")
    assert response.status_code == 503
    assert ProductKey.objects.matching(keys[0]).get().state == "available"
    assert not Redemption.objects.exists()


def test_a_commit_whose_answer_was_not_kept_is_not_done(writer, make_keys, countries, monkeypatch):
    # The customer is created, then keeping the answer for the Idempotency-Key fails: the whole
    # call is undone, so the retry with the same key creates the customer (instead of finding
    # its own keys "already used").
    keys = make_keys(1)
    body = {"keys": keys, **contoso_details()}
    with monkeypatch.context() as patched:
        patched.setattr("portal.api.idempotency._keep", _cut)
        cut = writer.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-1")
    assert cut.status_code == 503
    assert not Tenant.objects.exists()
    retry = writer.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-1")
    assert retry.status_code == 201, retry.json()
    assert Tenant.objects.get().domain_prefix == "contoso"


def _claim_of(partner_admin, key: str, body: dict, seconds_ago: int) -> IdempotentRequest:
    """The row a request with this Idempotency-Key and `body` left when it started."""
    sent = b"POST /api/v1/customers/\n" + JSONRenderer().render(body)
    return IdempotentRequest.objects.create(
        api_key=ApiKey.objects.get(created_by=partner_admin),
        key=key,
        fingerprint=hashlib.sha256(sent).hexdigest(),
        created_at=timezone.now() - datetime.timedelta(seconds=seconds_ago),
    )


def test_a_retry_after_its_request_died_runs_at_once(writer, partner_admin, make_keys, countries):
    # The first request died with the database's restart: its claim is left, unfinished and
    # held by nobody. The retry does not wait API_IDEMPOTENCY_STALE_SECONDS for it.
    body = {"keys": make_keys(1), **contoso_details()}
    _claim_of(partner_admin, "po-2", body, seconds_ago=10)
    retry = writer.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-2")
    assert retry.status_code == 201, retry.json()
    assert IdempotentRequest.objects.get(key="po-2").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_its_request_runs_is_409(writer, partner_admin, make_keys, countries):
    body = {"keys": make_keys(1), **contoso_details()}
    claim = _claim_of(partner_admin, "po-3", body, seconds_ago=10)
    held, done = threading.Event(), threading.Event()

    def run_first_request():  # holds its claim, as `idempotent` does while the call runs
        try:
            with transaction.atomic():
                IdempotentRequest.objects.select_for_update().get(pk=claim.pk)
                held.set()
                done.wait(30)
        finally:
            connection.close()

    first = threading.Thread(target=run_first_request)
    first.start()
    held.wait(30)
    try:
        retry = writer.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="po-3")
    finally:
        done.set()
        first.join()
    assert retry.status_code == 409
    assert problem_type(retry) == "idempotency_in_progress"
    assert not Tenant.objects.exists()
