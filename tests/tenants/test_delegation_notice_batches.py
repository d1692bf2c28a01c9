"""The delegated-admin sweep's notices in batches (issue 20): each e-mail is the one the
per-recipient path wrote (update_email_queue with the whole context, as the sweep did before),
byte for byte, and a batch costs the same queries whatever the number of its notices."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from post_office.models import Email

from portal.models import PartnerMembership, User
from tenants.delegation.emails import update_email_queue
from tenants.delegation.sweep import notices_send
from tenants.models import DelegationNotice, DelegationRelationship, TenantUser
from tenants.selectors import both_sides
from tests.factories import DelegationRelationshipFactory, TenantFactory

TODAY = datetime.date(2026, 6, 1)
NAMES = ['Adatum & Fils <b>"Ltd"</b>', "Émile {{ x }} Co", "\ue000tenant_name\ue001", "Office"]
# 30, 7, 1 days left and the last day; a missed 7 (3 left) and a missed 30 (20 left).
DAYS_LEFT = [30, 7, 1, 0, 3, 20]
ROLES = [["user_admin"], ["global_admin"], ["helpdesk", "billing_reader"]]


@pytest.fixture
def cast(contoso, northwind, partner_admin, fabrikam):
    """Northwind with an English and a French admin, Fabrikam with none (its contact address);
    customers whose admins read English, French, or have no account yet; one of them has
    Northwind's admin as its admin too (one address on both sides)."""
    french = User.objects.create_user("admin2@northwind.example", "x", language="fr")
    PartnerMembership.objects.create(
        user=french, partner=northwind, role=PartnerMembership.Role.ADMIN
    )
    tenants = [contoso]
    for index in range(7):
        tenant = TenantFactory(
            name=NAMES[index % len(NAMES)],
            domain_prefix=f"deleg{index}",
            created_by_partner=northwind,
            preferred_language="fr" if index % 2 else "en",
        )
        user = User.objects.create_user(f"admin@deleg{index}.example", language="fr")
        TenantUser.objects.create(
            tenant=tenant, user=user, first_name="A", last_name="Admin", email=user.email,
            is_admin=True,
        )  # fmt: skip
        TenantUser.objects.create(
            tenant=tenant, first_name="No", last_name="Account",
            email=f"invited@deleg{index}.example", is_admin=True,
        )  # fmt: skip
        tenants.append(tenant)
    TenantUser.objects.create(
        tenant=tenants[1], first_name="Both", last_name="Sides", email=partner_admin.email,
        is_admin=True,
    )  # fmt: skip
    return tenants, [northwind, fabrikam]


def relationships(tenants, partners, count=None):
    made = []
    pairs = [(t, p) for t in tenants for p in partners][:count]
    for index, (tenant, partner) in enumerate(pairs):
        roles = ROLES[index % len(ROLES)]
        made.append(
            DelegationRelationshipFactory(
                partner=partner,
                tenant=tenant,
                roles=roles,
                auto_extend="global_admin" not in roles and index % 2 == 0,
                starts_on=datetime.date(2026, 1, 1),
                ends_on=TODAY + datetime.timedelta(days=DAYS_LEFT[index % len(DAYS_LEFT)]),
            )
        )
    return made


def per_recipient_path(made) -> list[tuple]:
    """The e-mails as the sweep wrote them before the batches, for the notices claimed."""
    claimed = set(DelegationNotice.objects.values_list("relationship", "recipient"))
    expected = []
    for relationship in made:
        relationship = DelegationRelationship.objects.select_related(
            "partner", "tenant", "offer"
        ).get(pk=relationship.pk)
        context = {
            "offer": relationship.offer,
            "relationship": relationship,
            "partner": relationship.partner,
            "tenant": relationship.tenant,
            "roles": relationship.role_choices,
            "days_left": (relationship.ends_on - TODAY).days,
        }
        for recipient in both_sides(tenant=relationship.tenant, partner=relationship.partner):
            # Each recipient claimed its notice in turn: an address on both sides, once.
            if (relationship.pk, recipient.email) in claimed:
                claimed.remove((relationship.pk, recipient.email))
                update_email_queue(recipient, event="notice", context=context)
                expected.append(_fields(Email.objects.latest("pk")))
    return expected


def _fields(email: Email) -> tuple:
    return (
        email.from_email,
        tuple(email.to),
        email.subject,
        email.message,
        email.html_message,
        tuple(sorted(email.headers.items())),
    )


@pytest.mark.parametrize("batch_size", [200, 4])
def test_each_notice_of_a_batch_is_the_e_mail_the_per_recipient_path_wrote(cast, batch_size):
    tenants, partners = cast
    made = relationships(tenants, partners)
    sent = notices_send(TODAY, batch_size=batch_size)
    batch = sorted(_fields(e) for e in Email.objects.order_by("pk"))
    assert sent == len(batch) == DelegationNotice.objects.count()
    assert sorted(per_recipient_path(made)) == batch
    # The address on both sides got one e-mail about that relationship, the partner's.
    both = DelegationNotice.objects.filter(
        relationship__tenant=tenants[1], relationship__partner=partners[0]
    )
    assert both.filter(recipient="partner@northwind.example").count() == 1
    assert any("se termine" in subject for _, _, subject, *_ in batch)  # French among them


def test_a_batch_costs_the_same_queries_whatever_the_number_of_its_notices(
    cast, django_assert_num_queries
):
    tenants, partners = cast

    def sweep(count: int) -> int:
        DelegationNotice.objects.all().delete()
        Email.objects.all().delete()
        DelegationRelationship.objects.all().delete()
        relationships(tenants, partners, count)
        with CaptureQueriesContext(connection) as queries:
            assert notices_send(TODAY) > count
        return len(queries.captured_queries)

    assert sweep(2) == sweep(14)
    # The relationships; per batch, in a savepoint: the tenants' admins, the partners' admins,
    # the claims, the e-mails.
    DelegationNotice.objects.all().delete()
    Email.objects.all().delete()
    with django_assert_num_queries(1 + (2 + 4)):
        notices_send(TODAY)
    # Run again: everything is claimed, nothing is written.
    with django_assert_num_queries(1 + (2 + 3)):
        assert notices_send(TODAY) == 0
