"""Ops in the admin: the notice days, the read-only ledger, subscriptions by end date."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from renewals.models import NoticeOffset, RenewalNotice
from renewals.services import renewal_notices_send
from tenants.models import Subscription


def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_subscriptions_are_filtered_by_how_soon_they_end(staff, subscribe):
    today = timezone.localdate()
    soon = subscribe(today + timedelta(days=5), sku="A")
    later = subscribe(today + timedelta(days=45), sku="B")
    client = staff_client(staff)
    page = client.get("/admin/tenants/subscription/?ends_within=7").content.decode()
    assert f"/admin/tenants/subscription/{soon.pk}/change/" in page
    assert f"/admin/tenants/subscription/{later.pk}/change/" not in page
    page = client.get("/admin/tenants/subscription/?ends_within=60&state=active").content.decode()
    assert f"/admin/tenants/subscription/{later.pk}/change/" in page


def test_the_ledger_is_read_only(staff, subscribe):
    subscription = subscribe(timezone.localdate() + timedelta(days=1))
    renewal_notices_send()
    notice = RenewalNotice.objects.first()
    client = staff_client(staff)
    assert client.get("/admin/renewals/renewalnotice/").status_code == 200
    assert client.get("/admin/renewals/renewalnotice/add/").status_code == 403
    assert client.post(f"/admin/renewals/renewalnotice/{notice.pk}/delete/").status_code == 403
    assert RenewalNotice.objects.filter(subscription=subscription).count() == 2


def test_a_new_notice_day_reschedules_the_subscriptions(staff, subscribe):
    subscription = subscribe(timezone.localdate() + timedelta(days=100))
    renewal_notices_send()
    subscription.refresh_from_db()
    assert subscription.renewal_notice_on == subscription.end_date - timedelta(days=60)
    response = staff_client(staff).post("/admin/renewals/noticeoffset/add/", {"days_before": "90"})
    assert response.status_code == 302
    assert NoticeOffset.objects.filter(days_before=90).exists()
    renewal_notices_send()
    subscription.refresh_from_db()
    assert subscription.renewal_notice_on == subscription.end_date - timedelta(days=90)
    assert Subscription.objects.filter(renewal_notice_on__isnull=True).count() == 0
