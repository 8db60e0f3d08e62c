"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_encrypt_phone_numbers")]

    operations = [
        SetLabels(
            models={
                "apikey": {
                    "fields": {
                        "created_at": "created at",
                        "created_by": "created by",
                        "last_used_at": "last used at",
                        "name": "name",
                        "organization": "organization",
                        "prefix": "prefix",
                        "rate_per_day": "rate per day",
                        "rate_per_second": "rate per second",
                        "revoked_at": "revoked at",
                        "secret_hash": "secret hash",
                    }
                },
                "clientapplication": {
                    "fields": {
                        "business_name": "business name",
                        "created_at": "created at",
                        "decided_at": "decided at",
                        "decided_by": "decided by",
                        "expected_daily_volume": "expected daily volume",
                        "organization": "organization",
                        "registration_number": "registration number",
                        "sample_messages": "sample messages",
                        "staff_note": "staff note",
                        "status": "status",
                        "submitted_at": "submitted at",
                        "updated_at": "updated at",
                        "use_case": "use case",
                    },
                    "options": {"verbose_name": "client application", "verbose_name_plural": "client applications"},
                },
                "clientmembership": {
                    "fields": {
                        "created_at": "created at",
                        "organization": "organization",
                        "role": "role",
                        "user": "user",
                    },
                    "options": {"verbose_name": "client membership", "verbose_name_plural": "client memberships"},
                },
                "clientorganization": {
                    "fields": {
                        "approved_at": "approved at",
                        "blocked_reason": "blocked reason",
                        "contact_email": "contact email",
                        "contact_phone": "contact phone",
                        "created_at": "created at",
                        "is_blocked": "is blocked",
                        "is_system": "is system",
                        "low_balance_threshold": "low balance threshold",
                        "members": "members",
                        "message_body_retention_days": "message body retention days",
                        "name": "name",
                        "plan": "plan",
                        "verification_codes": "verification codes",
                    },
                    "options": {"verbose_name": "client organization", "verbose_name_plural": "client organizations"},
                },
                "clientplan": {
                    "fields": {
                        "created_at": "created at",
                        "key_rate_per_day": "key rate per day",
                        "key_rate_per_second": "key rate per second",
                        "max_api_keys": "max api keys",
                        "name": "name",
                        "organization_rate_per_day": "organization rate per day",
                    },
                    "options": {"verbose_name": "client plan", "verbose_name_plural": "client plans"},
                },
                "denylistentry": {
                    "fields": {
                        "created_at": "created at",
                        "created_by": "created by",
                        "kind": "kind",
                        "reason": "reason",
                        "removal_reason": "removal reason",
                        "removed_at": "removed at",
                        "removed_by": "removed by",
                        "value": "value",
                    }
                },
                "devicesession": {
                    "fields": {
                        "created_at": "created at",
                        "ip": "ip",
                        "last_used_at": "last used at",
                        "name": "name",
                        "refresh_jti": "refresh jti",
                        "revoked_at": "revoked at",
                        "user": "user",
                        "user_agent": "user agent",
                    },
                    "options": {"verbose_name": "device session", "verbose_name_plural": "device sessions"},
                },
                "identitychallenge": {
                    "fields": {
                        "created_at": "created at",
                        "expires_at": "expires at",
                        "kind": "kind",
                        "message": "message",
                        "nonce": "nonce",
                        "used_at": "used at",
                        "user": "user",
                    },
                    "options": {"verbose_name": "identity challenge", "verbose_name_plural": "identity challenges"},
                },
                "otpchallenge": {
                    "fields": {
                        "phone_hash": "phone's keyed hash",
                        "attempts": "attempts",
                        "code_hash": "code hash",
                        "consumed_at": "consumed at",
                        "created_at": "created at",
                        "expires_at": "expires at",
                        "phone": "phone",
                        "purpose": "purpose",
                        "request_ip": "request ip",
                        "salt": "salt",
                        "superseded_at": "superseded at",
                    }
                },
                "user": {
                    "fields": {
                        "date_joined": "date joined",
                        "display_name": "display name",
                        "is_active": "is active",
                        "is_staff": "is staff",
                        "preferred_language": "preferred language",
                        "reputation_score": "reputation score",
                    },
                    "options": {"verbose_name": "user", "verbose_name_plural": "users"},
                },
            }
        )
    ]
