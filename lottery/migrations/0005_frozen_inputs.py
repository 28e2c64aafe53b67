"""On PostgreSQL, refuse at the database level any change to a frozen draw's inputs.

Once a window's draw is frozen (lottery_draw.frozen_at set), slots.csv and entries.csv are
published with their digests: the window's slots, its entries' draw inputs and the draw's own
frozen columns must never change again, whoever writes (the services refuse first, with a
translatable message; see booking.services.check_window_not_frozen). Outputs keep changing:
ranks and statuses written by the draw, appointments (offers, answers, cancellations), carry-over.

- booking_slot: no INSERT into, UPDATE or DELETE of a slot of a frozen window.
- booking_entry: no INSERT into or DELETE from a frozen window; no UPDATE of an input column.
  The UPDATE trigger is AFTER ... WHEN: the input columns are compared first, in the trigger's
  WHEN, so the draw's million-row UPDATE of rank and status calls no function and reads no draw
  (and, unlike a BEFORE trigger, makes PostgreSQL lock no row before updating it).
  Tier and weight are computed by the freeze itself and written back in its transaction, after
  it set `fairslot.freezing_window` to the window's id (lottery.services.FREEZING_SETTING):
  checking them there would cost a function call per carried entry (seconds at a million).
- booking_entry_sites: no INSERT, UPDATE or DELETE for an entry of a frozen window.
- lottery_draw: frozen_at and the two digests never change once set.

TRUNCATE fires no row trigger (test databases are flushed that way).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION fairslot_refuse_if_frozen(p_window bigint, p_what text)
RETURNS void AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM lottery_draw WHERE window_id = p_window AND frozen_at IS NOT NULL
  ) THEN
    RAISE EXCEPTION 'frozen draw: % refused, the draw of window % is frozen and its inputs '
      '(slots, entries and their sites, tiers, weights, weekdays) can no longer change',
      p_what, p_window
      USING HINT = 'To correct a slot after the freeze, cancel its appointment and offer it '
        'again (lottery.services_offers); the events.log records it.';
  END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION fairslot_slot_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM fairslot_refuse_if_frozen(OLD.window_id, format('%s of slot %s', TG_OP, OLD.code));
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.window_id <> OLD.window_id) THEN
    PERFORM fairslot_refuse_if_frozen(NEW.window_id, format('%s of slot %s', TG_OP, NEW.code));
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER booking_slot_frozen
  BEFORE INSERT OR UPDATE OR DELETE ON booking_slot
  FOR EACH ROW EXECUTE FUNCTION fairslot_slot_frozen();

CREATE OR REPLACE FUNCTION fairslot_entry_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM fairslot_refuse_if_frozen(OLD.window_id, format('%s of entry %s', TG_OP, OLD.id));
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.window_id <> OLD.window_id) THEN
    PERFORM fairslot_refuse_if_frozen(NEW.window_id, format('%s of an entry', TG_OP));
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER booking_entry_frozen
  BEFORE INSERT OR DELETE ON booking_entry
  FOR EACH ROW EXECUTE FUNCTION fairslot_entry_frozen();

CREATE TRIGGER booking_entry_frozen_inputs
  AFTER UPDATE ON booking_entry
  FOR EACH ROW
  WHEN (
    (OLD.window_id, OLD.procedure_id, OLD.person_id, OLD.entry_id, OLD.excluded_weekdays,
     OLD.permit_expires_on, OLD.urgent_approved, OLD.channel)
    IS DISTINCT FROM
    (NEW.window_id, NEW.procedure_id, NEW.person_id, NEW.entry_id, NEW.excluded_weekdays,
     NEW.permit_expires_on, NEW.urgent_approved, NEW.channel)
    OR ((OLD.tier, OLD.weight) IS DISTINCT FROM (NEW.tier, NEW.weight)
        AND NEW.window_id::text IS DISTINCT FROM
            current_setting('fairslot.freezing_window', true))
  )
  EXECUTE FUNCTION fairslot_entry_frozen();

CREATE OR REPLACE FUNCTION fairslot_entry_sites_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM fairslot_refuse_if_frozen(
      (SELECT window_id FROM booking_entry WHERE id = OLD.entry_id),
      format('%s of a site of entry %s', TG_OP, OLD.entry_id));
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM fairslot_refuse_if_frozen(
      (SELECT window_id FROM booking_entry WHERE id = NEW.entry_id),
      format('%s of a site of entry %s', TG_OP, NEW.entry_id));
    RETURN NEW;
  END IF;
  RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER booking_entry_sites_frozen
  BEFORE INSERT OR UPDATE OR DELETE ON booking_entry_sites
  FOR EACH ROW EXECUTE FUNCTION fairslot_entry_sites_frozen();

CREATE OR REPLACE FUNCTION fairslot_draw_frozen_columns() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'frozen draw: the draw of window % is frozen, its freeze time and digests '
    'can no longer change', OLD.window_id;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER lottery_draw_frozen_columns
  BEFORE UPDATE ON lottery_draw
  FOR EACH ROW
  WHEN (
    OLD.frozen_at IS NOT NULL
    AND (OLD.frozen_at, OLD.entries_digest, OLD.slots_digest)
        IS DISTINCT FROM (NEW.frozen_at, NEW.entries_digest, NEW.slots_digest)
  )
  EXECUTE FUNCTION fairslot_draw_frozen_columns();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS lottery_draw_frozen_columns ON lottery_draw;
DROP TRIGGER IF EXISTS booking_entry_sites_frozen ON booking_entry_sites;
DROP TRIGGER IF EXISTS booking_entry_frozen_inputs ON booking_entry;
DROP TRIGGER IF EXISTS booking_entry_frozen ON booking_entry;
DROP TRIGGER IF EXISTS booking_slot_frozen ON booking_slot;
DROP FUNCTION IF EXISTS fairslot_draw_frozen_columns();
DROP FUNCTION IF EXISTS fairslot_entry_sites_frozen();
DROP FUNCTION IF EXISTS fairslot_entry_frozen();
DROP FUNCTION IF EXISTS fairslot_slot_frozen();
DROP FUNCTION IF EXISTS fairslot_refuse_if_frozen(bigint, text);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the SQL is sent as written (its % are PL/pgSQL's, not placeholders).
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("lottery", "0004_outcome_batches"),
        ("booking", "0005_partner_key"),
    ]

    operations = [migrations.RunPython(forward, backward)]
