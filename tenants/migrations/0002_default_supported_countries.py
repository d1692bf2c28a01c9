"""The countries and regions where the service is offered on day one. Ops edit the list later."""

from django.db import migrations

COUNTRIES = (
    "AE AR AT AU BE BR CA CH CI CL CO CZ DE DK ES FI FR GB GR IE IL IN IT JP KR LU MA MX NL NO "
    "NZ PL PT RO SE SG SN TN US ZA"
).split()


def add(apps, schema_editor):
    SupportedCountry = apps.get_model("tenants", "SupportedCountry")
    for code in COUNTRIES:
        SupportedCountry.objects.get_or_create(country=code)


def remove(apps, schema_editor):
    apps.get_model("tenants", "SupportedCountry").objects.filter(country__in=COUNTRIES).delete()


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
