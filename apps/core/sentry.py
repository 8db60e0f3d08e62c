"""Error reports to Sentry: unhandled exceptions of web requests and Celery tasks, when SENTRY_DSN is set.

Started from the settings (`sentry_init`), so web processes, Celery workers and beat all report, and nothing is sent
when SENTRY_DSN is empty. Nothing personal leaves: no user, IP address or cookie (`send_default_pii=False`), no request
bodies (`max_request_body_size="never"`) nor local variables, and `scrub_event` removes what could still carry a
message body, a phone number or a credential: request data, query strings and auth headers, Celery task arguments,
and any phone number in the remaining text (exception messages, log lines, breadcrumbs).
"""

import re
from typing import Any

# Phone numbers as they appear in this project: E.164 (+855...), Cambodian national form (012 345 678), with or
# without spaces or dashes.
PHONE_NUMBER = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s-]?|0)\d{1,3}(?:[\s-]?\d{2,4}){2,3}(?!\w)")
PHONE_MASK = "[phone]"
# Headers that carry credentials: API keys, JWTs, session cookies, webhook signatures, the metrics token.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-csrftoken",
        "x-peerpower-signature",
        "peerpower-signature",
    }
)
FILTERED = "[Filtered]"


def _scrub_text(value: Any) -> Any:
    """Phone numbers masked in every string of a JSON-like value, recursively."""
    if isinstance(value, str):
        return PHONE_NUMBER.sub(PHONE_MASK, value)
    if isinstance(value, dict):
        return {key: _scrub_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_text(item) for item in value]
    return value


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry's `before_send` (and `before_send_transaction`): the event without bodies, credentials or numbers."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: (FILTERED if name.lower() in SECRET_HEADERS else value) for name, value in headers.items()
            }
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    # Celery's integration attaches the task's arguments: message bodies and numbers go through tasks as arguments.
    job = event.get("extra", {}).get("celery-job")
    if isinstance(job, dict):
        job.pop("args", None)
        job.pop("kwargs", None)
    event.pop("user", None)
    return _scrub_text(event)


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Breadcrumbs (log lines, SQL, HTTP calls before the error) keep their shape, without phone numbers."""
    if crumb.get("category") == "query":
        crumb.pop("data", None)  # bound parameters, where a database driver reports them
    return _scrub_text(crumb)


def sentry_init(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=traces_sample_rate,
    )
