"""The API's shared parts: key format and storage, authentication, scopes, errors, rate limits,
idempotency, the audit's record of the key."""

import pytest
from django.urls import reverse

from keys.codec import generate_key
from portal.api.errors import Problem
from portal.api.tokens import MalformedToken, token_check, token_digest, token_generate
from portal.models import ApiKey, AuditEvent, PartnerMembership
from tests.helpers import api_client, api_key

CHECK = "/api/v1/keys/check/"


def test_a_key_has_its_prefix_and_a_checksum_that_catches_a_typo():
    raw = token_generate()
    assert raw.startswith("pkp_") and len(raw) == 40
    assert token_check(raw) == raw
    typo = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    with pytest.raises(MalformedToken):
        token_check(typo)
    with pytest.raises(MalformedToken):
        token_check(raw[:-1])
    assert token_generate() != raw


def test_the_database_keeps_only_the_keyed_hash(partner_admin):
    raw = api_key(partner_admin, "keys:check")
    key = ApiKey.objects.get()
    assert key.digest == token_digest(raw)
    assert raw not in str(list(ApiKey.objects.values()))
    assert key.shown == f"{raw[:8]}…{raw[-4:]}"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer pkp_notakey", "key_malformed"),
        ("Bearer " + "pkp_" + "A" * 36, "key_malformed"),
    ],
)
def test_without_a_good_key_the_answer_is_401_problem_json(db, header, code):
    client = api_client()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(CHECK, {"keys": ["x"]}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith(f":{code}")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_expired_and_unknown_keys_are_refused(partner_admin):
    from portal.api.services import api_key_revoke

    raw = api_key(partner_admin, "keys:check")
    assert api_client(raw).post(CHECK, {"keys": ["x"]}, format="json").status_code == 200
    api_key_revoke(key=ApiKey.objects.get(), actor=partner_admin)
    response = api_client(raw).post(CHECK, {"keys": ["x"]}, format="json")
    assert response.status_code == 401 and response.json()["type"].endswith(":key_revoked")
    unknown = token_generate()
    response = api_client(unknown).post(CHECK, {"keys": ["x"]}, format="json")
    assert response.status_code == 401 and response.json()["type"].endswith(":key_unknown")


def test_a_key_without_the_scope_gets_403(partner_admin):
    raw = api_key(partner_admin, "customers:read")
    response = api_client(raw).post(CHECK, {"keys": ["x"]}, format="json")
    assert response.status_code == 403
    assert response.json()["required_scope"] == "keys:check"


def test_errors_speak_the_language_of_accept_language(partner_admin):
    raw = api_key(partner_admin, "keys:check")
    response = api_client(raw, language="fr").post(CHECK, {"keys": []}, format="json")
    assert response.status_code == 400
    assert response["Content-Language"] == "fr"
    assert response.json()["title"] == "La requête n’est pas valide."


def test_a_session_does_not_reach_the_api(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post(CHECK, {"keys": ["x"]}, content_type="application/json")
    assert response.status_code == 401
    assert "Set-Cookie" not in response


def test_the_creators_role_bounds_the_key(partner_admin, northwind):
    raw = api_key(partner_admin, "keys:check", "delegation:write", role="admin")
    membership = PartnerMembership.objects.get(user=partner_admin)
    membership.role = PartnerMembership.Role.AGENT
    membership.save()
    from portal.api.services import api_key_authenticate

    actor = api_key_authenticate(raw, client_address=None)
    assert actor.membership.role == "agent"
    assert not actor.has_scope("delegation:write")
    assert actor.has_scope("keys:check")
    membership.delete()
    response = api_client(raw).post(CHECK, {"keys": ["x"]}, format="json")
    assert response.json()["type"].endswith(":key_owner_gone")


def test_rate_limit_headers_and_429(partner_admin, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    client = api_client(api_key(partner_admin, "keys:check"))
    first = client.post(CHECK, {"keys": ["x"]}, format="json")
    assert first["RateLimit-Limit"] == "2" and first["RateLimit-Remaining"] == "1"
    client.post(CHECK, {"keys": ["x"]}, format="json")
    third = client.post(CHECK, {"keys": ["x"]}, format="json")
    assert third.status_code == 429
    assert int(third["Retry-After"]) >= 1
    assert third["RateLimit-Remaining"] == "0"


def test_the_check_reports_the_position_of_a_bad_character(partner_admin, make_keys):
    (key,) = make_keys(1)
    client = api_client(api_key(partner_admin, "keys:check"))
    bad = key[:3] + "O" + key[4:]
    response = client.post(CHECK, {"keys": [key, bad]}, format="json")
    good, wrong = response.json()
    assert good["usable"] and good["sku"] == "BUS-STD" and good["ends_with"] == key[-5:]
    assert wrong["status"] == "malformed"
    assert wrong["format_error"] == {"code": "character", "position": 4, "character": "O"}


def test_key_checks_are_audited_with_the_key_when_the_limit_trips(partner_admin, settings):
    settings.KEY_GUESS_LIMIT_PER_USER = 1
    client = api_client(api_key(partner_admin, "keys:check"))
    response = client.post(CHECK, {"keys": [generate_key(), generate_key()]}, format="json")
    assert response.status_code == 429
    events = AuditEvent.objects.filter(action="key.guess_limit_reached")
    assert events.exists()
    assert {event.api_key for event in events} == {ApiKey.objects.get()}
    assert all("API key" in event.actor_label for event in events)


def test_the_schema_and_docs_are_served(client):
    schema = client.get(reverse("api:schema"))
    assert schema.status_code == 200
    assert b"/api/v1/keys/check/" in schema.content
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200
    assert b"swagger-ui-bundle.js" in docs.content and b"<script>" not in docs.content


def test_the_key_never_outlives_its_request(partner_admin, settings):
    """An error DRF does not answer itself (a body too large) still resets the request's key:
    the next request in the same thread, a page's, is not counted or audited as the key's."""
    from portal.middleware import current_api_key

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = api_client(api_key(partner_admin, "keys:check"))
    response = client.post(CHECK, {"keys": ["x" * 50] * 40}, format="json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert current_api_key.get() is None


@pytest.mark.parametrize(
    "body",
    [
        '{"keys": ["a\\u0000b"]}',
        '{"keys": ["\\ud800"]}',
        '{"k\\u0000": 1}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_a_body_the_database_cannot_store_is_a_400(partner_admin, body):
    client = api_client(api_key(partner_admin, "keys:check"))
    response = client.post(CHECK, body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_nul_in_the_query_string_is_a_problem_too(partner_admin):
    client = api_client(api_key(partner_admin, "customers:read"))
    response = client.get("/api/v1/customers/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path", ["/api/v1/customers/", "/api/v1/subscriptions/", "/api/v1/offers/"]
)
@pytest.mark.parametrize("position", ["abc", '["a\\u0000b",1]', "p=\\u0000"])
def test_a_forged_cursor_is_a_404_not_a_500(partner_admin, path, position):
    import base64
    from urllib.parse import quote

    client = api_client(api_key(partner_admin, role="admin"))
    for raw in (f"p={position}", f"o=5&p={position}"):
        cursor = quote(base64.b64encode(raw.encode()).decode())
        response = client.get(f"{path}?cursor={cursor}")
        assert response.status_code in (400, 404), (raw, response.status_code)
        assert response["Content-Type"] == "application/problem+json"


def test_head_and_options_are_405(partner_admin):
    client = api_client(api_key(partner_admin, "keys:check"))
    assert client.options(CHECK).status_code == 405
    assert client.head(CHECK).status_code == 405


def test_an_api_500_is_problem_json(rf):
    from portal.views import server_error

    response = server_error(rf.get("/api/v1/customers/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert server_error(rf.get("/partner/"))["Content-Type"].startswith("text/html")


def test_a_checkbox_takes_true_or_false_only(partner_admin, northwind):
    from portal.api.forms import form_clean, form_data
    from tenants.delegation.forms import OfferForm
    from tenants.models import Tenant

    for value in (0, "0", "no", [False]):
        form = OfferForm(form_data({"auto_extend": value}), tenants=Tenant.objects.none())
        with pytest.raises(Problem) as refused:
            form_clean(form)
        assert refused.value.errors == {"auto_extend": ["Send true or false."]}


def test_a_scripts_failed_checks_count_per_key_not_against_its_creator(
    client, partner_admin, settings
):
    settings.KEY_GUESS_LIMIT_PER_USER = 2
    settings.KEY_GUESS_LIMIT_PER_ADDRESS = 100
    script = api_client(api_key(partner_admin, "keys:check"))
    refused = script.post(CHECK, {"keys": [generate_key() for _ in range(3)]}, format="json")
    assert refused.status_code == 429
    other_key = api_client(api_key(partner_admin, "keys:check", name="Another script"))
    assert other_key.post(CHECK, {"keys": [generate_key()]}, format="json").status_code == 200
    client.force_login(partner_admin)
    page = client.post("/partner/keys/check/", {"key": generate_key()})
    assert page.status_code == 200  # the person at the page is not locked out by the script


def test_the_language_is_accept_languages_not_a_cookies(partner_admin):
    client = api_client(api_key(partner_admin, "keys:check"), language="de, fr;q=0.8, en;q=0.5")
    client.cookies["django_language"] = "en"
    response = client.post(CHECK, {"keys": []}, format="json")
    assert response["Content-Language"] == "fr"
    assert response.json()["title"] == "La requête n’est pas valide."


@pytest.mark.postgres
def test_a_key_check_runs_one_query_per_key_however_large_the_inventory(
    partner_admin, make_keys, django_assert_num_queries
):
    (key,) = make_keys(1)
    client = api_client(api_key(partner_admin, "keys:check"))
    client.post(CHECK, {"keys": [key]}, format="json")  # warm up
    # The API key (with its creator and partner), then the product key's look-up.
    with django_assert_num_queries(2):
        assert client.post(CHECK, {"keys": [key]}, format="json").json()[0]["usable"]
    make_keys(200)
    with django_assert_num_queries(2):
        assert client.post(CHECK, {"keys": [key]}, format="json").json()[0]["usable"]
