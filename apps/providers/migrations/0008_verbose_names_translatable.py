"""Labels for the Khmer back office: every model and field named through gettext (no database change)."""

from django.db import migrations

from apps.core.migration_operations import SetLabels


class Migration(migrations.Migration):
    dependencies = [("providers", "0007_provider_unresponsive_since"), ("accounts", "__first__")]

    operations = [
        SetLabels(
            models={
                "availabilitychange": {
                    "fields": {
                        "availability": "availability",
                        "created_at": "created at",
                        "previous": "previous",
                        "provider": "provider",
                        "reason": "reason",
                    },
                    "options": {"verbose_name": "availability change", "verbose_name_plural": "availability changes"},
                },
                "device": {
                    "fields": {
                        "app_version": "app version",
                        "battery": "battery",
                        "charging": "charging",
                        "created_at": "created at",
                        "installation_id": "installation id",
                        "last_heartbeat_at": "last heartbeat at",
                        "network_type": "network type",
                        "platform": "platform",
                        "provider": "provider",
                        "signal": "signal",
                        "updated_at": "updated at",
                    },
                    "options": {"verbose_name": "device", "verbose_name_plural": "devices"},
                },
                "provider": {
                    "fields": {
                        "unresponsive_since": "unresponsive since",
                        "approved_at": "approved at",
                        "availability": "availability",
                        "availability_changed_at": "availability changed at",
                        "chosen_availability": "chosen availability",
                        "created_at": "created at",
                        "jobs_delivered": "jobs delivered",
                        "jobs_failed": "jobs failed",
                        "jobs_in_flight": "jobs in flight",
                        "last_heartbeat_at": "last heartbeat at",
                        "latitude": "latitude",
                        "longitude": "longitude",
                        "province": "province",
                        "reputation": "reputation",
                        "score": "score",
                        "score_computed_at": "score computed at",
                        "score_parts": "score parts",
                        "status": "status",
                        "trust_level": "trust level",
                        "trusted": "trusted",
                        "updated_at": "updated at",
                        "user": "user",
                    },
                    "options": {"verbose_name": "provider", "verbose_name_plural": "providers"},
                },
                "sim": {
                    "fields": {
                        "active": "active",
                        "capped_until": "capped until",
                        "carrier": "carrier",
                        "carrier_detected": "carrier detected",
                        "carrier_mismatch": "carrier mismatch",
                        "cooldown_level": "cooldown level",
                        "cooldown_until": "cooldown until",
                        "created_at": "created at",
                        "daily_cap": "daily cap",
                        "hourly_cap": "hourly cap",
                        "last_assigned_at": "last assigned at",
                        "last_block_at": "last block at",
                        "matchable": "matchable",
                        "next_turn_at": "next turn at",
                        "provider": "provider",
                        "ready": "ready",
                        "removed_at": "removed at",
                        "slot": "slot",
                        "verified_at": "verified at",
                    },
                    "options": {"verbose_name": "sim", "verbose_name_plural": "sims"},
                },
                "simcounter": {
                    "fields": {
                        "day_count": "day count",
                        "day_key": "day key",
                        "hour_count": "hour count",
                        "hour_key": "hour key",
                        "sim": "sim",
                    },
                    "options": {"verbose_name": "sim counter", "verbose_name_plural": "sim counters"},
                },
                "stickysender": {
                    "fields": {
                        "client_ref": "client ref",
                        "provider": "provider",
                        "recipient": "recipient",
                        "sim": "sim",
                        "updated_at": "updated at",
                    },
                    "options": {"verbose_name": "sticky sender", "verbose_name_plural": "sticky senders"},
                },
            }
        )
    ]
