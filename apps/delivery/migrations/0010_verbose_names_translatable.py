"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_verbose_names_translatable"),
        ("delivery", "0009_encrypt_webhook_secrets_and_events"),
        ("messaging", "0013_verbose_names_translatable"),
        ("providers", "0008_verbose_names_translatable"),
    ]

    operations = [
        SetLabels(
            models={
                "canary": {
                    "fields": {
                        "confirmed_at": "confirmed at",
                        "created_at": "created at",
                        "judged_at": "judged at",
                        "message": "message",
                        "nonce": "nonce",
                        "status": "status",
                    },
                    "options": {"verbose_name": "canary", "verbose_name_plural": "canaries"},
                },
                "deliveryreport": {
                    "fields": {
                        "applied": "applied",
                        "error_code": "error code",
                        "flags": "flags",
                        "job": "job",
                        "occurred_at": "occurred at",
                        "parts": "parts",
                        "provider": "provider",
                        "received_at": "received at",
                        "signed": "signed",
                        "status": "status",
                    },
                    "options": {"verbose_name": "delivery report", "verbose_name_plural": "delivery reports"},
                },
                "deliverystat": {
                    "fields": {
                        "carrier": "carrier",
                        "day": "day",
                        "delivered": "delivered",
                        "failed": "failed",
                        "provider": "provider",
                    },
                    "options": {"verbose_name": "delivery stat", "verbose_name_plural": "delivery stats"},
                },
                "fraudflag": {
                    "fields": {
                        "cleared_at": "cleared at",
                        "created_at": "created at",
                        "details": "details",
                        "job": "job",
                        "provider": "provider",
                        "rule": "rule",
                        "strike": "strike",
                    },
                    "options": {"verbose_name": "fraud flag", "verbose_name_plural": "fraud flags"},
                },
                "webhookattempt": {
                    "fields": {
                        "delivery": "delivery",
                        "error": "error",
                        "latency_ms": "latency ms",
                        "number": "number",
                        "outcome": "outcome",
                        "response_excerpt": "response excerpt",
                        "started_at": "started at",
                        "status_code": "status code",
                        "url": "url",
                    },
                    "options": {"verbose_name": "webhook attempt", "verbose_name_plural": "webhook attempts"},
                },
                "webhookcallbacksecret": {
                    "fields": {
                        "created_at": "created at",
                        "organization": "organization",
                        "previous_secret": "previous secret",
                        "previous_secret_expires_at": "previous secret expires at",
                        "rotated_at": "rotated at",
                        "secret": "secret",
                    },
                    "options": {
                        "verbose_name": "webhook callback secret",
                        "verbose_name_plural": "webhook callback secrets",
                    },
                },
                "webhookdelivery": {
                    "fields": {
                        "attempt_count": "attempt count",
                        "claim_token": "claim token",
                        "created_at": "created at",
                        "endpoint": "endpoint",
                        "event": "event",
                        "last_attempt_at": "last attempt at",
                        "last_error": "last error",
                        "last_status_code": "last status code",
                        "locked_until": "locked until",
                        "next_attempt_at": "next attempt at",
                        "retry_until": "retry until",
                        "status": "status",
                        "status_reason": "status reason",
                        "succeeded_at": "succeeded at",
                        "target": "target",
                        "url": "url",
                    },
                    "options": {"verbose_name": "webhook delivery", "verbose_name_plural": "webhook deliveries"},
                },
                "webhookendpoint": {
                    "fields": {
                        "active": "active",
                        "consecutive_failures": "consecutive failures",
                        "created_at": "created at",
                        "description": "description",
                        "disabled_at": "disabled at",
                        "disabled_reason": "disabled reason",
                        "event_types": "event types",
                        "failing_since": "failing since",
                        "last_failure_at": "last failure at",
                        "last_success_at": "last success at",
                        "organization": "organization",
                        "previous_secret": "previous secret",
                        "previous_secret_expires_at": "previous secret expires at",
                        "secret": "secret",
                        "updated_at": "updated at",
                        "url": "url",
                    },
                    "options": {"verbose_name": "webhook endpoint", "verbose_name_plural": "webhook endpoints"},
                },
                "webhookevent": {
                    "fields": {
                        "body": "body",
                        "created_at": "created at",
                        "message": "message",
                        "organization": "organization",
                        "type": "type",
                    },
                    "options": {"verbose_name": "webhook event", "verbose_name_plural": "webhook events"},
                },
            }
        )
    ]
