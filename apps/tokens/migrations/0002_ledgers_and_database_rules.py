"""The ledgers themselves, and on PostgreSQL the rules the database keeps whatever the client:

- both accounts of a transfer are on the transfer's ledger (composite foreign keys onto (account id, ledger));
- a transfer is never deleted, and never changed except for a pending transfer's one move out of `pending`
  (its `status` and `resolved_at`; every other column stays as it was).
"""

from django.db import migrations

CREATE = """
ALTER TABLE tokens_transfer ADD CONSTRAINT tokens_transfer_debit_account_on_ledger
    FOREIGN KEY (debit_account_id, ledger_id) REFERENCES tokens_account (id, ledger_id);
ALTER TABLE tokens_transfer ADD CONSTRAINT tokens_transfer_credit_account_on_ledger
    FOREIGN KEY (credit_account_id, ledger_id) REFERENCES tokens_account (id, ledger_id);

CREATE OR REPLACE FUNCTION tokens_transfer_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'tokens_transfer rows are never deleted (transfer %)', OLD.id;
    END IF;
    IF OLD.kind = 'pending' AND OLD.status = 'pending' AND NEW.status IN ('posted', 'voided', 'expired')
       AND NEW.resolved_at IS NOT NULL
       AND ROW(NEW.id, NEW.ledger_id, NEW.debit_account_id, NEW.credit_account_id, NEW.amount, NEW.kind,
               NEW.pending_id, NEW.timeout_at, NEW.linked, NEW.reason, NEW.message_id, NEW.job_id, NEW.payment_ref,
               NEW.payout_ref, NEW.memo, NEW.created_at)
           IS NOT DISTINCT FROM
           ROW(OLD.id, OLD.ledger_id, OLD.debit_account_id, OLD.credit_account_id, OLD.amount, OLD.kind,
               OLD.pending_id, OLD.timeout_at, OLD.linked, OLD.reason, OLD.message_id, OLD.job_id, OLD.payment_ref,
               OLD.payout_ref, OLD.memo, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'tokens_transfer % is immutable (status %)', OLD.id, OLD.status;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_transfer_immutable
    BEFORE UPDATE OR DELETE ON tokens_transfer
    FOR EACH ROW EXECUTE FUNCTION tokens_transfer_immutable();
"""
DROP = """
DROP TRIGGER IF EXISTS tokens_transfer_immutable ON tokens_transfer;
DROP FUNCTION IF EXISTS tokens_transfer_immutable();
ALTER TABLE tokens_transfer DROP CONSTRAINT IF EXISTS tokens_transfer_debit_account_on_ledger;
ALTER TABLE tokens_transfer DROP CONSTRAINT IF EXISTS tokens_transfer_credit_account_on_ledger;
"""
LEDGERS = [(1, "PPT", "PeerPower Token", 6), (2, "KHR", "Cambodian riel", 0), (3, "USD", "US dollar", 2)]


def forwards(apps, schema_editor) -> None:
    Ledger = apps.get_model("tokens", "Ledger")
    for pk, code, name, scale in LEDGERS:
        Ledger.objects.get_or_create(pk=pk, defaults={"code": code, "name": name, "scale": scale})
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
        # The ledgers were inserted with explicit ids; move the sequence past them.
        schema_editor.execute("SELECT setval(pg_get_serial_sequence('tokens_ledger', 'id'), 3)", params=None)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("tokens", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
