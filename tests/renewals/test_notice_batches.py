"""The sweeps' batches (issue 20): every e-mail of a batch is the one the per-recipient path
wrote (portal.emails.email_queue with the whole context, as the sweeps did before), byte for
byte, in each language, threshold, side and state; and a batch costs the same queries whatever
the number of notices in it."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from post_office.models import Email

from portal.emails import EmailBatch, FieldMissing, Fields, email_queue, slot
from portal.models import PartnerMembership, User
from renewals.models import RenewalNotice
from renewals.services import lifecycle_advance, renewal_notices_send
from renewals.services.notices import subscription_path
from tenants.lifecycle import deleted_on, disabled_on, expired_on
from tenants.models import Subscription, TenantUser
from tenants.selectors import recipients
from tests.factories import ProductFactory, TenantFactory

TODAY = date(2026, 6, 1)
# Names that test the filling in: HTML to escape, a French elision to make ("de Adatum"), and
# one that looks like a placeholder (it must come out as typed, not be filled in).
NAMES = [
    'Adatum & Fils <b>"Ltd"</b>',
    "Émile {{ x }} {% now %} Co",
    "\ue000tenant_name\ue001 \ue000path\ue001",
]
PRODUCT_NAMES = ["Business <Standard>", "Accès & co", "Office"]


@pytest.fixture
def customers(contoso, northwind, partner_admin, fabrikam, notice_days):
    """Contoso (Megan, French) and three more customers, each with admins in English, in
    French, and one without an account (the tenant's preferred language); Northwind has a
    second admin who reads French; Fabrikam has none (its contact address)."""
    french_partner = User.objects.create_user("admin2@northwind.example", "x", language="fr")
    PartnerMembership.objects.create(
        user=french_partner, partner=northwind, role=PartnerMembership.Role.ADMIN
    )
    tenants = [contoso]
    for index, name in enumerate(NAMES):
        tenant = TenantFactory(
            name=name,
            domain_prefix=f"batch{index}",
            created_by_partner=northwind,
            preferred_language="fr" if index % 2 else "en",
        )
        for n, language in enumerate(["en", "fr"]):
            user = User.objects.create_user(f"admin{n}@batch{index}.example", language=language)
            TenantUser.objects.create(
                tenant=tenant, user=user, first_name="A", last_name=f"Admin {n}",
                email=user.email, is_admin=True,
            )  # fmt: skip
        TenantUser.objects.create(
            tenant=tenant, first_name="No", last_name="Account",
            email=f"invited@batch{index}.example", is_admin=True,
        )  # fmt: skip
        tenants.append(tenant)
    return tenants


def subscriptions(tenants, partners, ends, first=0, **extra):
    """One subscription for each end date, going round the tenants and partners, each of its
    own product (a tenant has one subscription a product)."""
    made = []
    for index, end in enumerate(ends, start=first):
        made.append(
            Subscription.objects.create(
                tenant=tenants[index % len(tenants)],
                product=ProductFactory(sku=f"P{index}", name=PRODUCT_NAMES[index % 3]),
                seats=5,
                start_date=end - timedelta(days=365),
                end_date=end,
                created_by_partner=tenants[0].created_by_partner,
                partner_of_record=partners[index % len(partners)],
                **extra,
            )
        )
    return made


def reference(subscription: Subscription, address: str, template: str, event, days_before):
    """The e-mail as the sweeps wrote it before the batches: the per-recipient path."""
    subscription = Subscription.objects.select_related(
        "tenant", "product", "partner_of_record"
    ).get(pk=subscription.pk)
    recipient = expected_recipients[subscription.pk, address]
    end = subscription.end_date
    return email_queue(
        template=template,
        to=[address],
        language=recipient.language,
        context={
            "subscription": subscription,
            "tenant": subscription.tenant,
            "product": subscription.product,
            "end_date": end,
            "days_left": (end - TODAY).days,
            "expired_on": expired_on(end),
            "disabled_on": disabled_on(end),
            "deleted_on": deleted_on(end),
            "event": event,
            "days_before": days_before,
            "for_partner": recipient.for_partner,
            "partner_of_record": subscription.partner_of_record,
            "path": subscription_path(subscription, recipient),
        },
    )


expected_recipients: dict = {}


def remember_recipients(made):
    """Who each subscription's e-mails go to, read by the one-at-a-time rule before the sweep
    (the lifecycle's deletion may remove accounts)."""
    expected_recipients.clear()
    for subscription in made:
        for recipient in recipients(
            tenant=subscription.tenant, partner=subscription.partner_of_record
        ):
            expected_recipients[subscription.pk, recipient.email] = recipient


FIELDS = ("from_email", "to", "subject", "message", "html_message", "headers")


def assert_identical_to_the_per_recipient_path(template: str) -> int:
    notices = list(RenewalNotice.objects.exclude(recipient_email="").order_by("pk"))
    batch_ids = [notice.email_id for notice in notices]
    assert None not in batch_ids
    for notice in notices:
        made = Email.objects.get(pk=notice.email_id)
        expected = reference(
            notice.subscription, notice.recipient_email, template, notice.event, notice.days_before
        )
        for field in FIELDS:
            assert getattr(made, field) == getattr(expected, field), (field, notice)
        assert made.message_id != expected.message_id  # each e-mail its own
    return len(notices)


@pytest.mark.parametrize("batch_size", [200, 3])
def test_each_notice_of_a_batch_is_the_e_mail_the_per_recipient_path_wrote(
    customers, northwind, fabrikam, batch_size
):
    # Every threshold (60, 30, 7, 1), a missed one (7 with 5 days left), the last day (the
    # 1-day notice with 0 days left), with each kind of partner of record.
    ends = [TODAY + timedelta(days=days) for days in (60, 30, 7, 1, 5, 0, 60, 30, 7, 1, 5, 0)]
    made = subscriptions(customers, [northwind, fabrikam, None], ends, renewal_notice_on=TODAY)
    remember_recipients(made)
    sent = renewal_notices_send(today=TODAY, batch_size=batch_size)
    assert sent == len(expected_recipients)
    languages = RenewalNotice.objects.values_list("language", flat=True)
    assert set(languages) == {"en", "fr"}
    assert assert_identical_to_the_per_recipient_path("renewal_notice") == sent
    # Escaped in HTML, as typed in the plain text, elided in French ("co de Adatum").
    french = Email.objects.filter(to=["admin1@batch0.example"])
    assert all("Adatum &amp; Fils &lt;b&gt;&quot;Ltd" in e.html_message for e in french)
    assert all('Adatum & Fils <b>"Ltd"</b>' in e.message for e in french)
    assert any("co d’Adatum" in e.message for e in french)
    trap = Email.objects.filter(to=["admin0@batch2.example"]).first()
    assert NAMES[2] in trap.subject and NAMES[2] in trap.message


def test_each_lifecycle_e_mail_of_a_batch_is_the_one_the_per_recipient_path_wrote(
    customers, northwind, fabrikam
):
    # Expired today, disabled today, a late run that reaches disabled, deleted today (each
    # tenant keeps another subscription alive, so the accounts stay to compare with).
    ends = [TODAY - timedelta(days=days) for days in (1, 30, 45, 120, 1, 30, 45, 120)]
    made = subscriptions(customers, [northwind, fabrikam, None], ends)
    subscriptions(customers, [None], [TODAY + timedelta(days=200)] * 4, first=100)
    remember_recipients(made)
    assert lifecycle_advance(today=TODAY, batch_size=5) == 8
    events = set(RenewalNotice.objects.values_list("event", flat=True))
    assert events == {"expired", "disabled", "deleted"}
    assert assert_identical_to_the_per_recipient_path("lifecycle") == len(expected_recipients)


def test_a_batch_costs_the_same_queries_whatever_the_number_of_its_notices(
    customers, northwind, fabrikam, django_assert_num_queries
):
    def sweep(count: int) -> int:
        RenewalNotice.objects.all().delete()
        Email.objects.all().delete()
        Subscription.objects.all().delete()
        ends = [TODAY + timedelta(days=(60, 30, 7, 1)[i % 4]) for i in range(count)]
        subscriptions(customers, [northwind, fabrikam, None], ends, renewal_notice_on=TODAY)
        with CaptureQueriesContext(connection) as queries:
            assert renewal_notices_send(today=TODAY) > count
        return len(queries.captured_queries)

    assert sweep(3) == sweep(40)
    # The thresholds; per batch: its rows (FOR UPDATE SKIP LOCKED), who listens for webhooks,
    # the tenants' admins, the partners' admins, the claims, the e-mails, their links to the
    # ledger, the next notice days, in a savepoint; then the empty batch that ends the run.
    RenewalNotice.objects.all().delete()
    Email.objects.all().delete()
    Subscription.objects.update(renewal_notice_on=TODAY)
    with django_assert_num_queries(1 + (2 + 8) + (2 + 1)):
        assert renewal_notices_send(today=TODAY) > 40


def test_a_lifecycle_batch_costs_queries_per_change_not_per_e_mail(customers, northwind):
    """The lifecycle's audit events are per change; its e-mails add nothing per recipient."""

    def sweep(tenant) -> tuple[int, int]:
        RenewalNotice.objects.all().delete()
        Email.objects.all().delete()
        Subscription.objects.all().delete()
        subscriptions([tenant], [northwind], [TODAY - timedelta(days=1)] * 3)
        with CaptureQueriesContext(connection) as queries:
            assert lifecycle_advance(today=TODAY) == 3
        return len(queries.captured_queries), Email.objects.count()

    # Contoso has one admin, the next customer three.
    (few, fewer_emails), (many, more_emails) = sweep(customers[0]), sweep(customers[1])
    assert (fewer_emails, more_emails) == (3 * 3, 3 * 5)
    assert few == many


# --- EmailBatch itself -------------------------------------------------------------------------


def test_a_template_reading_a_field_the_batch_does_not_give_fails_loudly(db):
    emails = EmailBatch("renewal_notice")
    with pytest.raises(FieldMissing):
        emails.add(
            to="someone@example.com",
            language="en",
            shape=1,
            context=lambda: {"tenant": Fields(name=slot("tenant_name")), "product": Fields()},
            fill={"tenant_name": "Contoso"},
        )


def test_a_batch_asks_for_as_many_deliveries_as_its_e_mails_need(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    import portal.emails

    kicks = []
    monkeypatch.setattr(portal.emails, "outbox_kick", lambda: kicks.append(1))
    emails = EmailBatch("renewal_notice")
    for index in range(250):
        emails.add(
            to=f"admin{index}@example.com",
            language="en",
            shape=1,
            context=lambda: {
                "tenant": Fields(name=slot("tenant_name"), domain="x.example"),
                "product": Fields(name="Office"),
                "end_date": TODAY,
                "days_left": 0,
                "expired_on": TODAY,
                "disabled_on": TODAY,
                "deleted_on": TODAY,
                "for_partner": True,
                "partner_of_record": None,
                "path": "/",
            },
            fill={"tenant_name": f"Tenant {index}"},
        )
    with django_capture_on_commit_callbacks(execute=True):
        assert len(emails.queue()) == 250
    assert len(kicks) == 3  # 100 a delivery run
    assert Email.objects.filter(subject__startswith="Office for Tenant 249").exists()
