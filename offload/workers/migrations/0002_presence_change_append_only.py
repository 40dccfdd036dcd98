"""On PostgreSQL, refuse UPDATE and DELETE on the presence log."""

from django.db import migrations

CREATE = """
DROP TRIGGER IF EXISTS workers_presencechange_append_only ON workers_presencechange;
CREATE TRIGGER workers_presencechange_append_only
    BEFORE UPDATE OR DELETE ON workers_presencechange
    FOR EACH ROW EXECUTE FUNCTION offload_refuse_change();
"""

DROP = "DROP TRIGGER IF EXISTS workers_presencechange_append_only ON workers_presencechange;"


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    # The trigger function comes from tenancy's audit-trail migration.
    dependencies = [("workers", "0001_initial"), ("tenancy", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
