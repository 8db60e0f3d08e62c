"""An OTP sender for the fleet simulator only: codes go to the shared cache, where the simulator's virtual phones
read them (they have no SIM to receive an SMS on). A development and simulation tool; the system check in
`apps.simulator.checks` refuses it under production settings."""

import re

from django.core.cache import cache

from apps.accounts.otp import OtpMessage, OtpSender

CACHE_KEY = "simulator:otp:{phone}"
CODE_SECONDS = 600
CODE = re.compile(r"[0-9]{6}")


class CacheOtpSender(OtpSender):
    def send(self, message: OtpMessage) -> None:
        cache.set(CACHE_KEY.format(phone=message.phone), CODE.search(message.text).group(0), CODE_SECONDS)


def simulated_code(phone: str) -> str | None:
    """The last code sent to `phone` (E.164) through `CacheOtpSender`, if any."""
    return cache.get(CACHE_KEY.format(phone=phone))
