"""The simulator's OTP sender hands codes to whoever can read the cache: never acceptable in production."""

from typing import Any

from django.core import checks

SIMULATOR_SENDER = "apps.simulator.otp.CacheOtpSender"


@checks.register(checks.Tags.security)
def check_simulator_sender_not_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    if settings.OTP_SENDER == SIMULATOR_SENDER and settings.SETTINGS_MODULE.endswith(".production"):
        return [
            checks.Error(
                "OTP_SENDER is the fleet simulator's sender, which exposes codes through the cache.",
                hint="Use it only in development or simulation; production needs a sender that delivers SMS.",
                id="simulator.E001",
            )
        ]
    return []
