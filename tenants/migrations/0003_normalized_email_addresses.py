# Tenant users' addresses take the normalized form too (see portal's 0003): the same person is
# listed once per tenant, and a tenant user's address matches their portal account's.

from django.db import migrations, models

import portal.identity
from portal.identity import email_normalize, normalization_problems


def normalize_addresses(apps, schema_editor):
    TenantUser = apps.get_model("tenants", "TenantUser")
    rows = TenantUser.objects.values_list("pk", "tenant_id", "email")
    problems = normalization_problems(
        ((f"tenant {tenant}", email) for _pk, tenant, email in rows), unique=True
    )
    if problems:
        raise RuntimeError(
            "Cannot normalize the stored e-mail addresses. Correct or merge these tenant users "
            "by hand, then migrate again:\n  " + "\n  ".join(problems)
        )
    for pk, _tenant, email in rows:
        if email_normalize(email) != email:
            TenantUser.objects.filter(pk=pk).update(email=email_normalize(email))


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0003_normalized_email_addresses'),
        ('tenants', '0002_default_supported_countries'),
    ]

    operations = [
        migrations.RunPython(normalize_addresses, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='tenantuser',
            name='email',
            field=portal.identity.NormalizedEmailModelField(max_length=254, verbose_name='e-mail address'),
        ),
        migrations.AddConstraint(
            model_name='tenantuser',
            constraint=models.CheckConstraint(condition=models.Q(('email__regex', '^[ -@\\[-~]+@[^@A-Z]+$')), name='tenant_user_email_normalized'),
        ),
    ]
