"""The public page behind the SMS verification suffix (MESSAGE_VERIFICATION_SUFFIX, "…/v/{code}").

The person reading it is the SMS's recipient, on a phone, often on slow mobile data: one small HTML answer (inline
styles, no JavaScript, no fonts or images), Khmer first and English below it. The JSON form is
`GET /api/verify/{code}`; both count against the same per-address limit, so neither is a way around the other.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.core.errors import RateLimited
from apps.core.http import client_ip
from apps.core.ratelimit import rate_limit
from apps.messaging.selectors import verified_sms

VERIFY_RATE_GROUP = "messages.verify.ip"


@never_cache  # an answer is about one SMS: no shared cache keeps it
@require_safe
def verify_page(request: HttpRequest, code: str = "") -> HttpResponse:
    """The form (no code yet), or the check of `code` from the link or the form: 200 with the sender and the day,
    404 "not found" (the same page for unknown and malformed codes), 429 past the per-address limit."""
    code = code or request.GET.get("code", "")
    if not code.strip():
        return render(request, "verify.html", {"checked": False})
    try:
        rate_limit(group=VERIFY_RATE_GROUP, key=client_ip(request), rate=settings.MESSAGE_VERIFY_RATE_PER_IP)
    except RateLimited as limited:
        response = render(request, "verify.html", {"limited": True}, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    sms = verified_sms(code)
    return render(request, "verify.html", {"checked": True, "sms": sms}, status=200 if sms else 404)
