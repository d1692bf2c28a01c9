"""The database itself refuses more licenses than a subscription's seats (PostgreSQL).

`tenants.services.users.license_assign` locks the subscription row and counts before it inserts;
this trigger is the backstop that holds even for code that forgets to: after each license
written it locks the subscription row (so concurrent writers take turns and each counts the
others' committed licenses) and refuses the row when the licenses outnumber the seats. Lowering
a subscription's seats below its licenses is refused the same way.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tenants_license_within_seats() RETURNS trigger AS $$
DECLARE
    subscription bigint;
    bought integer;
    assigned integer;
BEGIN
    IF TG_TABLE_NAME = 'tenants_license' THEN
        subscription := NEW.subscription_id;
    ELSE
        subscription := NEW.id;
    END IF;
    SELECT seats INTO bought FROM tenants_subscription WHERE id = subscription FOR UPDATE;
    SELECT count(*) INTO assigned FROM tenants_license WHERE subscription_id = subscription;
    IF assigned > bought THEN
        RAISE EXCEPTION 'subscription %: % licenses assigned for % seats',
            subscription, assigned, bought
            USING ERRCODE = 'check_violation', CONSTRAINT = 'license_within_seats';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER license_within_seats
    AFTER INSERT OR UPDATE OF subscription_id ON tenants_license
    FOR EACH ROW EXECUTE FUNCTION tenants_license_within_seats();

CREATE CONSTRAINT TRIGGER subscription_seats_cover_licenses
    AFTER UPDATE OF seats ON tenants_subscription
    FOR EACH ROW EXECUTE FUNCTION tenants_license_within_seats();
"""

DROP = """
DROP TRIGGER IF EXISTS subscription_seats_cover_licenses ON tenants_subscription;
DROP TRIGGER IF EXISTS license_within_seats ON tenants_license;
DROP FUNCTION IF EXISTS tenants_license_within_seats();
"""


def _run(sql):
    def run(apps, schema_editor):
        # The embedded mode (SQLite) relies on the service's lock alone; it runs one writer.
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # None: the "%" of RAISE stay as they are

    return run


class Migration(migrations.Migration):
    dependencies = [("tenants", "0006_tenant_user_username_constraints")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
