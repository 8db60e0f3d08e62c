"""The ledgers themselves, and on PostgreSQL the rules the database keeps whatever the client:

- both accounts of a transfer exist and are on the transfer's ledger: checked once per INSERT statement over all
  its rows (a statement-level trigger with a transition table), not by foreign keys, whose per-row check would
  share-lock the hot platform accounts' rows in every transfer;
- an account is never deleted and never moves to another ledger;
- a transfer is never deleted, and never changed except for a pending transfer's one move out of `pending`
  (its `status` and `resolved_at`; every other column stays as it was).

It also drops the `varchar_pattern_ops` index Django adds for a character primary key (the ledger never searches
transfer ids by prefix; one index less per insert) and gives accounts' pages room for heap-only balance updates.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tokens_transfer_accounts_on_ledger() RETURNS trigger AS $$
DECLARE
    bad varchar;
BEGIN
    SELECT n.id INTO bad FROM inserted n
      LEFT JOIN tokens_account d ON d.id = n.debit_account_id
      LEFT JOIN tokens_account c ON c.id = n.credit_account_id
     WHERE d.id IS NULL OR c.id IS NULL OR d.ledger_id <> n.ledger_id OR c.ledger_id <> n.ledger_id
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tokens_transfer %: an account is missing or not on the transfer''s ledger', bad
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_transfer_accounts_on_ledger
    AFTER INSERT ON tokens_transfer REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tokens_transfer_accounts_on_ledger();

CREATE OR REPLACE FUNCTION tokens_account_kept() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'tokens_account rows are never deleted (account %)', OLD.id;
    END IF;
    IF NEW.ledger_id <> OLD.ledger_id THEN
        RAISE EXCEPTION 'tokens_account % cannot change ledger', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tokens_account_kept
    BEFORE DELETE OR UPDATE OF ledger_id ON tokens_account
    FOR EACH ROW EXECUTE FUNCTION tokens_account_kept();
ALTER TABLE tokens_account SET (fillfactor = 70);

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
DROP TRIGGER IF EXISTS tokens_transfer_accounts_on_ledger ON tokens_transfer;
DROP FUNCTION IF EXISTS tokens_transfer_accounts_on_ledger();
DROP TRIGGER IF EXISTS tokens_account_kept ON tokens_account;
DROP FUNCTION IF EXISTS tokens_account_kept();
ALTER TABLE tokens_account RESET (fillfactor);
"""
# Django's name for it is derived from a hash; find it by what it is.
DROP_LIKE_INDEX = """
DO $$
DECLARE
    name text;
BEGIN
    FOR name IN SELECT indexname FROM pg_indexes
                 WHERE tablename = 'tokens_transfer' AND indexname LIKE 'tokens_transfer_id_%_like' LOOP
        EXECUTE format('DROP INDEX %I', name);
    END LOOP;
END $$;
"""
LEDGERS = [(1, "PPT", "PeerPower Token", 6), (2, "KHR", "Cambodian riel", 0), (3, "USD", "US dollar", 2)]


def forwards(apps, schema_editor) -> None:
    Ledger = apps.get_model("tokens", "Ledger")
    for pk, code, name, scale in LEDGERS:
        Ledger.objects.get_or_create(pk=pk, defaults={"code": code, "name": name, "scale": scale})
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
        schema_editor.execute(DROP_LIKE_INDEX, params=None)
        # The ledgers were inserted with explicit ids; move the sequence past them.
        schema_editor.execute("SELECT setval(pg_get_serial_sequence('tokens_ledger', 'id'), 3)", params=None)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("tokens", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
