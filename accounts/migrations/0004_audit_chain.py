"""The audit log becomes a hash chain (accounts.audit): rows numbered in commit order, each with
the SHA-256 of its predecessor, the database's time, a named actor and a pseudonymous
reference. Existing rows are chained in id order. On PostgreSQL, TRUNCATE is refused too, and
the migrating role (the application's) loses UPDATE, DELETE and TRUNCATE on the table."""

import hashlib
import json
from datetime import UTC

from django.db import migrations, models
from django.db.models import Q

TRIGGER = "accounts_auditevent_append_only"
NO_TRUNCATE = """
CREATE OR REPLACE FUNCTION fairslot_audit_no_truncate() RETURNS trigger AS $$
BEGIN
  -- A superuser can disable any trigger anyway; letting it truncate keeps test databases
  -- flushable. The application's role is not one.
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'accounts_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditevent_no_truncate
  BEFORE TRUNCATE ON accounts_auditevent
  FOR EACH STATEMENT EXECUTE FUNCTION fairslot_audit_no_truncate();
REVOKE UPDATE, DELETE, TRUNCATE ON accounts_auditevent FROM CURRENT_USER;
"""
NO_TRUNCATE_BACKWARD = """
GRANT UPDATE, DELETE, TRUNCATE ON accounts_auditevent TO CURRENT_USER;
DROP TRIGGER IF EXISTS accounts_auditevent_no_truncate ON accounts_auditevent;
DROP FUNCTION IF EXISTS fairslot_audit_no_truncate();
"""


def _canonical(event) -> bytes:
    # The form of accounts.audit.canonical at the time of this migration.
    fields = [
        event.seq,
        event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        event.actor_id,
        event.actor_label,
        event.action,
        event.target_type,
        event.target_id,
        event.reference,
        event.prefecture_id,
        event.data,
        event.prev_hash,
    ]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_existing(apps, schema_editor):
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    AuditHead = apps.get_model("accounts", "AuditHead")
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(f"ALTER TABLE accounts_auditevent DISABLE TRIGGER {TRIGGER}")
    seq, previous, last_at = 0, "", None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        last_at = max(event.at, last_at) if last_at else event.at
        event.seq, event.prev_hash, event.at = seq, previous, last_at
        event.actor_label = event.actor_label or "system"
        event.data = json.loads(json.dumps(event.data))
        previous = hashlib.sha256(_canonical(event)).hexdigest()
        AuditEvent.objects.filter(pk=event.pk).update(
            seq=seq, prev_hash=event.prev_hash, at=last_at, actor_label=event.actor_label
        )
    AuditHead.objects.create(pk=1, seq=seq, hash=previous, at=last_at)
    if postgres:
        schema_editor.execute(f"ALTER TABLE accounts_auditevent ENABLE TRIGGER {TRIGGER}")


def protect(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NO_TRUNCATE)


def unprotect(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NO_TRUNCATE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_auditevent_append_only")]

    operations = [
        migrations.AddField("auditevent", "seq", models.PositiveBigIntegerField(null=True)),
        migrations.AddField(
            "auditevent", "prev_hash", models.CharField(blank=True, default="", max_length=64)
        ),
        migrations.AddField(
            "auditevent", "reference", models.CharField(blank=True, default="", max_length=32)
        ),
        migrations.AlterField("auditevent", "at", models.DateTimeField(db_index=True)),
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.PositiveBigIntegerField(default=0)),
                ("hash", models.CharField(blank=True, max_length=64)),
                ("at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="PublishedAuditHead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(unique=True)),
                ("seq", models.PositiveBigIntegerField()),
                ("hash", models.CharField(max_length=64)),
                ("published_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["-day"]},
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField("auditevent", "seq", models.PositiveBigIntegerField(unique=True)),
        migrations.AlterField(
            "auditevent", "prev_hash", models.CharField(blank=True, max_length=64)
        ),
        migrations.AlterField(
            "auditevent", "reference", models.CharField(blank=True, max_length=32)
        ),
        migrations.AlterField("auditevent", "actor_label", models.CharField(max_length=64)),
        migrations.AlterModelOptions("auditevent", {"ordering": ["-seq"]}),
        migrations.AddConstraint(
            "auditevent",
            models.CheckConstraint(name="auditevent_actor_named", condition=~Q(actor_label="")),
        ),
        migrations.RunPython(protect, unprotect),
    ]
