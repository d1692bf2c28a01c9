# One identity per e-mail address: existing rows take the normalized form (portal.identity), then
# CHECK constraints keep every later write in it. Two accounts that would share an address stop
# the migration, naming both: merging accounts is a decision for a person, not for a migration.

from django.db import migrations, models

import portal.identity
from portal.identity import email_normalize, normalization_problems


def normalize_addresses(apps, schema_editor):
    User = apps.get_model("portal", "User")
    Partner = apps.get_model("portal", "Partner")
    users = User.objects.values_list("pk", "email")
    partners = Partner.objects.values_list("pk", "contact_email")
    problems = [
        *(f"user {p}" for p in normalization_problems(((None, e) for _pk, e in users), unique=True)),
        *(
            f"partner contact {p}"
            for p in normalization_problems(((None, e) for _pk, e in partners), unique=False)
        ),
    ]
    if problems:
        raise RuntimeError(
            "Cannot normalize the stored e-mail addresses. Correct or merge these by hand, then "
            "migrate again:\n  " + "\n  ".join(problems)
        )
    for pk, email in users:
        if email_normalize(email) != email:
            User.objects.filter(pk=pk).update(email=email_normalize(email))
    for pk, email in partners:
        if email_normalize(email) != email:
            Partner.objects.filter(pk=pk).update(contact_email=email_normalize(email))


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('portal', '0002_audit_actor_label'),
    ]

    operations = [
        # The column's own unique index takes over: once stored normalized, an address is unique
        # as stored, and lower() would not have caught "ſ" anyway.
        migrations.RemoveConstraint(
            model_name='user',
            name='user_email_ci_unique',
        ),
        migrations.RunPython(normalize_addresses, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='partner',
            name='contact_email',
            field=portal.identity.NormalizedEmailModelField(max_length=254, verbose_name='contact e-mail'),
        ),
        migrations.AlterField(
            model_name='user',
            name='email',
            field=portal.identity.NormalizedEmailModelField(max_length=254, unique=True, verbose_name='e-mail address'),
        ),
        migrations.AddConstraint(
            model_name='partner',
            constraint=models.CheckConstraint(condition=models.Q(('contact_email__regex', '^[ -@\\[-~]+@[^@A-Z]+$')), name='partner_contact_email_normalized'),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.CheckConstraint(condition=models.Q(('email__regex', '^[ -@\\[-~]+@[^@A-Z]+$')), name='user_email_normalized'),
        ),
    ]
