"""Delegated administration: offers, the customer's answer, the tenant rule under a
relationship, termination and expiry, the activity log (design §4, "Access")."""

import csv
import datetime
import io

import pytest
import time_machine
from django.core import signing
from django.http import Http404
from post_office.models import Email

from portal.models import AuditEvent, User
from portal.spreadsheets import csv_cell
from tenants.access import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    Capacity,
    Permission,
    customer_access,
    tenant_access,
)
from tenants.delegation.offers import (
    OfferClosed,
    OfferDetails,
    OfferError,
    offer_answer,
    offer_send,
)
from tenants.delegation.relationships import relationship_terminate
from tenants.models import (
    ActivityLog,
    DelegatedRole,
    DelegationOffer,
    DelegationRelationship,
    TenantUser,
)
from tenants.tokens import offer_token
from tests.factories import (
    DelegationRelationshipFactory,
    SubscriptionFactory,
    TenantFactory,
)

P = Permission


def acting(user, offer):
    """The person's standing in the offer's tenant, as a page would pass it to the service:
    their own tenant's for a customer user, else what the rule gives them in the offer's."""
    access = customer_access(user)
    if access is None:
        access = tenant_access(user=user, tenant_id=offer.tenant_id, permission=Permission.READ)
    return access


# The design's table, written out once more by hand: the code must agree with it.
MATRIX = {
    "global_admin": set(Permission) - {P.OWN_LICENSES},
    "user_admin": {P.READ, P.USERS_READ, P.USERS_MANAGE, P.USER_ACTIVATION_RESEND},
    "license_admin": {P.READ, P.USERS_READ, P.LICENSES_MANAGE},
    "billing_reader": {P.READ, P.SUBSCRIPTIONS_READ},
    "helpdesk": {P.READ, P.USERS_READ, P.USER_ACTIVATION_RESEND},
}


@pytest.fixture
def subscription(contoso):
    """Contoso's Business Standard, to 2030-03-31 (past every date these tests travel to)."""
    return SubscriptionFactory(tenant=contoso, end_date=datetime.date(2030, 3, 31))


@pytest.fixture
def client_fr(client):
    """The pages in French (the browser's language)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    return client


@pytest.fixture
def tailspin_admin(fabrikam):
    tenant = TenantFactory(name="Tailspin", domain_prefix="tailspin", created_by_partner=fabrikam)
    user = User.objects.create_user("lee@tailspin.example", "portal-demo")
    TenantUser.objects.create(
        tenant=tenant, user=user, first_name="Lee", last_name="Gu", email=user.email,
        is_admin=True,
    )  # fmt: skip
    return user


def send(partner_admin, tenant, roles=("user_admin",), days=30, auto_extend=False, message="Hi"):
    return offer_send(
        membership=partner_admin.partner_membership,
        tenant=tenant,
        details=OfferDetails(
            roles=list(roles), duration_days=days, auto_extend=auto_extend, message=message
        ),
    )


def related(partner_admin, contoso, contoso_admin, roles=("user_admin",), days=30):
    offer = send(partner_admin, contoso, roles=roles, days=days)
    return offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)


# --- The role-to-permission table ----------------------------------------------------------


@pytest.mark.parametrize("role", list(DelegatedRole))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_allows_exactly_what_the_table_says(
    role,
    permission,
    partner_admin,
    contoso,
    subscription,
    contoso_admin,
    fabrikam,
    other_partner_admin,
):
    # Fabrikam neither created Contoso nor is its partner of record: only the roles count.
    fabrikam.cloud_program_enrolled = True
    fabrikam.save()
    contoso.subscriptions.update(partner_of_record=fabrikam)
    offer = send(other_partner_admin, contoso, roles=[role])
    contoso.subscriptions.update(partner_of_record=None)
    offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)
    expected = permission in MATRIX[role]
    if expected:
        access = tenant_access(
            user=other_partner_admin, tenant_id=contoso.pk, permission=permission
        )
        assert access.capacity is Capacity.DELEGATED
    else:
        with pytest.raises(Http404):
            tenant_access(user=other_partner_admin, tenant_id=contoso.pk, permission=permission)


def test_the_table_in_the_code_is_the_designs():
    assert {role.value: set(perms | {P.READ}) for role, perms in ROLE_PERMISSIONS.items()} == MATRIX
    assert PERMISSIONS[Capacity.TENANT_ADMIN] == frozenset(Permission)


def test_the_creator_keeps_its_own_permissions_under_a_relationship(
    partner_admin, contoso, contoso_admin
):
    related(partner_admin, contoso, contoso_admin, roles=["billing_reader"])
    access = tenant_access(user=partner_admin, tenant_id=contoso.pk, permission=P.REDEEM)
    assert access.capacity is Capacity.DELEGATED
    assert access.can(P.SUBSCRIPTIONS_READ) and not access.can(P.USERS_MANAGE)


# --- Sending ---------------------------------------------------------------------------------


def test_it_sends_the_offer_to_the_tenants_admins_in_their_language(
    partner_admin, contoso, contoso_admin
):
    offer = send(partner_admin, contoso, roles=["helpdesk", "user_admin"])
    assert offer.roles == ["user_admin", "helpdesk"]  # the catalog's order
    assert offer.expires_at - offer.created_at == datetime.timedelta(days=90)
    (email,) = Email.objects.all()
    assert email.to == ["megan@contoso.example"]
    assert "demande" in email.subject  # French: the admin's language
    assert "/customer/offer/" in email.message
    assert AuditEvent.objects.filter(action="delegation_offer.sent").count() == 1


@pytest.mark.parametrize(
    ("who", "reason"),
    [("partner_agent", "partner admins"), ("other_partner_admin", "not enrolled")],
)
def test_only_enrolled_partner_admins_send(request, who, reason, contoso, subscription, fabrikam):
    user = request.getfixturevalue(who)
    contoso.subscriptions.update(partner_of_record=fabrikam)
    with pytest.raises(OfferError, match=reason):
        send(user, contoso)
    assert not DelegationOffer.objects.exists()


def test_it_refuses_auto_extend_with_global_administrator(partner_admin, contoso):
    with pytest.raises(OfferError, match="cannot auto-extend") as error:
        send(partner_admin, contoso, roles=["global_admin"], auto_extend=True)
    assert error.value.field == "auto_extend"


def test_it_refuses_a_tenant_that_is_not_the_partners(partner_admin, tailspin_admin):
    tailspin = tailspin_admin.tenant_user.tenant
    with pytest.raises(OfferError):
        send(partner_admin, tailspin)


# --- Answering ------------------------------------------------------------------------------


def test_an_offer_cannot_be_accepted_by_another_tenants_admin_nor_by_the_partner(
    partner_admin, contoso, contoso_admin, tailspin_admin, client
):
    offer = send(partner_admin, contoso)
    for user in (tailspin_admin, partner_admin):
        with pytest.raises(PermissionError):
            offer_answer(access=acting(user, offer), offer=offer, accept=True)
        client.force_login(user)
        assert client.get(f"/customer/offer/{offer_token(offer)}/").status_code == 404
        assert client.post(
            f"/customer/partner-relationships/offers/{offer.pk}/", {"answer": "accept"}
        ).status_code in (403, 404)
    offer.refresh_from_db()
    assert offer.state == "pending"
    assert not DelegationRelationship.objects.exists()


def test_the_link_sends_an_anonymous_person_to_sign_in_and_back(partner_admin, contoso, client):
    offer = send(partner_admin, contoso)
    url = f"/customer/offer/{offer_token(offer)}/"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/customer/offer/")


def test_the_link_leads_the_admin_to_the_offer_then_accept_works_once(
    partner_admin, contoso, contoso_admin, client_fr
):
    offer = send(partner_admin, contoso, roles=["user_admin", "billing_reader"], days=30)
    client_fr.force_login(contoso_admin)
    link = f"/customer/offer/{offer_token(offer)}/"
    response = client_fr.get(link)
    assert response["Location"] == f"/customer/partner-relationships/offers/{offer.pk}/"
    page = client_fr.get(response["Location"]).content.decode()
    assert "Northwind Partners" in page and "1000001" in page
    assert "Accepter" in page and "Refuser" in page  # the admin's language
    assert DelegationOffer.objects.get().state == "pending"  # GET changes nothing
    consent = client_fr.post(response["Location"], {"answer": "accept"}).content.decode()
    # Accepting grants power: a consent step first (partner, roles, end date, removable).
    assert "Accorder ces rôles à Northwind Partners" in consent
    assert "1000001" in consent and "Administrateur des utilisateurs" in consent
    assert "à tout moment" in consent
    assert not DelegationRelationship.objects.exists()
    client_fr.post(response["Location"], {"answer": "accept", "confirm": "1"})
    relationship = DelegationRelationship.objects.get()
    assert relationship.ends_on - relationship.starts_on == datetime.timedelta(days=30)
    # Single use: the link and the page now say it was answered.
    assert "déjà" in client_fr.get(link).content.decode()
    client_fr.post(response["Location"], {"answer": "decline"})
    assert DelegationOffer.objects.get().state == "accepted"
    assert DelegationRelationship.objects.count() == 1
    # Both sides heard of it.
    recipients = sorted(e.to[0] for e in Email.objects.filter(subject__icontains="accept"))
    assert recipients == ["megan@contoso.example", "partner@northwind.example"]


def test_a_tampered_link_says_so(partner_admin, contoso, contoso_admin, client_fr):
    offer = send(partner_admin, contoso)
    token = offer_token(offer)
    forged = signing.dumps({"offer": offer.pk}, salt="another salt")
    client_fr.force_login(contoso_admin)
    for bad in (token[:-2] + "xx", forged, "nonsense"):
        response = client_fr.get(f"/customer/offer/{bad}/")
        assert response.status_code == 400
        assert "pas valide" in response.content.decode()


def test_an_offer_expires_after_90_days_and_its_link_says_so(
    partner_admin, contoso, contoso_admin, client_fr
):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC)):
        offer = send(partner_admin, contoso)
    with time_machine.travel(datetime.datetime(2026, 4, 1, 10, tzinfo=datetime.UTC)):
        with pytest.raises(OfferClosed) as closed:
            offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)
        assert closed.value.state == "expired"
        client_fr.force_login(contoso_admin)
        page = client_fr.get(f"/customer/offer/{offer_token(offer)}/").content.decode()
        assert "expiré" in page
    assert DelegationOffer.objects.get().state == "expired"


def test_a_withdrawn_offer_cannot_be_accepted(partner_admin, contoso, contoso_admin, client):
    offer = send(partner_admin, contoso)
    client.force_login(partner_admin)
    assert client.get(f"/partner/delegated-admin/offers/{offer.pk}/withdraw/").status_code == 200
    client.post(f"/partner/delegated-admin/offers/{offer.pk}/withdraw/")
    with pytest.raises(OfferClosed):
        offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)


def test_declining_grants_nothing(partner_admin, contoso, contoso_admin):
    offer = send(partner_admin, contoso)
    assert offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=False) is None
    assert offer.state == "declined"
    with pytest.raises(Http404):
        tenant_access(user=partner_admin, tenant_id=contoso.pk, permission=P.USERS_MANAGE)


# --- Acting for the customer, and when it stops ---------------------------------------------


def test_the_partner_acts_in_its_roles_and_the_log_records_it(
    partner_agent, partner_admin, contoso, subscription, contoso_admin, alex, client
):
    related(partner_admin, contoso, contoso_admin, roles=["user_admin"])
    client.force_login(partner_agent)
    base = f"/partner/customers/{contoso.pk}/users/"
    assert client.get(base).status_code == 200
    response = client.post(
        f"{base}{alex.pk}/",
        {"first_name": "Alexandra", "last_name": "Wilber", "username": alex.username,
         "email": alex.email, "phone": ""},
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == f"{base}{alex.pk}/"
    alex.refresh_from_db()
    assert alex.first_name == "Alexandra"
    entry = ActivityLog.objects.get()
    assert (entry.tenant, entry.actor, entry.action) == (
        contoso,
        partner_agent,
        "tenant_user.changed",
    )
    assert entry.relationship.partner.partner_id == "1000001"
    # Licenses are not the user administrator's.
    response = client.post(f"{base}{alex.pk}/licenses/{subscription.pk}/assign/")
    assert response.status_code == 404
    # Nor are administrators: the admin's page is read only, and a forced POST is refused.
    admin = contoso.users.get(is_admin=True)
    assert b"Save changes" not in client.get(f"{base}{admin.pk}/").content
    client.post(
        f"{base}{admin.pk}/",
        {"first_name": "X", "last_name": "Y", "username": admin.username, "email": admin.email},
    )
    admin.refresh_from_db()
    assert admin.first_name == "Megan"


def test_the_customer_admins_own_actions_are_not_in_the_activity_log(contoso_admin, alex, client):
    client.force_login(contoso_admin)
    client.post(f"/customer/users/{alex.pk}/remove/")
    assert not TenantUser.objects.filter(pk=alex.pk).exists()
    assert not ActivityLog.objects.exists()


def test_access_stops_at_termination(partner_admin, contoso, contoso_admin, client):
    relationship = related(partner_admin, contoso, contoso_admin, roles=["helpdesk"])
    client.force_login(partner_admin)
    admin_page = f"/partner/customers/{contoso.pk}/users/"
    assert client.get(admin_page).status_code == 200  # as creator (read only) or helpdesk
    resend = f"/partner/customers/{contoso.pk}/users/{contoso.users.get().pk}/resend-activation/"
    assert client.post(resend).status_code == 302
    customer = client.__class__()
    customer.force_login(contoso_admin)
    url = f"/customer/partner-relationships/{relationship.pk}/remove-roles/"
    assert customer.get(url).status_code == 200
    customer.post(url)
    relationship.refresh_from_db()
    assert relationship.state == "terminated"
    assert client.post(resend).status_code == 404  # the next request already
    assert (
        relationship_terminate(relationship=relationship, by=partner_admin.partner_membership)
        is False
    )


def test_access_stops_after_the_end_date_even_before_the_sweep(
    partner_admin, contoso, contoso_admin, alex
):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC)):
        related(partner_admin, contoso, contoso_admin, roles=["user_admin"], days=10)
    with time_machine.travel(datetime.datetime(2026, 1, 11, 23, tzinfo=datetime.UTC)):
        tenant_access(user=partner_admin, tenant_id=contoso.pk, permission=P.USERS_MANAGE)
    with (
        time_machine.travel(datetime.datetime(2026, 1, 12, 0, 1, tzinfo=datetime.UTC)),
        pytest.raises(Http404),
    ):
        tenant_access(user=partner_admin, tenant_id=contoso.pk, permission=P.USERS_MANAGE)


# --- The activity log's pages --------------------------------------------------------------


def test_both_sides_read_filter_and_export_the_log(
    partner_admin, partner_agent, contoso, contoso_admin, alex, client
):
    relationship = related(partner_admin, contoso, contoso_admin, roles=["user_admin"])
    for day, action, label in [
        (3, "tenant_user.created", '=HYPERLINK("http://evil")'),
        (5, "tenant_user.removed", "Alex"),
    ]:
        ActivityLog.objects.create(
            at=datetime.datetime(2026, 2, day, 12, tzinfo=datetime.UTC), tenant=contoso,
            relationship=relationship, partner=relationship.partner, actor=partner_agent,
            actor_label=partner_agent.email, action=action, target_label=label,
        )  # fmt: skip
    client.force_login(contoso_admin)
    page = client.get("/customer/activity/", {"start": "2026-02-04", "end": "2026-02-28"})
    assert [entry.action for entry, _label in page.context["rows"]] == ["tenant_user.removed"]
    page = client.get("/customer/activity/", {"action": "tenant_user.created"})
    (entry, _label), *_others = page.context["rows"]
    assert entry.target_label.startswith("=")
    export = client.get("/customer/activity/export/")
    body = export.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert any(row[6] == '\'=HYPERLINK("http://evil")' for row in rows)
    # The partner: agents read, admins export.
    client.force_login(partner_agent)
    assert client.get("/partner/activity/").status_code == 200
    assert client.get("/partner/activity/export/").status_code == 403
    client.force_login(partner_admin)
    assert (
        len(
            list(
                csv.reader(
                    io.StringIO(client.get("/partner/activity/export/").content.decode()[1:])
                )
            )
        )
        == 3
    )


@pytest.mark.django_db(transaction=True)
def test_the_export_reads_the_log_inside_one_transaction(
    partner_admin, partner_agent, contoso, contoso_admin, client, monkeypatch
):
    # Behind PgBouncer in transaction mode, a server-side cursor declared outside a transaction
    # is declared WITH HOLD and outlives it: its next FETCH may go out on another server
    # connection, where it does not exist (4 reads of 1,200 rows in 20 failed so through a pool
    # of 2 server connections that 3 other clients used). Declared inside one, it lives and
    # dies with it, on one connection, whatever DISABLE_SERVER_SIDE_CURSORS says.
    from django.db import connection

    relationship = related(partner_admin, contoso, contoso_admin, roles=["user_admin"])
    ActivityLog.objects.bulk_create(
        ActivityLog(
            tenant=contoso, relationship=relationship, partner=relationship.partner,
            actor=partner_agent, actor_label=partner_agent.email, action="tenant_user.created",
            target_label=f"User {n}",
        )
        for n in range(3)
    )  # fmt: skip
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", False)
    declared_in_autocommit = []
    create_cursor = connection.create_cursor

    def spy(name=None):
        if name is not None:  # a server-side cursor
            declared_in_autocommit.append(connection.get_autocommit())
        return create_cursor(name)

    monkeypatch.setattr(connection, "create_cursor", spy)
    client.force_login(partner_admin)
    export = client.get("/partner/activity/export/")
    assert export.status_code == 200
    assert len(export.content.decode().splitlines()) == 4
    assert declared_in_autocommit == [False]


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+1", "'=1+1"), ("+33", "'+33"), ("-2", "'-2"), ("@SUM", "'@SUM"), ("\tx", "'\tx"),
     ("\rx", "'\rx"), ("Alex", "Alex"), ("", ""), (None, "")],
)  # fmt: skip
def test_csv_cells_are_formula_safe(value, cell):
    assert csv_cell(value) == cell


def test_the_activity_page_runs_a_fixed_number_of_queries(
    partner_admin, contoso, contoso_admin, client, django_assert_num_queries
):
    relationship = related(partner_admin, contoso, contoso_admin)

    def write(count: int) -> None:
        for n in range(count):
            ActivityLog.objects.create(
                tenant=contoso, relationship=relationship, partner=relationship.partner,
                actor=partner_admin, actor_label=partner_admin.email, action="license.assigned",
                target_label=f"#{n}",
            )  # fmt: skip

    write(1)
    client.force_login(partner_admin)
    client.get("/partner/activity/")  # warm the session
    with django_assert_num_queries(6):
        client.get("/partner/activity/")
    write(30)
    # The same whatever the number of rows. Three are every signed-in request's: the session,
    # the person with their membership and the header's look-ups (one query: renewals.auth's
    # get_user; its sign-in rule, which signs a disabled tenant's users out at their next
    # click, asks nothing more of a partner user) and django-otp's load of the session's
    # verified device (OTPMiddleware).
    with django_assert_num_queries(6):
        client.get("/partner/activity/")


# --- The pages around the offer ------------------------------------------------------------


def test_the_overview_says_why_an_agent_cannot_send(client, partner_agent):
    client.force_login(partner_agent)
    page = client.get("/partner/").content.decode()
    assert "Only your organization&#x27;s partner admins can send" in page
    assert client.get("/partner/delegated-admin/offers/new/").status_code == 403


def test_the_overview_says_why_a_partner_not_enrolled_cannot_send(client, other_partner_admin):
    client.force_login(other_partner_admin)
    assert "not enrolled in the cloud program" in client.get("/partner/").content.decode()
    page = client.get("/partner/delegated-admin/offers/new/").content.decode()
    assert "operations team" in page and "Send the offer" not in page


def test_choosing_the_customer_prefills_the_message_in_its_language(client, partner_admin, contoso):
    client.force_login(partner_admin)
    form = client.get(f"/partner/delegated-admin/offers/new/?tenant={contoso.pk}").context["form"]
    assert form.initial["message"].startswith("Bonjour")
    assert form.initial["duration_days"] == 730


def test_the_form_sends_the_offer(client, partner_admin, contoso, contoso_admin):
    client.force_login(partner_admin)
    response = client.post(
        "/partner/delegated-admin/offers/new/",
        {"tenant": contoso.pk, "roles": ["helpdesk"], "duration_days": "60", "message": "Hi"},
    )
    assert response.status_code == 302
    offer = DelegationOffer.objects.get()
    assert (offer.roles, offer.duration_days, offer.created_by) == (["helpdesk"], 60, partner_admin)


def test_a_helpdesk_resend_is_in_the_activity_log(
    client, partner_admin, contoso, contoso_admin, alex
):
    related(partner_admin, contoso, contoso_admin, roles=["helpdesk"])
    client.force_login(partner_admin)
    response = client.post(f"/partner/customers/{contoso.pk}/users/{alex.pk}/resend-activation/")
    assert response.status_code == 302
    assert ActivityLog.objects.get().action == "tenant_user.activation_resent"
    # Helpdesk does not edit or add.
    assert client.get(f"/partner/customers/{contoso.pk}/users/add/").status_code == 404


def test_a_tenant_deleted_takes_its_offers_relationships_and_log_with_it(
    partner_admin, contoso, contoso_admin
):
    relationship = related(partner_admin, contoso, contoso_admin)
    ActivityLog.objects.create(
        tenant=contoso, relationship=relationship, partner=relationship.partner,
        actor=partner_admin, actor_label=partner_admin.email, action="license.assigned",
    )  # fmt: skip
    contoso.delete()
    assert not DelegationOffer.objects.exists()
    assert not DelegationRelationship.objects.exists()
    assert not ActivityLog.objects.exists()


def test_a_customer_administered_under_a_relationship_only_is_in_the_list(
    client, contoso, subscription, contoso_admin, fabrikam, other_partner_admin
):
    fabrikam.cloud_program_enrolled = True
    fabrikam.save()
    contoso.subscriptions.update(partner_of_record=fabrikam)
    offer = send(other_partner_admin, contoso, roles=["billing_reader"])
    contoso.subscriptions.update(partner_of_record=None)
    client.force_login(other_partner_admin)
    assert client.get("/partner/customers/").context["page"].paginator.count == 0
    relationship = offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)
    assert list(client.get("/partner/customers/").context["page"].object_list) == [contoso]
    page = client.get(f"/partner/customers/{contoso.pk}/")
    assert page.status_code == 200
    assert b"Business Standard" in page.content  # billing reader: the subscriptions
    assert client.get(f"/partner/customers/{contoso.pk}/users/").status_code == 404
    relationship_terminate(relationship=relationship, by=customer_access(contoso_admin))
    assert client.get("/partner/customers/").context["page"].paginator.count == 0
    assert client.get(f"/partner/customers/{contoso.pk}/").status_code == 404


def test_the_offer_is_e_mailed_again_at_most_every_ten_minutes(
    client, partner_admin, contoso, contoso_admin
):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC), tick=False):
        offer = send(partner_admin, contoso)
        client.force_login(partner_admin)
        client.post(f"/partner/delegated-admin/offers/{offer.pk}/resend/")
        assert Email.objects.count() == 1
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, 11, tzinfo=datetime.UTC)):
        client.post(f"/partner/delegated-admin/offers/{offer.pk}/resend/")
        assert Email.objects.count() == 2
    assert AuditEvent.objects.filter(action="delegation_offer.resent").count() == 1


def test_a_partner_page_refuses_the_day_after_the_end_date(
    client, partner_admin, contoso, contoso_admin, alex
):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC)):
        related(partner_admin, contoso, contoso_admin, roles=["user_admin"], days=10)
    client.force_login(partner_admin)
    url = f"/partner/customers/{contoso.pk}/users/{alex.pk}/remove/"
    with time_machine.travel(datetime.datetime(2026, 1, 11, 18, tzinfo=datetime.UTC)):
        assert client.get(url).status_code == 200
    with time_machine.travel(datetime.datetime(2026, 1, 12, 8, tzinfo=datetime.UTC)):
        assert client.post(url).status_code == 404
    assert TenantUser.objects.filter(pk=alex.pk).exists()


@pytest.mark.postgres
def test_two_admins_answering_at_once_make_one_relationship(
    transactional_db, partner_admin, contoso, contoso_admin
):
    import threading

    from django.db import connection

    second = User.objects.create_user("second@contoso.example", "x")
    TenantUser.objects.create(
        tenant=contoso, user=second, first_name="S", last_name="A", email=second.email,
        is_admin=True,
    )  # fmt: skip
    offer = send(partner_admin, contoso)
    barrier = threading.Barrier(2)
    outcomes = []

    def answer(user, accept):
        try:
            barrier.wait(timeout=30)
            offer_answer(
                access=acting(user, DelegationOffer.objects.get(pk=offer.pk)),
                offer=DelegationOffer.objects.get(pk=offer.pk),
                accept=accept,
            )
            outcomes.append("answered")
        except OfferClosed:
            outcomes.append("closed")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=answer, args=(contoso_admin, True)),
        threading.Thread(target=answer, args=(second, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["answered", "closed"]
    state = DelegationOffer.objects.get().state
    assert DelegationRelationship.objects.count() == (1 if state == "accepted" else 0)


def test_a_user_added_by_the_partner_is_told_who_added_them(
    client, partner_admin, contoso, contoso_admin
):
    related(partner_admin, contoso, contoso_admin, roles=["user_admin"])
    client.force_login(partner_admin)
    response = client.post(
        f"/partner/customers/{contoso.pk}/users/add/",
        {"first_name": "Lynne", "last_name": "Robbins", "username": "lynne",
         "email": "lynne@contoso.example", "phone": "", "language": "en", "is_admin": "on"},
    )  # fmt: skip
    assert response.status_code == 200  # a user administrator makes no administrator
    assert "Only the organization" in response.content.decode()
    response = client.post(
        f"/partner/customers/{contoso.pk}/users/add/",
        {"first_name": "Lynne", "last_name": "Robbins", "username": "lynne",
         "email": "lynne@contoso.example", "phone": "", "language": "en"},
    )  # fmt: skip
    assert response.status_code == 302
    email = Email.objects.get(to=["lynne@contoso.example"])
    assert "partner@northwind.example (Northwind Partners) added you to Contoso" in email.message
    assert ActivityLog.objects.get().action == "tenant_user.created"


# --- One pending offer, one active relationship per partner and customer --------------------


def test_a_second_offer_while_one_is_pending_is_refused_naming_it(client, partner_admin, contoso):
    first = send(partner_admin, contoso, roles=("helpdesk",))
    with pytest.raises(OfferError, match="already pending"):
        send(partner_admin, contoso, roles=("user_admin",))
    assert list(DelegationOffer.objects.all()) == [first]
    client.force_login(partner_admin)
    response = client.post(
        f"/partner/delegated-admin/offers/new/?tenant={contoso.pk}",
        {"tenant": contoso.pk, "roles": ["user_admin"], "duration_days": "60", "message": "Hi"},
    )
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert any("already pending" in error and "Helpdesk" in error for error in errors)
    assert DelegationOffer.objects.count() == 1


def test_an_offer_expired_but_not_swept_does_not_block_a_new_one(partner_admin, contoso):
    first = send(partner_admin, contoso)
    with time_machine.travel(first.expires_at + datetime.timedelta(minutes=1)):
        second = send(partner_admin, contoso)
    first.refresh_from_db()
    assert (first.state, second.state) == ("expired", "pending")


def test_the_database_refuses_two_pending_offers_and_two_active_relationships(
    partner_admin, contoso, contoso_admin
):
    from django.db import IntegrityError, transaction

    offer = send(partner_admin, contoso)
    with pytest.raises(IntegrityError), transaction.atomic():
        DelegationOffer.objects.create(
            partner=offer.partner, tenant=contoso, roles=["helpdesk"], duration_days=5,
            expires_at=offer.expires_at,
        )  # fmt: skip
    relationship = offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)
    other = DelegationOffer.objects.create(
        partner=offer.partner, tenant=contoso, roles=["helpdesk"], duration_days=5,
        expires_at=offer.expires_at, state="accepted",
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        DelegationRelationship.objects.create(
            offer=other, partner=offer.partner, tenant=contoso, roles=["helpdesk"],
            starts_on=relationship.starts_on, ends_on=relationship.ends_on,
        )  # fmt: skip


def test_an_offer_to_a_customer_in_a_relationship_replaces_it_when_accepted(
    client, partner_admin, contoso, contoso_admin
):
    old = related(partner_admin, contoso, contoso_admin, roles=("helpdesk",), days=30)
    client.force_login(partner_admin)
    page = client.get(f"/partner/delegated-admin/offers/new/?tenant={contoso.pk}")
    assert "This offer replaces your active relationship (roles Helpdesk" in page.content.decode()
    offer = send(partner_admin, contoso, roles=("user_admin", "license_admin"), days=60)
    client.force_login(contoso_admin)
    answer = client.get(
        f"/customer/partner-relationships/offers/{offer.pk}/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "This offer replaces your active relationship" in answer.content.decode()
    new = offer_answer(access=acting(contoso_admin, offer), offer=offer, accept=True)
    old.refresh_from_db()
    assert old.state == "terminated" and old.terminated_by == contoso_admin
    assert new.state == "active" and new.roles == ["user_admin", "license_admin"]
    assert DelegationRelationship.objects.filter(state="active").get() == new
    event = AuditEvent.objects.get(action="delegation_relationship.replaced")
    assert event.details["reason"] == "replaced by a new offer"
    activity = ActivityLog.objects.get(action="delegation_relationship.replaced")
    assert activity.relationship == old


def test_the_customer_tells_pending_offers_apart_by_roles_duration_and_replacement(
    client, partner_admin, contoso, contoso_admin
):
    related(partner_admin, contoso, contoso_admin, roles=("helpdesk",), days=30)
    offer = send(partner_admin, contoso, roles=("license_admin",), days=45, auto_extend=True)
    client.force_login(contoso_admin)
    page = client.get("/customer/partner-relationships/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    row = html[html.index(f'data-testid="pending-offer-{offer.pk}"') :]
    row = row[: row.index("</li>")]
    assert "License administrator" in row
    assert "45 days" in row and "auto-extends" in row
    assert "replaces the active relationship" in row


# --- French ------------------------------------------------------------------------------


def test_a_users_license_column_says_assigned_in_french_without_a_dangling_date():
    from django.utils import translation

    with translation.override("fr"):
        assert translation.pgettext("license state", "assigned") == "attribuée"


def test_roles_are_listed_with_french_typography(partner_admin, contoso, contoso_admin, client):
    offer = send(partner_admin, contoso, roles=("helpdesk",))
    client.force_login(contoso_admin)
    page = client.get(
        f"/customer/partner-relationships/offers/{offer.pk}/", HTTP_ACCEPT_LANGUAGE="fr"
    )
    html = page.content.decode()
    roles = html[html.index('data-testid="offer-roles"') :]
    roles = roles[: roles.index("</ul>")]
    assert "</strong>\u00a0: " in roles and "</strong>:" not in roles
    from django.utils import translation

    from tenants.delegation.forms import OfferForm

    with translation.override("fr"):
        labels = [str(label) for _value, label in OfferForm(tenants=None).fields["roles"].choices]
    assert all("\u00a0: " in label for label in labels)


def test_partner_id_has_one_french_rendering():
    from pathlib import Path

    catalogue = Path("locale/fr/LC_MESSAGES/django.po").read_text()
    assert "numéro de partenaire" not in catalogue.lower()
    assert "ID partenaire" in catalogue


def test_the_customer_page_under_a_relationship_links_users_and_drops_the_read_only_sentence(
    client, partner_admin, contoso, contoso_admin, alex
):
    client.force_login(partner_admin)
    url = f"/partner/customers/{contoso.pk}/"
    before = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "administrators manage users and licenses." in before
    assert f"/partner/customers/{contoso.pk}/users/{alex.pk}/" not in before
    related(partner_admin, contoso, contoso_admin, roles=["user_admin"])
    after = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You administer this customer under a delegated-admin relationship" in after
    assert "manage users and licenses." not in after
    assert f'href="/partner/customers/{contoso.pk}/users/{alex.pk}/"' in after


# --- The send form ---------------------------------------------------------------------------


def test_the_send_form_names_the_roles_field_and_says_the_duration_rule(
    client, partner_admin, contoso
):
    client.force_login(partner_admin)
    response = client.post(
        f"/partner/delegated-admin/offers/new/?tenant={contoso.pk}",
        {"tenant": contoso.pk, "duration_days": "0", "message": "Hi"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    summary = html[html.index('data-testid="error-summary"') :]
    summary = summary[: summary.index("</ul>")]
    assert '<a href="#id_roles_0"' in summary and "Roles: This field is required." in summary
    assert "Duration (days): The duration is from 1 to 730 days." in summary
    assert "greater than or equal" not in html


def test_the_send_form_has_one_customer_choice(client, partner_admin, contoso, northwind):
    other = TenantFactory(
        name="Fabrikam Shop", domain_prefix="fabshop", created_by_partner=northwind,
        preferred_language="en",
    )  # fmt: skip
    client.force_login(partner_admin)
    chooser = client.get("/partner/delegated-admin/offers/new/").content.decode()
    assert 'id="choose-tenant"' in chooser and "Send the offer" not in chooser
    page = client.get(f"/partner/delegated-admin/offers/new/?tenant={contoso.pk}")
    html = page.content.decode()
    assert 'id="choose-tenant"' not in html and 'name="tenant" class="form-select"' not in html
    assert f'type="hidden" name="tenant" value="{contoso.pk}"' in html
    assert 'data-testid="change-customer"' in html
    assert page.context["form"].initial["message"].startswith("Bonjour")
    # The chosen customer wins over a tampered hidden field.
    client.post(
        f"/partner/delegated-admin/offers/new/?tenant={contoso.pk}",
        {"tenant": other.pk, "roles": ["helpdesk"], "duration_days": "30", "message": "Hi"},
    )
    assert DelegationOffer.objects.get().tenant == contoso


def test_the_overview_gives_an_agent_every_reason_and_whom_to_ask(
    client, partner_agent, partner_admin, northwind
):
    northwind.cloud_program_enrolled = False
    northwind.save()
    client.force_login(partner_agent)
    problem = client.get("/partner/", HTTP_ACCEPT_LANGUAGE="en").context["offer_problem"]
    assert "not enrolled in the cloud program" in problem
    assert "operations team to enroll it" in problem
    assert "Only your organization's partner admins can send" in problem
    assert partner_admin.email in problem


# --- The activity log ------------------------------------------------------------------------


def test_a_license_row_names_the_user(
    partner_agent, partner_admin, contoso, subscription, contoso_admin, alex
):
    from tenants.services import license_assign, license_unassign

    related(partner_admin, contoso, contoso_admin, roles=["license_admin"])
    access = tenant_access(user=partner_agent, tenant_id=contoso.pk, permission=P.LICENSES_MANAGE)
    license_assign(access=access, tenant_user=alex, subscription=subscription)
    license_unassign(access=access, tenant_user=alex, subscription=subscription)
    labels = set(ActivityLog.objects.values_list("target_label", flat=True))
    assert labels == {f"{subscription} → Alex Wilber"}


def test_the_log_says_only_the_error_for_a_bad_range_and_nothing_yet_without_filters(
    contoso_admin, client
):
    client.force_login(contoso_admin)
    bad = client.get(
        "/customer/activity/",
        {"start": "2026-03-01", "end": "2026-02-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "The end of the range is before its start." in bad
    assert 'data-testid="activity-empty"' not in bad
    empty = client.get("/customer/activity/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nothing was recorded yet." in empty and "for these filters" not in empty
    filtered = client.get(
        "/customer/activity/", {"action": ""}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Nothing was recorded yet." in filtered


def test_the_resend_button_is_disabled_until_ten_minutes_have_passed(
    client, partner_admin, contoso
):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC), tick=False):
        offer = send(partner_admin, contoso, days=45, auto_extend=False)
        client.force_login(partner_admin)
        page = client.get("/partner/delegated-admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-testid="resend-after-{offer.pk}"' in page
    assert "You can send it again after" in page
    assert f'action="/partner/delegated-admin/offers/{offer.pk}/resend/"' not in page
    assert "45 days" in page and 'badge text-bg-warning">Pending' in page
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, 10, tzinfo=datetime.UTC), tick=False):
        page = client.get("/partner/delegated-admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="/partner/delegated-admin/offers/{offer.pk}/resend/"' in page
    assert "You can send it again after" not in page


def test_relationships_and_offers_turn_their_pages_each_keeping_the_others(
    client, partner_admin, northwind
):
    for i in range(27):
        tenant = TenantFactory(
            name=f"Customer {i:02}", domain_prefix=f"customer{i}", created_by_partner=northwind
        )
        DelegationRelationshipFactory(
            partner=northwind, tenant=tenant, ends_on=datetime.date.today() + datetime.timedelta(i)
        )
    client.force_login(partner_admin)
    assert DelegationOffer.objects.filter(partner=northwind).count() == 27  # each one's offer
    first = client.get("/partner/delegated-admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert len(first.context["relationships"].object_list) == 25
    page = first.content.decode()
    assert 'aria-label="Pages of relationships"' in page and 'aria-label="Pages of offers"' in page
    assert 'href="?relationships_page=2"' in page and 'href="?page=2"' in page
    both = client.get(
        "/partner/delegated-admin/", {"page": 2, "relationships_page": 2}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert len(both.context["relationships"].object_list) == 2
    assert len(both.context["offers"].object_list) == 2
    page = both.content.decode()
    # Back on one list keeps the other where it is.
    assert 'href="?page=2&amp;relationships_page=1"' in page
    assert 'href="?page=1&amp;relationships_page=2"' in page
    shown = [r.tenant.name for r in both.context["relationships"].object_list]
    assert shown == ["Customer 25", "Customer 26"]  # by end date: the latest last


# --- Wording ---------------------------------------------------------------------------------


def test_the_wording_around_delegation(
    client, partner_admin, partner_agent, contoso, contoso_admin
):
    client.force_login(partner_admin)
    overview = client.get("/partner/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        'href="/partner/delegated-admin/" class="btn btn-outline-secondary">'
        "Delegated administration<" in overview
    )
    related(partner_admin, contoso, contoso_admin, roles=["user_admin", "helpdesk"])
    customer = client.get(f"/partner/customers/{contoso.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Roles: User administrator, Helpdesk." in customer.content.decode()
    users = client.get(f"/partner/customers/{contoso.pk}/users/", HTTP_ACCEPT_LANGUAGE="en")
    assert users.content.decode().count(f"· {contoso.domain}") == 1
    client.force_login(contoso_admin)
    home = client.get("/customer/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 partner administers your organization: see Partner relationships." in home
    from django.utils import translation

    from portal.admin import PartnerAdmin

    with translation.override("en"):
        assert str(PartnerAdmin.enrol.short_description) == "Enroll in the cloud program"


def test_decline_asks_to_confirm_and_accept_does_not(client, partner_admin, contoso, contoso_admin):
    offer = send(partner_admin, contoso)
    client.force_login(contoso_admin)
    url = f"/customer/partner-relationships/offers/{offer.pk}/"
    page = client.post(url, {"answer": "decline"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and 'name="confirm" value="1"' in page.content.decode()
    offer.refresh_from_db()
    assert offer.state == "pending"
    assert client.post(url, {"answer": "decline", "confirm": "1"}).status_code == 302
    offer.refresh_from_db()
    assert offer.state == "declined"
    second = send(partner_admin, contoso)
    second_url = f"/customer/partner-relationships/offers/{second.pk}/"
    client.post(second_url, {"answer": "accept"})
    second.refresh_from_db()
    assert second.state == "pending"  # the consent step only
    client.post(second_url, {"answer": "accept", "confirm": "1"})
    second.refresh_from_db()
    assert second.state == "accepted"
