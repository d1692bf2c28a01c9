"""A customer's users and licenses through the API (tenants/api_users.py): the same tenant rule,
forms, services and limits as the "Users and licenses" pages under a relationship."""

import datetime

import pytest
from post_office.models import Email

from portal.models import ApiKey, AuditEvent, User
from tenants.models import ActivityLog, DelegationRelationship, License, TenantUser
from tests.factories import (
    DelegationRelationshipFactory,
    ProductFactory,
    SubscriptionFactory,
    TenantFactory,
)
from tests.helpers import api_client, api_key

BOTH = ("users:read", "users:write")


@pytest.fixture
def standard(contoso, products):
    """Contoso's Business Standard: 2 seats, to 2030."""
    return SubscriptionFactory(
        tenant=contoso, product=products["BUS-STD"], seats=2, end_date=datetime.date(2030, 3, 31)
    )


@pytest.fixture
def megan(contoso):
    return TenantUser.objects.get(tenant=contoso, is_admin=True)


def related(partner, tenant, *roles):
    """`partner` administers `tenant` under an active relationship with `roles`."""
    return DelegationRelationshipFactory(partner=partner, tenant=tenant, roles=list(roles))


@pytest.fixture
def fabrikam_key(fabrikam, other_partner_admin, contoso):
    """Fabrikam (which neither created Contoso nor is its partner of record) administers it as
    user and license administrator; a key with both users scopes."""
    related(fabrikam, contoso, "user_admin", "license_admin")
    return api_key(other_partner_admin, *BOTH)


@pytest.fixture
def api(fabrikam_key):
    return api_client(fabrikam_key)


def users_url(tenant, *rest) -> str:
    return "/".join([f"/api/v1/customers/{tenant.pk}/users", *map(str, rest)]) + "/"


def lynne(**overrides) -> dict:
    return {
        "first_name": "Lynne",
        "last_name": "Robbins",
        "username": "lynne.robbins",
        "email": "Lynne@Contoso.example",
        "language": "fr",
        **overrides,
    }


def problem(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith(f":{code}"), body
    return body


# --- Reading users -----------------------------------------------------------------------------


def test_it_lists_the_users_newest_first_with_their_licenses(api, contoso, megan, alex, standard):
    License.objects.create(subscription=standard, tenant_user=alex)
    response = api.get(users_url(contoso))
    assert response.status_code == 200
    body = response.json()
    assert [u["username"] for u in body["results"]] == [alex.username, megan.username]
    first = body["results"][0]
    assert first["user_principal_name"] == f"{alex.username}@{contoso.domain}"
    assert (first["activated"], body["results"][1]["activated"]) == (False, True)
    assert [(lic["subscription"], lic["sku"]) for lic in first["licenses"]] == [
        (standard.pk, "BUS-STD")
    ]
    assert body["results"][1]["licenses"] == []
    assert body["previous"] is None and body["next"] is None


def test_it_searches_and_pages_with_a_cursor(api, contoso, megan, alex):
    response = api.get(users_url(contoso), {"q": "  wilber  "})
    assert [u["id"] for u in response.json()["results"]] == [alex.pk]
    first = api.get(users_url(contoso), {"page_size": 1}).json()
    assert [u["id"] for u in first["results"]] == [alex.pk]
    second = api.get(first["next"]).json()
    assert [u["id"] for u in second["results"]] == [megan.pk]
    assert second["next"] is None


def test_the_list_does_not_grow_with_its_rows(
    api, contoso, alex, standard, django_assert_num_queries
):
    License.objects.create(subscription=standard, tenant_user=alex)
    api.get(users_url(contoso))  # the key's "last used" is written once a minute: not counted

    def count() -> int:
        # The key; the tenant rule (a tenant user of one's own? created or of record? a
        # relationship?); a page of users; their licenses.
        with django_assert_num_queries(6) as captured:
            assert api.get(users_url(contoso)).status_code == 200
        return len(captured)

    one = count()
    for n in range(5):
        extra = TenantUser.objects.create(
            tenant=contoso, first_name=f"P{n}", last_name="Q", username=f"p{n}",
            email=f"p{n}@contoso.example",
        )  # fmt: skip
        product = ProductFactory(sku=f"SKU-{n}", name=f"Product {n}")
        License.objects.create(
            subscription=SubscriptionFactory(
                tenant=contoso, product=product, end_date=datetime.date(2030, 1, 1)
            ),
            tenant_user=extra,
        )
    assert count() == one


def test_it_reads_one_user_and_not_another_customers(api, contoso, alex, fabrikam):
    response = api.get(users_url(contoso, alex.pk))
    assert response.status_code == 200
    assert response.json()["email"] == "alex@contoso.example"
    tailspin = TenantFactory(name="Tailspin", domain_prefix="tailspin", created_by_partner=fabrikam)
    stranger = TenantUser.objects.create(
        tenant=tailspin, first_name="Lee", last_name="Gu", email="lee@tailspin.example"
    )
    problem(api.get(users_url(contoso, stranger.pk)), 404, "not_found")


# --- Adding a user -----------------------------------------------------------------------------


def test_it_adds_a_user_with_a_license_and_both_logs_name_the_key(
    api, contoso, standard, other_partner_admin
):
    Email.objects.all().delete()
    response = api.post(users_url(contoso), lynne(licenses=[standard.pk]), format="json")
    assert response.status_code == 201, response.content
    added = TenantUser.objects.get(username="lynne.robbins")
    assert response["Location"] == users_url(contoso, added.pk)
    body = response.json()
    assert (body["email"], body["is_admin"], body["activated"]) == (
        "lynne@contoso.example",
        False,
        False,
    )
    assert [lic["subscription"] for lic in body["licenses"]] == [standard.pk]
    (email,) = Email.objects.all()
    assert email.to == ["lynne@contoso.example"]
    assert "Activez votre compte pour Contoso" in email.subject
    assert "(Fabrikam Resellers) vous a ajouté à Contoso" in email.message
    key = ApiKey.objects.get()
    event = AuditEvent.objects.get(action="tenant_user.created")
    assert (event.actor, event.api_key, event.details["capacity"]) == (
        other_partner_admin,
        key,
        "delegated",
    )
    acts = ActivityLog.objects.filter(tenant=contoso).order_by("id")
    assert [(a.action, a.partner.name, a.actor) for a in acts] == [
        ("tenant_user.created", "Fabrikam Resellers", other_partner_admin),
        ("license.assigned", "Fabrikam Resellers", other_partner_admin),
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "megan", "megan@contoso.cloudsuite.example is already taken."),
        ("username", "lynne_r", "Use only lower-case letters, digits, dots and hyphens."),
        ("email", "MEGAN@contoso.example", "An account already uses this e-mail address."),
        ("first_name", "!!", "Enter a name with letters."),
        ("last_name", None, "This field is required."),
    ],
)
def test_it_refuses_a_user_with_the_pages_messages(api, contoso, field, value, message):
    response = api.post(users_url(contoso), lynne(**{field: value}), format="json")
    body = problem(response, 400, "invalid")
    assert message in " ".join(body["errors"][field])
    assert not TenantUser.objects.filter(username="lynne.robbins").exists()


@pytest.mark.parametrize("preferred", ["fr", "en"])
def test_a_user_sent_without_a_language_gets_the_customers(api, contoso, preferred):
    contoso.preferred_language = preferred
    contoso.save()
    data = lynne()
    del data["language"]
    assert api.post(users_url(contoso), data, format="json").status_code == 201
    assert TenantUser.objects.get(username="lynne.robbins").user.language == preferred


def test_its_messages_are_in_the_language_asked(fabrikam_key, contoso):
    response = api_client(fabrikam_key, language="fr").post(
        users_url(contoso), lynne(username="megan"), format="json"
    )
    body = problem(response, 400, "invalid")
    assert body["errors"]["username"] == ["megan@contoso.cloudsuite.example est déjà pris."]


def test_it_refuses_a_license_without_a_free_seat(api, contoso, megan, alex, standard):
    License.objects.create(subscription=standard, tenant_user=megan)
    License.objects.create(subscription=standard, tenant_user=alex)
    response = api.post(users_url(contoso), lynne(licenses=[standard.pk]), format="json")
    body = problem(response, 400, "invalid")
    assert body["errors"]["licenses"] == ["All seats are assigned."]
    assert not TenantUser.objects.filter(username="lynne.robbins").exists()


def test_a_user_administrator_cannot_give_licenses_when_adding(
    fabrikam, other_partner_admin, contoso, standard
):
    related(fabrikam, contoso, "user_admin")
    api = api_client(api_key(other_partner_admin, *BOTH))
    response = api.post(users_url(contoso), lynne(licenses=[standard.pk]), format="json")
    problem(response, 404, "not_found")
    assert not TenantUser.objects.filter(username="lynne.robbins").exists()
    assert api.post(users_url(contoso), lynne(), format="json").status_code == 201


def test_making_an_admin_needs_a_global_administrator_relationship(
    api, fabrikam, other_partner_admin, contoso
):
    response = api.post(users_url(contoso), lynne(is_admin=True), format="json")
    body = problem(response, 400, "invalid")
    assert body["errors"]["is_admin"] == [
        "Only the organization's administrators can make, change or remove an administrator."
    ]
    ApiKey.objects.all().delete()
    DelegationRelationship.objects.filter(tenant=contoso).update(roles=["global_admin"])
    api = api_client(api_key(other_partner_admin, *BOTH))
    response = api.post(users_url(contoso), lynne(is_admin=True), format="json")
    assert response.status_code == 201
    assert response.json()["is_admin"] is True


def test_the_same_idempotency_key_adds_one_user(api, contoso):
    headers = {"Idempotency-Key": "add-lynne"}
    first = api.post(users_url(contoso), lynne(), format="json", headers=headers)
    again = api.post(users_url(contoso), lynne(), format="json", headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert TenantUser.objects.filter(username="lynne.robbins").count() == 1


# --- Changing and removing ---------------------------------------------------------------------


def test_it_changes_only_the_fields_sent(api, contoso, alex, other_partner_admin):
    response = api.patch(users_url(contoso, alex.pk), {"phone": "+33 6 12 34 56 78"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["phone"], body["first_name"], body["email"]) == (
        "+33 6 12 34 56 78",
        "Alex",
        "alex@contoso.example",
    )
    act = ActivityLog.objects.get(action="tenant_user.changed")
    assert act.actor == other_partner_admin
    assert act.details["changes"] == {"phone": ["", "+33 6 12 34 56 78"]}
    assert api.patch(users_url(contoso, alex.pk), {"phone": "+33 6 12 34 56 78"}).status_code == 200
    assert ActivityLog.objects.filter(action="tenant_user.changed").count() == 1


def test_it_refuses_a_change_with_the_pages_messages(api, contoso, alex, megan):
    response = api.patch(users_url(contoso, alex.pk), {"email": "megan@contoso.example"})
    body = problem(response, 400, "invalid")
    assert body["errors"]["email"] == [
        "An account already uses this e-mail address. Enter another address."
    ]
    problem(api.patch(users_url(contoso, alex.pk), ["phone"]), 400, "invalid")
    response = api.patch(users_url(contoso, megan.pk), {"is_admin": False})
    assert problem(response, 400, "invalid")["errors"]["is_admin"]
    alex.refresh_from_db()
    assert alex.email == "alex@contoso.example"


def test_the_last_administrator_stays_one(fabrikam, other_partner_admin, contoso, megan):
    related(fabrikam, contoso, "global_admin")
    api = api_client(api_key(other_partner_admin, *BOTH))
    response = api.patch(users_url(contoso, megan.pk), {"is_admin": False})
    body = problem(response, 400, "invalid")
    assert body["errors"]["is_admin"] == [
        "Megan Bowen is the last administrator: the organization needs one."
    ]
    body = problem(api.delete(users_url(contoso, megan.pk)), 409, "tenant_user_refused")
    assert body["detail"] == "Megan Bowen is the last administrator: the organization needs one."


def test_it_removes_a_user_and_frees_their_licenses(api, contoso, alex, standard):
    License.objects.create(subscription=standard, tenant_user=alex)
    account = alex.user_id
    response = api.delete(users_url(contoso, alex.pk))
    assert response.status_code == 200
    assert response.json() == {"id": alex.pk, "licenses_freed": 1}
    assert not TenantUser.objects.filter(pk=alex.pk).exists()
    assert not User.objects.filter(pk=account).exists()
    act = ActivityLog.objects.get(action="tenant_user.removed")
    assert act.details["licenses_freed"] == ["BUS-STD"]
    problem(api.delete(users_url(contoso, alex.pk)), 404, "not_found")


def test_a_user_administrator_does_not_remove_an_administrator(api, contoso, megan):
    body = problem(api.delete(users_url(contoso, megan.pk)), 409, "tenant_user_refused")
    assert body["detail"].startswith("Only the organization's administrators")
    assert TenantUser.objects.filter(pk=megan.pk).exists()


# --- Activation e-mails ------------------------------------------------------------------------


def test_it_sends_the_activation_again_within_the_limit(api, contoso, alex, megan, settings):
    settings.EMAIL_LINK_LIMIT_PER_ACCOUNT = 2
    Email.objects.all().delete()
    url = users_url(contoso, alex.pk, "resend-activation")
    response = api.post(url)
    assert response.status_code == 202
    assert response.json() == {
        "email": "alex@contoso.example",
        "detail": "A new activation e-mail is on its way to alex@contoso.example.",
    }
    assert Email.objects.filter(to=["alex@contoso.example"]).count() == 1
    assert ActivityLog.objects.filter(action="tenant_user.activation_resent").count() == 1
    # Megan has activated her account: nothing sent, and nothing counted.
    for _try in range(3):
        body = problem(
            api.post(users_url(contoso, megan.pk, "resend-activation")), 409, "already_activated"
        )
    assert body["detail"] == "This user has already activated their account."
    assert api.post(url).status_code == 202
    body = problem(api.post(url), 429, "email_link_limit")
    assert body["detail"].startswith("To protect mailboxes")
    assert 1 <= int(api.post(url)["Retry-After"]) <= 3600
    assert Email.objects.filter(to=["alex@contoso.example"]).count() == 2


def test_the_limit_speaks_the_language_asked(fabrikam_key, contoso, alex, settings):
    settings.EMAIL_LINK_LIMIT_PER_ACCOUNT = 1
    api = api_client(fabrikam_key, language="fr")
    url = users_url(contoso, alex.pk, "resend-activation")
    assert api.post(url).status_code == 202
    body = problem(api.post(url), 429, "email_link_limit")
    assert body["detail"].startswith("Pour protéger les boîtes de réception")
    assert "Vous pourrez redemander à " in body["detail"]


def test_a_license_administrator_does_not_resend_activations(
    fabrikam, other_partner_admin, contoso, alex
):
    related(fabrikam, contoso, "license_admin")
    api = api_client(api_key(other_partner_admin, *BOTH))
    problem(api.post(users_url(contoso, alex.pk, "resend-activation")), 404, "not_found")


# --- Licenses ----------------------------------------------------------------------------------


def test_it_assigns_a_license_once(api, contoso, alex, standard, other_partner_admin):
    url = users_url(contoso, alex.pk, "licenses")
    response = api.post(url, {"subscription": standard.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["subscription"] == standard.pk
    again = api.post(url, {"subscription": standard.pk}, format="json")
    assert again.status_code == 200
    assert License.objects.filter(tenant_user=alex).count() == 1
    act = ActivityLog.objects.get(action="license.assigned")
    assert (act.actor, act.details) == (other_partner_admin, {"username": alex.username})


def test_it_refuses_a_license_it_cannot_assign(api, contoso, megan, alex, standard, fabrikam):
    url = users_url(contoso, alex.pk, "licenses")
    body = problem(api.post(url, {"subscription": "x"}, format="json"), 400, "invalid")
    assert body["errors"]["subscription"] == ["A valid integer is required."]
    problem(api.post(url, {}, format="json"), 400, "invalid")
    elsewhere = SubscriptionFactory(tenant=TenantFactory(created_by_partner=fabrikam))
    problem(api.post(url, {"subscription": elsewhere.pk}, format="json"), 404, "not_found")
    standard.seats = 1
    standard.save()
    License.objects.create(subscription=standard, tenant_user=megan)
    body = problem(
        api.post(url, {"subscription": standard.pk}, format="json"), 409, "license_unavailable"
    )
    message = (
        "All 1 seats of Business Standard are assigned. Unassign a license first, or ask your "
        "partner for more licenses."
    )
    assert (body["detail"], body["errors"]) == (message, {"subscription": [message]})


def test_a_user_administrator_does_not_assign_licenses(
    fabrikam, other_partner_admin, contoso, alex, standard
):
    related(fabrikam, contoso, "user_admin")
    api = api_client(api_key(other_partner_admin, *BOTH))
    url = users_url(contoso, alex.pk, "licenses")
    problem(api.post(url, {"subscription": standard.pk}, format="json"), 404, "not_found")
    License.objects.create(subscription=standard, tenant_user=alex)
    problem(api.delete(users_url(contoso, alex.pk, "licenses", standard.pk)), 404, "not_found")
    assert License.objects.filter(tenant_user=alex).count() == 1


def test_it_unassigns_a_license(api, contoso, alex, standard):
    License.objects.create(subscription=standard, tenant_user=alex)
    url = users_url(contoso, alex.pk, "licenses", standard.pk)
    response = api.delete(url)
    assert response.status_code == 204
    assert not License.objects.filter(tenant_user=alex).exists()
    assert ActivityLog.objects.filter(action="license.unassigned").count() == 1
    problem(api.delete(url), 404, "not_found")


def test_it_lists_the_seats_of_each_subscription(api, contoso, megan, standard, products):
    License.objects.create(subscription=standard, tenant_user=megan)
    ended = SubscriptionFactory(
        tenant=contoso, product=products["BUS-PREM"], seats=3, end_date=datetime.date(2026, 1, 31)
    )
    response = api.get(f"/api/v1/customers/{contoso.pk}/licenses/")
    assert response.status_code == 200
    by_sku = {row["sku"]: row for row in response.json()}
    assert {k: by_sku["BUS-STD"][k] for k in ("subscription", "seats", "used", "free")} == {
        "subscription": standard.pk,
        "seats": 2,
        "used": 1,
        "free": 1,
    }
    assert by_sku["BUS-STD"]["assignable"] is True and by_sku["BUS-STD"]["problem"] is None
    assert by_sku["BUS-PREM"]["subscription"] == ended.pk
    assert by_sku["BUS-PREM"]["assignable"] is False
    assert "its licenses cannot be assigned" in by_sku["BUS-PREM"]["problem"]


def test_the_seats_list_does_not_grow_with_its_rows(
    api, contoso, standard, django_assert_num_queries
):
    url = f"/api/v1/customers/{contoso.pk}/licenses/"
    api.get(url)  # the key's "last used" is written once a minute: not counted
    # The key; the tenant rule (3); the subscriptions with their seats used.
    with django_assert_num_queries(5):
        assert len(api.get(url).json()) == 1
    for n in range(4):
        product = ProductFactory(sku=f"SKU-{n}", name=f"Product {n}")
        SubscriptionFactory(tenant=contoso, product=product, end_date=datetime.date(2030, 1, 1))
    with django_assert_num_queries(5):
        assert len(api.get(url).json()) == 5


# --- Who may -----------------------------------------------------------------------------------


def endpoints(tenant, tenant_user, subscription) -> list[tuple[str, str, dict | None]]:
    user = users_url(tenant, tenant_user.pk)
    return [
        ("get", users_url(tenant), None),
        ("post", users_url(tenant), lynne()),
        ("get", user, None),
        ("patch", user, {"phone": "+33 6 12 34 56 78"}),
        ("delete", user, None),
        ("post", user + "resend-activation/", None),
        ("post", user + "licenses/", {"subscription": subscription.pk}),
        ("delete", user + f"licenses/{subscription.pk}/", None),
        ("get", f"/api/v1/customers/{tenant.pk}/licenses/", None),
    ]


def call(api, method: str, url: str, data):
    return getattr(api, method)(url, data, format="json")


def test_a_billing_reader_relationship_reaches_no_user(
    fabrikam, other_partner_admin, contoso, alex, standard
):
    related(fabrikam, contoso, "billing_reader")
    api = api_client(api_key(other_partner_admin, *BOTH))
    for method, url, data in endpoints(contoso, alex, standard):
        problem(call(api, method, url, data), 404, "not_found")


def test_another_partner_reaches_no_user(other_partner_admin, contoso, alex, standard):
    api = api_client(api_key(other_partner_admin, *BOTH))
    for method, url, data in endpoints(contoso, alex, standard):
        problem(call(api, method, url, data), 404, "not_found")


def test_the_partner_that_created_the_customer_reads_users_but_does_not_manage_them(
    partner_admin, contoso, alex, standard
):
    api = api_client(api_key(partner_admin, *BOTH))
    for method, url, data in endpoints(contoso, alex, standard):
        response = call(api, method, url, data)
        if method == "get":
            assert response.status_code == 200, url
        else:
            problem(response, 404, "not_found")
    assert TenantUser.objects.filter(tenant=contoso).count() == 2


def test_a_key_without_the_scope_gets_403(other_partner_admin, fabrikam, contoso, alex, standard):
    related(fabrikam, contoso, "user_admin", "license_admin")
    readers = api_client(api_key(other_partner_admin, "users:read"))
    writers = api_client(api_key(other_partner_admin, "users:write", name="Writer"))
    for method, url, data in endpoints(contoso, alex, standard):
        api, scope = (writers, "users:read") if method == "get" else (readers, "users:write")
        body = problem(call(api, method, url, data), 403, "insufficient_scope")
        assert body["required_scope"] == scope


def test_an_agents_key_acts_under_the_relationship(fabrikam, other_partner_admin, contoso, alex):
    # Partner agents act under delegated roles too (design, "Access").
    related(fabrikam, contoso, "user_admin")
    api = api_client(api_key(other_partner_admin, *BOTH, role="agent"))
    assert api.patch(users_url(contoso, alex.pk), {"phone": "+33 6 12 34 56 78"}).status_code == 200


# --- The schema's examples are real answers ------------------------------------------------------


def shape(value):
    """The keys of `value`, all the way down (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def example(schema: dict, path: str, method: str, status_code: int):
    content = schema["paths"][path][method]["responses"][str(status_code)]["content"]
    (one,) = content["application/json"]["examples"].values()
    return one["value"]


def test_the_schemas_examples_have_the_keys_of_real_answers(api, contoso, megan, alex, standard):
    schema = api_client().get("/api/v1/schema/", {"format": "json"}).json()
    base = "/api/v1/customers/{id}"
    user = base + "/users/{user_id}/"
    License.objects.create(subscription=standard, tenant_user=megan)
    added = api.post(users_url(contoso), lynne(licenses=[standard.pk]), format="json")
    lynne_pk = added.json()["id"]
    answers = [
        (base + "/users/", "get", 200, api.get(users_url(contoso), {"page_size": 1})),
        (base + "/users/", "post", 201, added),
        (user, "get", 200, api.get(users_url(contoso, lynne_pk))),
        (user, "patch", 200, api.patch(users_url(contoso, lynne_pk), {"phone": ""})),
        (
            user + "resend-activation/",
            "post",
            202,
            api.post(users_url(contoso, alex.pk, "resend-activation")),
        ),
        (base + "/licenses/", "get", 200, api.get(f"/api/v1/customers/{contoso.pk}/licenses/")),
    ]
    standard.seats = 3
    standard.save()
    answers.append(
        (
            user + "licenses/",
            "post",
            201,
            api.post(users_url(contoso, alex.pk, "licenses"), {"subscription": standard.pk}),
        )
    )
    answers.append((user, "delete", 200, api.delete(users_url(contoso, lynne_pk))))
    for path, method, status_code, response in answers:
        assert response.status_code == status_code, (path, method, response.content)
        assert shape(response.json()) == shape(example(schema, path, method, status_code)), (
            path,
            method,
        )
