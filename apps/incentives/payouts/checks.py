"""System check: outside production the payout APIs may point at the local fakes with development credentials;
production must name real ones (the settings module also refuses to start without them)."""

from typing import Any

from django.core import checks


@checks.register(checks.Tags.compatibility)
def check_payout_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    if not getattr(settings, "PAYOUTS_REQUIRE_REAL_CREDENTIALS", False):
        return []
    problems = []
    for name in ("AIRTIME_CLIENT_ID", "AIRTIME_CLIENT_SECRET", "PAYWAY_MERCHANT_ID", "PAYWAY_API_KEY"):
        if not getattr(settings, name, ""):
            problems.append(checks.Error(f"{name} is required in production", id="incentives.E001"))
    for name in ("AIRTIME_API_URL", "AIRTIME_AUTH_URL", "PAYWAY_API_URL"):
        url = getattr(settings, name, "")
        if not url.startswith("https://") or "127.0.0.1" in url or "localhost" in url:
            problems.append(checks.Error(f"{name} must be the service's https URL, not {url!r}", id="incentives.E002"))
    return problems
