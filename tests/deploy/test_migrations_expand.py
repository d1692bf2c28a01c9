"""docs/production.md, "Upgrades without downtime", step 1: a release's migrations must work with
the code before it, which keeps serving while they run. A column added to an existing table is
nullable or has a database default — else the previous release's inserts, which do not name it,
fail (an idempotency claim did, once: every idempotent API call a 500 until the last node ran
the new code). No column or table is dropped or renamed in the same release that stops using
it. Read off the migrations on disk, so that a new one breaking the rule fails here."""

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import (
    AddField,
    CreateModel,
    DeleteModel,
    RemoveField,
    RenameField,
    RenameModel,
)
from django.db.models import NOT_PROVIDED

PROJECT_APPS = {"portal", "keys", "tenants", "mfa", "renewals"}

# Written before the rule was checked, each shipped with its release already: left as they are.
BEFORE_THE_RULE = {
    ("keys", "0004_redemption_resume"),
    ("keys", "0005_product_max_seats"),
    ("portal", "0005_user_mfa_grace_from"),
    ("tenants", "0005_tenant_user_username"),
    ("tenants", "0009_subscription_renewal_schedule"),
    ("tenants", "0011_subscription_billed_directly"),
    ("tenants", "0013_activity_log_via_api"),
}


def _migrations():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(
        (key, migration)
        for key, migration in loader.disk_migrations.items()
        if key[0] in PROJECT_APPS
    )


def _old_code_could_not_write(field) -> bool:
    """A NOT NULL column without a database default: an insert that leaves it out fails."""
    return not (field.many_to_many or field.null or field.db_default is not NOT_PROVIDED)


def _breaking(migration) -> list[str]:
    created = {op.name_lower for op in migration.operations if isinstance(op, CreateModel)}
    found = []
    for op in migration.operations:
        on_a_new_table = getattr(op, "model_name_lower", None) in created
        if isinstance(op, AddField) and not on_a_new_table and _old_code_could_not_write(op.field):
            found.append(f"{op.model_name}.{op.name}: NOT NULL without a database default")
        elif isinstance(op, RemoveField | DeleteModel | RenameField | RenameModel):
            found.append(f"{type(op).__name__} {op.describe()}: the code before still uses it")
    return found


def test_every_migration_works_with_the_code_before_it():
    breaking = {
        f"{app}.{name}": problems
        for (app, name), migration in _migrations()
        if (app, name) not in BEFORE_THE_RULE and (problems := _breaking(migration))
    }
    assert breaking == {}


def test_the_rule_is_what_caught_the_idempotency_column():
    """The check itself: the column as it was first written fails it, as it is now passes."""
    from django.db import models

    class Migration:
        operations = [
            AddField("idempotentrequest", "location", models.CharField(default="", max_length=9))
        ]

    assert _breaking(Migration) == [
        "idempotentrequest.location: NOT NULL without a database default"
    ]
    Migration.operations = [
        AddField(
            "idempotentrequest",
            "location",
            models.CharField(default="", db_default="", max_length=9),
        )
    ]
    assert _breaking(Migration) == []
