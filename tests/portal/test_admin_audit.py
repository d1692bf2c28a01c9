from django_celery_beat.models import CrontabSchedule, PeriodicTask

from keys.models import Product
from portal.models import AuditEvent, Partner


def test_changes_made_in_the_admin_are_audit_events(client, staff, northwind):
    client.force_login(staff)
    client.post(
        "/admin/keys/product/add/",
        {"sku": "BUS-PLUS", "name": "Business Plus", "term_months": 24, "max_seats": 300},
    )
    product = Product.objects.get(sku="BUS-PLUS")
    event = AuditEvent.objects.get(action="admin.keys.product.added")
    assert (event.actor, event.target_id) == (staff, str(product.pk))
    client.post(f"/admin/keys/product/{product.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(action="admin.keys.product.deleted").count() == 1


def test_enrolling_a_partner_is_audited_once(client, staff, fabrikam):
    client.force_login(staff)
    response = client.post(
        "/admin/portal/partner/",
        {"action": "enrol", "_selected_action": [fabrikam.pk]},
        follow=True,
    )
    assert b"1 partner(s) changed." in response.content
    fabrikam.refresh_from_db()
    assert fabrikam.cloud_program_enrolled
    assert AuditEvent.objects.filter(action="partner.enrolled", partner=fabrikam).count() == 1
    client.post("/admin/portal/partner/", {"action": "enrol", "_selected_action": [fabrikam.pk]})
    assert AuditEvent.objects.filter(action="partner.enrolled").count() == 1  # nothing changed


def test_changing_a_periodic_task_schedule_is_audited(client, staff, db):
    crontab = CrontabSchedule.objects.create(minute="*/10")
    task = PeriodicTask.objects.create(name="Sweep", task="keys.tasks.x", crontab=crontab)
    client.force_login(staff)
    response = client.post(
        f"/admin/django_celery_beat/crontabschedule/{crontab.pk}/change/",
        {
            "minute": "*/30",
            "hour": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": "*",
            "timezone": "UTC",
            "periodictask_set-TOTAL_FORMS": "0",
            "periodictask_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    crontab.refresh_from_db()
    assert crontab.minute == "*/30"
    assert AuditEvent.objects.filter(
        action="admin.django_celery_beat.crontabschedule.changed", actor=staff
    ).exists()
    task.refresh_from_db()
    assert task.crontab.minute == "*/30"  # the task now runs on the changed schedule


def test_the_audit_log_is_read_only_in_the_admin(client, staff, northwind):
    Partner.objects.update(name="x")
    client.force_login(staff)
    assert client.get("/admin/portal/auditevent/add/").status_code == 403
