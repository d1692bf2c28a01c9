"""The lifecycle after the end date: expired, disabled, deleted, each applied once (design §5)."""

from datetime import date, timedelta

from django.core.management import call_command
from django.test import Client
from post_office.models import Email

from portal.models import AuditEvent, User
from renewals.models import RenewalNotice
from renewals.services import lifecycle_advance
from tenants.lifecycle import subscription_state
from tenants.models import License, Subscription, SubscriptionKey, TenantUser
from tests.second_factor import second_step

END = date(2026, 6, 30)
State = Subscription.State


def state_of(subscription):
    subscription.refresh_from_db()
    return subscription.state


def test_it_expires_the_day_after_the_end_date(subscribe):
    subscription = subscribe(END)
    assert lifecycle_advance(today=END) == 0
    assert state_of(subscription) == State.ACTIVE
    assert lifecycle_advance(today=END + timedelta(days=1)) == 1
    assert state_of(subscription) == State.EXPIRED
    event = AuditEvent.objects.get(action="subscription.expired")
    assert event.actor is None and event.tenant_id == subscription.tenant_id
    assert sorted(
        RenewalNotice.objects.filter(event="expired").values_list("recipient_email", flat=True)
    ) == ["megan@contoso.example", "partner@northwind.example"]
    assert Email.objects.count() == 2


def test_it_disables_on_day_30_and_deletes_on_day_120(subscribe):
    subscription = subscribe(END)
    lifecycle_advance(today=END + timedelta(days=1))
    lifecycle_advance(today=END + timedelta(days=29))
    assert state_of(subscription) == State.EXPIRED
    lifecycle_advance(today=END + timedelta(days=30))
    assert state_of(subscription) == State.DISABLED
    lifecycle_advance(today=END + timedelta(days=119))
    assert state_of(subscription) == State.DISABLED
    lifecycle_advance(today=END + timedelta(days=120))
    assert state_of(subscription) == State.DELETED
    assert list(
        AuditEvent.objects.filter(target_id=str(subscription.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["subscription.expired", "subscription.disabled", "subscription.deleted"]
    assert Email.objects.count() == 6


def test_a_late_run_goes_through_every_state_it_missed(subscribe):
    subscription = subscribe(END)
    assert lifecycle_advance(today=END + timedelta(days=200)) == 1
    assert state_of(subscription) == State.DELETED
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "subscription.expired",
        "subscription.disabled",
        "subscription.deleted",
    ]
    # One e-mail per recipient, about the state reached.
    assert set(RenewalNotice.objects.values_list("event", flat=True)) == {"deleted"}


def test_deletion_removes_users_and_licenses_and_keeps_the_trail(subscribe, contoso):
    subscription = subscribe(END)
    alex = TenantUser.objects.get(email="alex@contoso.example")
    License.objects.create(subscription=subscription, tenant_user=alex)
    lifecycle_advance(today=END + timedelta(days=120))
    assert not TenantUser.objects.filter(tenant=contoso).exists()
    assert not License.objects.exists()
    assert not User.objects.filter(email__endswith="@contoso.example").exists()
    # Partner accounts stay; the subscription row and its audit trail stay.
    assert User.objects.filter(email="partner@northwind.example").exists()
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    event = AuditEvent.objects.get(action="subscription.deleted")
    assert event.details["licenses_removed"] == 1 and event.details["users_removed"] == 2
    assert SubscriptionKey.objects.model is not None  # key records are PROTECTed, never deleted


def test_deletion_keeps_the_users_while_another_subscription_is_alive(subscribe, contoso):
    subscribe(END)
    subscribe(END + timedelta(days=365), sku="BUS-PREM")
    lifecycle_advance(today=END + timedelta(days=120))
    assert TenantUser.objects.filter(tenant=contoso).count() == 2


def test_a_rerun_changes_nothing_and_sends_nothing(subscribe):
    subscribe(END)
    lifecycle_advance(today=END + timedelta(days=31))
    assert lifecycle_advance(today=END + timedelta(days=31)) == 0
    assert lifecycle_advance(today=END + timedelta(days=32)) == 0
    assert Email.objects.count() == 2


def test_renewing_reactivates(subscribe):
    subscription = subscribe(END)
    lifecycle_advance(today=END + timedelta(days=40))
    assert state_of(subscription) == State.DISABLED
    Subscription.objects.filter(pk=subscription.pk).update(
        end_date=END + timedelta(days=400), state=State.ACTIVE
    )
    assert lifecycle_advance(today=END + timedelta(days=41)) == 0
    assert state_of(subscription) == State.ACTIVE


def test_the_state_pages_show_follows_the_dates_before_the_sweep_runs(subscribe):
    subscription = subscribe(END)
    assert subscription_state(subscription, END + timedelta(days=1)) == State.EXPIRED
    assert subscription_state(subscription, END + timedelta(days=30)) == State.DISABLED
    assert subscription_state(subscription, END + timedelta(days=120)) == State.DELETED


def test_the_command_replays_a_day(subscribe, capsys):
    subscription = subscribe(END)
    call_command("advance_lifecycle", "--date", (END + timedelta(days=30)).isoformat())
    assert "1 subscription(s) moved on." in capsys.readouterr().out
    assert state_of(subscription) == State.DISABLED


def _signs_in(email: str) -> bool:
    return Client().login(email=email, password="portal-demo")


def test_only_admins_sign_in_while_every_subscription_is_disabled(subscribe, time_machine):
    subscribe(END)
    time_machine.move_to(END + timedelta(days=29))
    assert _signs_in("alex@contoso.example")
    time_machine.move_to(END + timedelta(days=30))
    # The dates decide, even before the sweep recorded the state.
    assert not _signs_in("alex@contoso.example")
    assert _signs_in("megan@contoso.example")


def test_a_refused_user_is_told_to_ask_their_admin_not_that_the_password_is_wrong(
    subscribe, time_machine
):
    subscribe(END)
    time_machine.move_to(END + timedelta(days=30))
    form = {"username": "alex@contoso.example", "password": "portal-demo"}
    page = Client().post("/accounts/login/", form).content.decode()
    assert "only its administrators" in page and "Ask one of your administrators" in page
    # A wrong password says nothing about the organization: that would tell a guesser.
    wrong = Client().post("/accounts/login/", {**form, "password": "nope"}).content.decode()
    assert "only its administrators" not in wrong
    french = Client().post("/accounts/login/", form, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "seuls ses administrateurs" in french


def test_a_disabled_users_session_ends_at_the_next_request(subscribe, time_machine, client):
    subscribe(END)
    time_machine.move_to(END)
    client.login(email="alex@contoso.example", password="portal-demo")
    assert client.get("/customer/licenses/").status_code == 200
    time_machine.move_to(END + timedelta(days=31))
    response = client.get("/customer/licenses/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_one_usable_subscription_is_enough_to_sign_in(subscribe, time_machine):
    subscribe(END)
    subscribe(END + timedelta(days=100), sku="BUS-PREM")
    time_machine.move_to(END + timedelta(days=40))
    assert _signs_in("alex@contoso.example")


def test_each_recipient_reads_the_change_in_their_language(subscribe):
    subscribe(END)
    lifecycle_advance(today=END + timedelta(days=30))
    french = Email.objects.get(to=["megan@contoso.example"])
    english = Email.objects.get(to=["partner@northwind.example"])
    assert "est désactivé" in french.subject
    assert "is disabled" in english.subject
    assert "Oct. 28, 2026" in english.message  # the deletion day
    assert "28 octobre 2026" in french.message


def test_the_celery_task_calls_the_sweep(subscribe, time_machine):
    import datetime

    from renewals.tasks import advance_lifecycle

    subscription = subscribe(END)
    time_machine.move_to(datetime.datetime(2026, 7, 1, 8, tzinfo=datetime.UTC))
    assert advance_lifecycle.apply().get() == 1
    assert state_of(subscription) == State.EXPIRED


def test_nothing_can_be_assigned_once_the_dates_say_disabled(subscribe, contoso, time_machine):
    import pytest

    from tenants.access import Permission, tenant_access
    from tenants.services.users import LicenseError, license_assign

    subscription = subscribe(END)
    megan = User.objects.get(email="megan@contoso.example")
    alex = TenantUser.objects.get(email="alex@contoso.example")
    access = tenant_access(user=megan, tenant_id=contoso.pk, permission=Permission.MANAGE)
    time_machine.move_to(END + timedelta(days=30))  # the sweep has not run: stored "active"
    with pytest.raises(LicenseError):
        license_assign(access=access, subscription=subscription, tenant_user=alex)
    time_machine.move_to(END + timedelta(days=29))  # expired: still fully usable
    assert license_assign(access=access, subscription=subscription, tenant_user=alex)


def test_the_disabled_email_offers_direct_billing_which_the_page_allows(subscribe, time_machine):
    from django.test import Client

    subscription = subscribe(END)
    lifecycle_advance(today=END + timedelta(days=30))
    mail = Email.objects.get(to=["megan@contoso.example"], subject__icontains="désactivé")
    assert '<html lang="fr">' in mail.html_message
    assert "Northwind Partners" in mail.message
    time_machine.move_to(END + timedelta(days=31))
    client = Client()
    assert client.login(email="megan@contoso.example", password="portal-demo")
    second_step(client, User.objects.get(email="megan@contoso.example"))  # a customer admin
    page = client.get(f"/customer/subscriptions/{subscription.pk}/").content.decode()
    assert 'data-testid="direct-billing"' in page
    page = client.get(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
    assert 'data-testid="confirm"' in page.content.decode()
