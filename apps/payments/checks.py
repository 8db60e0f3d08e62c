"""System check: Baray's key and IV, when set, are base64 of 32 and 16 bytes, so a mistyped key stops start-up
instead of the first top-up (development and tests have working defaults; production requires them)."""

from typing import Any

from django.core import checks

from apps.payments.baray import AesKey


@checks.register(checks.Tags.compatibility)
def check_baray_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    errors = []
    for key_name, iv_name in (("BARAY_SECRET_KEY", "BARAY_IV"), ("BARAY_WEBHOOK_SECRET_KEY", "BARAY_WEBHOOK_IV")):
        key, iv = getattr(settings, key_name), getattr(settings, iv_name)
        if not key and not iv:
            continue
        try:
            AesKey(key, iv).encrypt("check")
        except (ValueError, TypeError) as error:
            errors.append(
                checks.Error(f"{key_name} / {iv_name} must be base64 of 32 and 16 bytes: {error}", id="payments.E001")
            )
    return errors
