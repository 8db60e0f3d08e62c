"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_verbose_names_translatable"),
        ("providers", "0008_verbose_names_translatable"),
        ("tokens", "0005_withdrawals_and_settlement_batches"),
        ("accounts", "__first__"),
    ]

    operations = [
        SetLabels(
            models={
                "account": {
                    "fields": {
                        "created_at": "created at",
                        "credit_limit": "credit limit",
                        "credits_must_not_exceed_debits": "credits must not exceed debits",
                        "credits_pending": "credits pending",
                        "credits_posted": "credits posted",
                        "debits_must_not_exceed_credits": "debits must not exceed credits",
                        "debits_pending": "debits pending",
                        "debits_posted": "debits posted",
                        "is_hot": "is hot",
                        "ledger": "ledger",
                        "organization": "organization",
                        "owner_kind": "owner kind",
                        "platform": "platform",
                        "provider": "provider",
                    },
                    "options": {"verbose_name": "account", "verbose_name_plural": "accounts"},
                },
                "adjustment": {
                    "fields": {
                        "account": "account",
                        "amount": "amount",
                        "decided_at": "decided at",
                        "decided_by": "decided by",
                        "memo": "memo",
                        "proposed_at": "proposed at",
                        "proposed_by": "proposed by",
                        "status": "status",
                        "transfer_id": "transfer id",
                    },
                    "options": {"verbose_name": "adjustment", "verbose_name_plural": "adjustments"},
                },
                "chaintransaction": {
                    "fields": {
                        "amount": "amount",
                        "block_number": "block number",
                        "bumps": "bumps",
                        "chain_id": "chain id",
                        "contract_address": "contract address",
                        "created_at": "created at",
                        "data": "data",
                        "effective_gas_price": "effective gas price",
                        "error": "error",
                        "final_at": "final at",
                        "gas_limit": "gas limit",
                        "gas_used": "gas used",
                        "max_fee_per_gas": "max fee per gas",
                        "max_priority_fee_per_gas": "max priority fee per gas",
                        "mined_at": "mined at",
                        "nonce": "nonce",
                        "purpose": "purpose",
                        "raw": "raw",
                        "receipt": "receipt",
                        "reference": "reference",
                        "replaced_hashes": "replaced hashes",
                        "sender": "sender",
                        "sent_at": "sent at",
                        "state": "state",
                        "to": "to",
                        "tx_hash": "tx hash",
                        "value": "value",
                    },
                    "options": {"verbose_name": "chain transaction", "verbose_name_plural": "chain transactions"},
                },
                "chainwallet": {
                    "fields": {"address": "address", "chain_id": "chain id", "last_nonce": "last nonce"},
                    "options": {"verbose_name": "chain wallet", "verbose_name_plural": "chain wallets"},
                },
                "hotbalancedelta": {
                    "fields": {
                        "account": "account",
                        "credits_pending": "credits pending",
                        "credits_posted": "credits posted",
                        "debits_pending": "debits pending",
                        "debits_posted": "debits posted",
                    },
                    "options": {"verbose_name": "hot balance delta", "verbose_name_plural": "hot balance deltas"},
                },
                "ledger": {
                    "fields": {"code": "code", "id": "id", "name": "name", "scale": "scale"},
                    "options": {"verbose_name": "ledger", "verbose_name_plural": "ledgers"},
                },
                "ledgercheck": {
                    "fields": {
                        "accounts": "accounts",
                        "breaks": "breaks",
                        "duration_ms": "duration ms",
                        "imbalance": "imbalance",
                        "report": "report",
                        "started_at": "started at",
                        "transfers": "transfers",
                    },
                    "options": {"verbose_name": "ledger check", "verbose_name_plural": "ledger checks"},
                },
                "settlementbatch": {
                    "fields": {
                        "amount": "amount",
                        "attempts": "attempts",
                        "chain_transaction": "chain transaction",
                        "created_at": "created at",
                        "error": "error",
                        "recipients": "recipients",
                        "settled_at": "settled at",
                        "state": "state",
                    },
                    "options": {"verbose_name": "settlement batch", "verbose_name_plural": "settlement batches"},
                },
                "transfer": {
                    "fields": {
                        "amount": "amount",
                        "created_at": "created at",
                        "credit_account": "credit account",
                        "debit_account": "debit account",
                        "id": "id",
                        "job_id": "job id",
                        "kind": "kind",
                        "ledger": "ledger",
                        "linked": "linked",
                        "memo": "memo",
                        "message_id": "message id",
                        "payment_ref": "payment ref",
                        "payout_ref": "payout ref",
                        "pending": "pending",
                        "reason": "reason",
                        "resolved_at": "resolved at",
                        "status": "status",
                        "timeout_at": "timeout at",
                    },
                    "options": {"verbose_name": "transfer", "verbose_name_plural": "transfers"},
                },
                "withdrawal": {
                    "fields": {
                        "account": "account",
                        "address": "address",
                        "amount": "amount",
                        "batch": "batch",
                        "created_at": "created at",
                        "public_id": "public id",
                        "reference": "reference",
                        "requested_by": "requested by",
                        "settled_at": "settled at",
                        "state": "state",
                    },
                    "options": {"verbose_name": "withdrawal", "verbose_name_plural": "withdrawals"},
                },
            }
        )
    ]
