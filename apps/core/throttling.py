"""Per-endpoint rate limits for the API: a DRF throttle on the shared counters of `apps.core.ratelimit`.

A view names its limit with `rate_limit_scope = "heartbeat"`; the rate is `settings.API_RATE_LIMITS[scope]`
("120/m"; empty turns it off). Hits are counted per signed-in user, per API client organisation, or per IP address on
anonymous endpoints. Over the limit: 429 `rate_limited` with Retry-After, in the API's error shape.
"""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.core.context import client_ip_var
from apps.core.counters import counters_add
from apps.core.ratelimit import Window, rate_window


def scope_rate(view: Any) -> str | None:
    """The rate of the view's scope, or None when it has none (or its setting is empty)."""
    scope = getattr(view, "rate_limit_scope", None)
    return settings.API_RATE_LIMITS.get(scope) if scope else None


def scope_window(request: Request, view: Any) -> Window | None:
    """The window this request counts in for its view's limit (None: the view has none), per principal: an API
    client's organisation (ApiClient), a signed-in person or phone, else the client's address."""
    rate = scope_rate(view)
    if not rate:
        return None
    user = request.user
    if getattr(user, "is_authenticated", False):
        key = f"{type(user).__name__}:{user.pk}"
    else:
        key = f"ip:{client_ip_var.get() or BaseThrottle().get_ident(request)}"
    return rate_window(group=f"api.{view.rate_limit_scope}", key=key, rate=rate)


class ScopedRateLimit(BaseThrottle):
    """REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]: runs after authentication, so it can count per principal."""

    def allow_request(self, request: Request, view: Any) -> bool:
        window = scope_window(request, view)
        if window is not None:
            (used,) = counters_add([window.count()])
            window.refuse_over(used)  # raises RateLimited (429)
        return True
