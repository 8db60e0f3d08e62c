"""System check: in production, a priority without a price in force sends messages free of charge."""

from typing import Any

from django.core import checks


@checks.register(checks.Tags.database)
def check_prices_in_force(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings
    from django.db import DatabaseError
    from django.utils import timezone

    from apps.incentives.choices import Route
    from apps.incentives.pricing import prices_in_force
    from apps.providers.choices import MatchPriority

    # Database checks run only when asked for (`check --database default`, `migrate`); development is free by design.
    if not databases or settings.DEBUG:
        return []
    try:
        in_force = prices_in_force(now=timezone.now())
    except DatabaseError:  # not migrated yet
        return []
    missing = [
        f"{priority}/{route}"
        for priority in MatchPriority.values
        for route in Route.values
        if (priority, route) not in in_force
    ]
    if not missing:
        return []
    return [
        checks.Warning(
            f"No price in force for {', '.join(missing)}: those messages are sent free of charge.",
            hint="Add prices in the admin (Incentives › Prices).",
            id="incentives.W001",
        )
    ]
