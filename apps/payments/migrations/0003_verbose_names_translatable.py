"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_verbose_names_translatable"),
        ("payments", "0002_receipts"),
        ("accounts", "__first__"),
    ]

    operations = [
        SetLabels(
            models={
                "barayexchange": {
                    "fields": {
                        "created_at": "created at",
                        "duration_ms": "duration ms",
                        "error": "error",
                        "http_status": "http status",
                        "kind": "kind",
                        "method": "method",
                        "outcome": "outcome",
                        "request_body": "request body",
                        "response_body": "response body",
                        "topup": "topup",
                        "url": "url",
                    },
                    "options": {"verbose_name": "baray exchange", "verbose_name_plural": "baray exchanges"},
                },
                "exchangerate": {
                    "fields": {
                        "created_at": "created at",
                        "created_by": "created by",
                        "currency": "currency",
                        "note": "note",
                        "ppt_per_unit": "ppt per unit",
                        "valid_from": "valid from",
                        "valid_until": "valid until",
                    },
                    "options": {"verbose_name": "exchange rate", "verbose_name_plural": "exchange rates"},
                },
                "receipt": {
                    "fields": {
                        "amount": "amount",
                        "currency": "currency",
                        "issued_at": "issued at",
                        "number": "number",
                        "organization": "organization",
                        "organization_name": "organization name",
                        "ppt_amount": "ppt amount",
                        "ppt_per_unit": "ppt per unit",
                        "sequence": "sequence",
                        "tax_amount": "tax amount",
                        "tax_name": "tax name",
                        "tax_rate_bp": "tax rate bp",
                        "topup": "topup",
                        "transfer_id": "transfer id",
                        "year": "year",
                    },
                    "options": {"verbose_name": "receipt", "verbose_name_plural": "receipts"},
                },
                "receiptcounter": {
                    "fields": {"last": "last", "year": "year"},
                    "options": {"verbose_name": "receipt counter", "verbose_name_plural": "receipt counters"},
                },
                "topup": {
                    "fields": {
                        "amount": "amount",
                        "checkout_url": "checkout url",
                        "created_at": "created at",
                        "currency": "currency",
                        "deeplink": "deeplink",
                        "expires_at": "expires at",
                        "failure_reason": "failure reason",
                        "intent_id": "intent id",
                        "khqr": "khqr",
                        "method": "method",
                        "organization": "organization",
                        "ppt_amount": "ppt amount",
                        "ppt_per_unit": "ppt per unit",
                        "public_id": "public id",
                        "rate": "rate",
                        "settled_at": "settled at",
                        "status": "status",
                        "transfer_id": "transfer id",
                        "updated_at": "updated at",
                    },
                    "options": {"verbose_name": "top up", "verbose_name_plural": "top ups"},
                },
            }
        )
    ]
