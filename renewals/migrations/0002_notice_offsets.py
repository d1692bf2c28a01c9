from django.db import migrations

# The seed's thresholds (design §5); ops edit them in the admin afterwards.
DAYS = [60, 30, 7, 1]


def seed(apps, schema_editor):
    NoticeOffset = apps.get_model("renewals", "NoticeOffset")
    for days in DAYS:
        NoticeOffset.objects.get_or_create(days_before=days)


def unseed(apps, schema_editor):
    apps.get_model("renewals", "NoticeOffset").objects.filter(days_before__in=DAYS).delete()


class Migration(migrations.Migration):
    dependencies = [("renewals", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
