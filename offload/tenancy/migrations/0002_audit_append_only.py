"""On PostgreSQL, refuse UPDATE and DELETE on the audit trail at the database."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION offload_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tenancy_auditevent_append_only ON tenancy_auditevent;
CREATE TRIGGER tenancy_auditevent_append_only
    BEFORE UPDATE OR DELETE ON tenancy_auditevent
    FOR EACH ROW EXECUTE FUNCTION offload_refuse_change();
"""

DROP = "DROP TRIGGER IF EXISTS tenancy_auditevent_append_only ON tenancy_auditevent;"


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
