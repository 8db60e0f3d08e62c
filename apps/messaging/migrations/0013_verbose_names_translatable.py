"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_verbose_names_translatable"),
        ("messaging", "0012_encrypt_message_body_and_recipient"),
        ("providers", "0008_verbose_names_translatable"),
        ("accounts", "__first__"),
    ]

    operations = [
        SetLabels(
            models={
                "blockedrecipient": {
                    "fields": {
                        "created_at": "created at",
                        "created_by": "created by",
                        "phone": "phone",
                        "reason": "reason",
                    },
                    "options": {"verbose_name": "blocked recipient", "verbose_name_plural": "blocked recipients"},
                },
                "deadletter": {"options": {"verbose_name": "dead letter", "verbose_name_plural": "dead letters"}},
                "domainrule": {
                    "fields": {
                        "active": "active",
                        "brand": "brand",
                        "created_at": "created at",
                        "domain": "domain",
                        "kind": "kind",
                        "note": "note",
                        "updated_at": "updated at",
                        "weight": "weight",
                    },
                    "options": {"verbose_name": "domain rule", "verbose_name_plural": "domain rules"},
                },
                "filterterm": {
                    "fields": {
                        "active": "active",
                        "category": "category",
                        "created_at": "created at",
                        "language": "language",
                        "note": "note",
                        "term": "term",
                        "updated_at": "updated at",
                        "weight": "weight",
                    },
                    "options": {"verbose_name": "filter term", "verbose_name_plural": "filter terms"},
                },
                "idempotencykey": {
                    "fields": {
                        "created_at": "created at",
                        "key": "key",
                        "organization": "organization",
                        "request_hash": "request hash",
                        "response_body": "response body",
                        "response_status": "response status",
                    },
                    "options": {"verbose_name": "idempotency key", "verbose_name_plural": "idempotency keys"},
                },
                "job": {
                    "fields": {
                        "accepted_at": "accepted at",
                        "attempt": "attempt",
                        "cross_carrier": "cross carrier",
                        "deadline": "deadline",
                        "end_reason": "end reason",
                        "finished_at": "finished at",
                        "last_push_error": "last push error",
                        "last_pushed_at": "last pushed at",
                        "message": "message",
                        "offered_at": "offered at",
                        "provider": "provider",
                        "push_attempts": "push attempts",
                        "reserved_at": "reserved at",
                        "sent_at": "sent at",
                        "sim": "sim",
                        "status": "status",
                        "sticky": "sticky",
                        "trace_token": "trace token",
                    },
                    "options": {"verbose_name": "job", "verbose_name_plural": "jobs"},
                },
                "message": {
                    "fields": {
                        "api_key": "api key",
                        "assigned_at": "assigned at",
                        "attempts": "attempts",
                        "body": "body",
                        "callback_url": "callback url",
                        "carrier": "carrier",
                        "converted_at": "converted at",
                        "created_at": "created at",
                        "delivered_at": "delivered at",
                        "dispatch_tries": "dispatch tries",
                        "encoding": "encoding",
                        "expires_at": "expires at",
                        "filter_reasons": "filter reasons",
                        "filter_score": "filter score",
                        "finished_at": "finished at",
                        "next_attempt_at": "next attempt at",
                        "organization": "organization",
                        "price_charged": "price charged",
                        "price_cross_carrier": "price cross carrier",
                        "price_held": "price held",
                        "price_on_net": "price on net",
                        "priority": "priority",
                        "redacted_at": "redacted at",
                        "reference": "reference",
                        "route": "route",
                        "scheduled_at": "scheduled at",
                        "segments": "segments",
                        "sent_at": "sent at",
                        "status": "status",
                        "status_reason": "status reason",
                        "updated_at": "updated at",
                        "verification_code": "verification code",
                    },
                    "options": {"verbose_name": "message", "verbose_name_plural": "messages"},
                },
                "optout": {
                    "fields": {
                        "created_at": "created at",
                        "created_by": "created by",
                        "note": "note",
                        "organization": "organization",
                        "phone": "phone",
                        "source": "source",
                    },
                    "options": {"verbose_name": "opt-out", "verbose_name_plural": "opt-outs"},
                },
                "stopkeyword": {
                    "fields": {"created_at": "created at", "keyword": "keyword", "organization": "organization"},
                    "options": {"verbose_name": "stop keyword", "verbose_name_plural": "stop keywords"},
                },
            }
        )
    ]
