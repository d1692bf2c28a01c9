"""Renewal notices: each threshold once per recipient, whatever runs when (design §5)."""

import datetime
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from post_office.models import Email

from portal.emails import EmailBatch
from renewals.models import NoticeOffset, RenewalNotice
from renewals.services import notice_schedule_changed, renewal_notices_send
from tenants.models import Subscription

END = date(2026, 6, 30)


def notices(**filters):
    return sorted(
        RenewalNotice.objects.filter(event="notice", **filters).values_list(
            "days_before", "recipient_email"
        )
    )


def test_the_data_migration_seeds_the_four_thresholds(db):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("renewals.migrations.0002_notice_offsets")
    NoticeOffset.objects.all().delete()
    migration.seed(apps, None)
    assert sorted(NoticeOffset.objects.values_list("days_before", flat=True)) == [1, 7, 30, 60]


def test_it_sends_nothing_before_the_first_threshold(subscribe):
    subscribe(END)
    assert renewal_notices_send(today=END - timedelta(days=61)) == 0
    assert not Email.objects.exists()


def test_it_notifies_the_tenant_admins_and_the_partner_admins_of_record(subscribe):
    subscription = subscribe(END)
    assert renewal_notices_send(today=END - timedelta(days=60)) == 2
    # Not the partner agent, not the tenant user who is not an admin.
    assert notices() == [(60, "megan@contoso.example"), (60, "partner@northwind.example")]
    french = Email.objects.get(to=["megan@contoso.example"])
    english = Email.objects.get(to=["partner@northwind.example"])
    assert french.headers["Content-Language"] == "fr"
    assert "se termine" in french.subject and "Contoso" in french.subject
    assert "ends in 60 days" in english.subject
    # What ends when, what happens after, and how to renew.
    assert "June 30, 2026" in english.message
    assert "July 1, 2026" in english.message  # expired
    assert "July 30, 2026" in english.message  # disabled
    assert "Oct. 28, 2026" in english.message  # deleted
    assert f"/partner/renewals/{subscription.pk}/" in english.message
    assert f"/customer/subscriptions/{subscription.pk}/" in french.message
    assert RenewalNotice.objects.filter(email_id__isnull=False).count() == 2


def test_a_partner_of_record_without_an_admin_gets_it_at_its_contact_address(subscribe, fabrikam):
    # Fabrikam has no partner admin: its contact address, in English (tenants.selectors).
    subscribe(END, partner_of_record=fabrikam)
    assert renewal_notices_send(today=END - timedelta(days=60)) == 2
    assert notices() == [(60, "contact@fabrikam.example"), (60, "megan@contoso.example")]
    contact = RenewalNotice.objects.get(recipient_email="contact@fabrikam.example")
    assert contact.recipient is None and contact.language == "en"
    mail = Email.objects.get(to=["contact@fabrikam.example"])
    assert "/partner/renewals/" in mail.message


def test_a_rerun_the_same_day_sends_nothing_more(subscribe):
    subscribe(END)
    day = END - timedelta(days=30)
    assert renewal_notices_send(today=day) == 2
    assert renewal_notices_send(today=day) == 0
    Subscription.objects.update(renewal_notice_on=date(2000, 1, 1))  # even if asked again
    assert renewal_notices_send(today=day) == 0
    assert Email.objects.count() == 2


def test_after_downtime_only_the_most_recent_missed_threshold_is_sent(subscribe):
    subscribe(END)
    renewal_notices_send(today=END - timedelta(days=60))
    # Beat stopped for weeks: 30 and 7 were both missed; only 7 goes out.
    assert renewal_notices_send(today=END - timedelta(days=5)) == 2
    assert [days for days, _ in notices()] == [7, 7, 60, 60]


def test_beat_stopped_for_three_days_sends_the_missed_notice_once(subscribe):
    subscribe(END)
    for offset in (10, 9, 8):  # the sweep runs...
        renewal_notices_send(today=END - timedelta(days=offset))
    # ... then stops on the 7-days day and the two after it, and comes back.
    assert renewal_notices_send(today=END - timedelta(days=4)) == 2
    assert renewal_notices_send(today=END - timedelta(days=3)) == 0
    assert [days for days, _ in notices()] == [7, 7, 30, 30]
    assert renewal_notices_send(today=END - timedelta(days=1)) == 2


def test_it_stores_the_day_of_the_next_notice(subscribe):
    subscription = subscribe(END)
    renewal_notices_send(today=END - timedelta(days=45))
    subscription.refresh_from_db()
    assert subscription.renewal_notice_on == END - timedelta(days=30)
    renewal_notices_send(today=END - timedelta(days=1))
    subscription.refresh_from_db()
    assert subscription.renewal_notice_on is None


def test_it_reads_only_the_subscriptions_that_are_due(subscribe, django_assert_max_num_queries):
    due = subscribe(END)
    later = subscribe(END + timedelta(days=200), sku="BUS-PREM")
    later.renewal_notice_on = END + timedelta(days=140)
    later.save()
    renewal_notices_send(today=END - timedelta(days=60))
    assert set(RenewalNotice.objects.values_list("subscription", flat=True)) == {due.pk}


def test_renewal_moves_the_end_date_and_the_thresholds_start_over(subscribe):
    subscription = subscribe(END)
    renewal_notices_send(today=END - timedelta(days=30))
    # Renewed (as keys_apply does): a new end date, and the sweep is asked to look again.
    new_end = END + timedelta(days=365)
    Subscription.objects.filter(pk=subscription.pk).update(
        end_date=new_end, renewal_notice_on=END - timedelta(days=20)
    )
    assert renewal_notices_send(today=END - timedelta(days=20)) == 0
    assert renewal_notices_send(today=new_end - timedelta(days=60)) == 2
    sent = RenewalNotice.objects.values_list("end_date", "days_before").order_by().distinct()
    assert sorted(sent) == [(END, 30), (new_end, 60)]


def test_a_crash_between_claim_and_send_loses_nothing_and_duplicates_nothing(
    subscribe, monkeypatch
):
    subscribe(END)
    day = END - timedelta(days=7)
    real = EmailBatch.queue
    calls = []

    def queue_then_crash(self):
        # The batch's notices are claimed and its e-mails written; the worker dies before the
        # ledger rows are linked and the transaction commits.
        emails = real(self)
        calls.append(len(emails))
        raise RuntimeError("worker killed")

    monkeypatch.setattr(EmailBatch, "queue", queue_then_crash)
    with pytest.raises(RuntimeError):
        renewal_notices_send(today=day)
    assert calls == [2]
    # The claims and the e-mails went with the transaction.
    assert not RenewalNotice.objects.exists()
    assert not Email.objects.exists()
    monkeypatch.setattr(EmailBatch, "queue", real)
    assert renewal_notices_send(today=day) == 2
    assert renewal_notices_send(today=day) == 0
    assert Email.objects.count() == 2


def test_a_deleted_subscription_gets_no_notice(subscribe):
    subscribe(END, state=Subscription.State.DELETED)
    assert renewal_notices_send(today=END - timedelta(days=1)) == 0


def test_ops_adding_a_threshold_reaches_the_subscriptions_already_scheduled(subscribe, staff):
    subscription = subscribe(END)
    renewal_notices_send(today=END - timedelta(days=60))
    NoticeOffset.objects.create(days_before=14)
    notice_schedule_changed()
    subscription.refresh_from_db()
    assert subscription.renewal_notice_on is not None
    assert renewal_notices_send(today=END - timedelta(days=14)) == 2
    assert [days for days, _ in notices()] == [14, 14, 60, 60]


def test_the_command_replays_a_day(subscribe, capsys):
    subscribe(END)
    call_command("send_renewal_notices", "--date", (END - timedelta(days=1)).isoformat())
    assert "2 renewal notice(s) queued." in capsys.readouterr().out
    assert [days for days, _ in notices()] == [1, 1]


def test_the_celery_task_calls_the_sweep(subscribe, time_machine):
    from renewals.tasks import send_renewal_notices

    subscribe(END)
    time_machine.move_to(datetime.datetime(2026, 6, 23, 8, tzinfo=datetime.UTC))
    assert send_renewal_notices.apply().get() == 2


def test_the_sweep_costs_the_same_queries_whatever_is_not_due(subscribe):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    subscribe(END)
    day = END - timedelta(days=30)
    Subscription.objects.update(renewal_notice_on=day)
    with CaptureQueriesContext(connection) as alone:
        assert renewal_notices_send(today=day) == 2
    RenewalNotice.objects.all().delete()
    Email.objects.all().delete()
    for index in range(40):  # not due: their next notice is later
        later = subscribe(END + timedelta(days=100 + index), sku=f"N{index}")
        later.renewal_notice_on = later.end_date - timedelta(days=60)
        later.save()
    Subscription.objects.filter(end_date=END).update(renewal_notice_on=day)
    with CaptureQueriesContext(connection) as crowded:
        assert renewal_notices_send(today=day) == 2
    assert len(crowded.captured_queries) == len(alone.captured_queries)


def test_the_notices_are_tagged_with_their_language_and_name_the_partner_of_record(subscribe):
    subscription = subscribe(END)
    renewal_notices_send(today=END - timedelta(days=60))
    french = Email.objects.get(to=["megan@contoso.example"])
    english = Email.objects.get(to=["partner@northwind.example"])
    assert '<html lang="fr">' in french.html_message
    assert '<html lang="en">' in english.html_message
    # The partner's link is the subscription's page, and the words say so.
    assert "from the subscription's page" in english.message
    assert "renewal list" not in english.message
    # The customer is told whom to ask.
    assert "Northwind" in french.message
    Subscription.objects.filter(pk=subscription.pk).update(
        partner_of_record=None, renewal_notice_on=END - timedelta(days=30)
    )
    Email.objects.all().delete()
    renewal_notices_send(today=END - timedelta(days=30))
    french = Email.objects.get(to=["megan@contoso.example"])
    assert "Northwind" not in french.message
