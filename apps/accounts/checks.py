"""System checks: the configured OTP sender must exist, so a typo stops start-up instead of the first login."""

from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from apps.accounts.otp import SENDER_ALIASES, OtpSender


@checks.register(checks.Tags.compatibility)
def check_otp_sender(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    name = settings.OTP_SENDER
    if name in SENDER_ALIASES:
        return []
    try:
        sender = import_string(name)
    except ImportError as error:
        return [checks.Error(f"OTP_SENDER {name!r} cannot be imported: {error}", id="accounts.E001")]
    if not (isinstance(sender, type) and issubclass(sender, OtpSender)):
        return [checks.Error(f"OTP_SENDER {name!r} is not an OtpSender subclass", id="accounts.E002")]
    return []
