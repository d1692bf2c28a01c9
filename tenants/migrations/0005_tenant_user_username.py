"""Tenant users get a user name (name@<tenant domain>), derived for existing rows from the
contact e-mail's part before the @, made unique within each tenant with a number."""

from django.db import migrations, models

from tenants.models import username_from_email


def derive_usernames(apps, schema_editor):
    TenantUser = apps.get_model("tenants", "TenantUser")
    taken: dict[int, set[str]] = {}
    for row in TenantUser.objects.order_by("tenant_id", "id").only("id", "tenant_id", "email"):
        names = taken.setdefault(row.tenant_id, set())
        base = username_from_email(row.email)
        name, n = base, 1
        while name in names:
            n += 1
            suffix = f"-{n}"
            name = base[: 64 - len(suffix)].rstrip(".-") + suffix
        names.add(name)
        TenantUser.objects.filter(pk=row.pk).update(username=name)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_redemption_target"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenantuser",
            name="username",
            field=models.CharField(default="", max_length=64, verbose_name="user name"),
            preserve_default=False,
        ),
        migrations.RunPython(derive_usernames, migrations.RunPython.noop),
    ]
