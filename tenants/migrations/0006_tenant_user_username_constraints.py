# In a migration of its own: PostgreSQL refuses to alter a table with the data migration's
# updates still pending in the same transaction.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_tenant_user_username"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="tenantuser",
            constraint=models.UniqueConstraint(
                fields=("tenant", "username"), name="tenant_user_username_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="tenantuser",
            constraint=models.CheckConstraint(
                condition=models.Q(username__regex="^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$"),
                name="tenant_user_username_format",
            ),
        ),
    ]
