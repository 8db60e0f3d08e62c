"""System checks of core settings: the keys that encrypt personal data at rest must be usable before anything is
written with them (a bad key found at the first send would refuse every message)."""

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    from apps.core.crypto import parse_keys

    problems = []
    try:
        if not parse_keys(settings.FIELD_ENCRYPTION_KEYS):
            problems.append(checks.Error("FIELD_ENCRYPTION_KEYS is empty", id="core.E001"))
    except ImproperlyConfigured as error:
        problems.append(checks.Error(str(error), id="core.E001"))
    if not settings.BLIND_INDEX_KEY:
        problems.append(checks.Error("BLIND_INDEX_KEY is empty", id="core.E002"))
    return problems
