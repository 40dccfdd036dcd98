"""On PostgreSQL, refuse UPDATE and DELETE on the work-item event log."""

from django.db import migrations

CREATE = """
DROP TRIGGER IF EXISTS work_workitemevent_append_only ON work_workitemevent;
CREATE TRIGGER work_workitemevent_append_only
    BEFORE UPDATE OR DELETE ON work_workitemevent
    FOR EACH ROW EXECUTE FUNCTION offload_refuse_change();
"""

DROP = "DROP TRIGGER IF EXISTS work_workitemevent_append_only ON work_workitemevent;"


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    # The trigger function comes from tenancy's audit-trail migration.
    dependencies = [("work", "0001_initial"), ("tenancy", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
