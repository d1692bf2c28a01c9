from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery


def chosen_from_the_audit_log(apps, schema_editor):
    """An account whose language was picked in the header before this field existed has a
    `user.language_changed` audit event: that pick is its choice (the latest one)."""
    User = apps.get_model("portal", "User")
    AuditEvent = apps.get_model("portal", "AuditEvent")
    picked = (
        AuditEvent.objects.filter(action="user.language_changed", actor=OuterRef("pk"))
        .values("actor")
        .annotate(last=Max("at"))
        .values("last")
    )
    User.objects.filter(
        pk__in=AuditEvent.objects.filter(action="user.language_changed").values("actor")
    ).update(language_chosen_at=Subquery(picked))


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_normalized_email_addresses"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language_chosen_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="language chosen"),
        ),
        migrations.RunPython(chosen_from_the_audit_log, migrations.RunPython.noop),
    ]
