"""API requests that carry their own credential are served through the middleware they need, not the whole list.

An API client's server (`X-API-Key`, `Authorization: Bearer pp_live_…`) and a provider's phone (`Authorization:
Bearer <JWT>`) send no cookie: their credential is in a header, and DRF checks it in the view. For such a request the
cookie and admin middleware in MIDDLEWARE do nothing but cost CPU (about 0.18 ms per request measured on a trivial
view, more than the project's own middleware): there is no session to load, no user to take from it, no second
factor to check on it, no flash message to carry, no admin login that django-axes could lock out, and no static file
to serve under /api/. `ApiStackMiddleware`, first in MIDDLEWARE, sends those requests through a second chain built
from the same list without them (`SKIPPED_FOR_HEADER_CREDENTIALS`); every other request goes on through the full list.

What stays, in the same order, because it changes an API answer: the project's own middleware (request id, metrics,
NUL refusal, the outage 503), SecurityMiddleware (its headers, the HTTPS redirect), LocaleMiddleware (the language
of error messages, from Accept-Language: Khmer or English; here its cheaper twin, `apps.core.api_locale`),
CommonMiddleware (Content-Length, the slash redirect of a 404), CsrfViewMiddleware (a non-exempt view under /api/
still refuses an unsafe request, in the API's shape) and XFrameOptionsMiddleware (its header). The answers are the
same, headers included (apps/core/tests/test_api_stack.py compares both chains).

Which requests: a path under /api/, an `Authorization` or `X-API-Key` header, and no `Cookie` header at all — any
cookie (a console's session, a CSRF token, a language choice) keeps the request on the full list, so a browser is
never served differently. A skipped middleware's effects are only ever reached through a cookie or the admin:
- WhiteNoise answers STATIC_URL (/static/), never /api/;
- SessionMiddleware loads a session from its cookie (none) and saves one a view touched (API views never do);
- AuthenticationMiddleware and OTPMiddleware set `request.user` from that session: DRF sets it from the header;
- MessageMiddleware carries the admin's flash messages in a cookie or the session;
- AxesMiddleware answers a request that `django.contrib.auth.authenticate` marked as locked out, which only the
  admin's login calls.
"""

from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

SKIPPED_FOR_HEADER_CREDENTIALS = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)

# Served on the API chain by a cheaper twin with the same answers (its module says why).
REPLACED_FOR_HEADER_CREDENTIALS = {
    "django.middleware.locale.LocaleMiddleware": "apps.core.api_locale.ApiLocaleMiddleware",
}

API_PREFIX = "/api/"


def carries_header_credentials(request: HttpRequest) -> bool:
    """An API request authenticated by a header, with no cookie: served without the cookie and admin middleware."""
    meta = request.META
    return (
        request.path_info.startswith(API_PREFIX)
        and not meta.get("HTTP_COOKIE")  # an empty header is no cookie (Django's test client always sends one)
        and ("HTTP_AUTHORIZATION" in meta or "HTTP_X_API_KEY" in meta)
    )


class MiddlewareChain(BaseHandler):
    """Django's request handling (URL resolution, view middleware, exception handling) behind the given middleware,
    built as `BaseHandler.load_middleware` builds MIDDLEWARE's — synchronous middleware only, which all of the
    project's are. Called with a request, it answers it as a handler whose MIDDLEWARE were `middleware` would."""

    def __init__(self, middleware: Sequence[str]) -> None:
        super().__init__()
        self._view_middleware: list[Callable] = []
        self._template_response_middleware: list[Callable] = []
        self._exception_middleware: list[Callable] = []
        handler: Callable[[HttpRequest], HttpResponse] = convert_exception_to_response(self._get_response)
        self.middleware: list[object] = []  # the instances, outermost first
        for path in reversed(middleware):
            factory = import_string(path)
            if not getattr(factory, "sync_capable", True):
                raise RuntimeError(f"{path} cannot run synchronously")
            try:
                instance = factory(handler)
            except MiddlewareNotUsed:
                continue
            # In the order Django keeps them: view middleware outermost first, the other two innermost first.
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
            self.middleware.insert(0, instance)
        self._middleware_chain = handler

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._middleware_chain(request)


class ApiStackMiddleware:
    """First in MIDDLEWARE: a request with header credentials under /api/ goes through the middleware it needs
    (module docstring); any other through the rest of the list."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # What comes after this one in MIDDLEWARE (all of it, as it should be first), less the skipped.
        after = settings.MIDDLEWARE[list(settings.MIDDLEWARE).index(f"{__name__}.{type(self).__name__}") + 1 :]
        self.api_chain = MiddlewareChain(
            [
                REPLACED_FOR_HEADER_CREDENTIALS.get(path, path)
                for path in after
                if path not in SKIPPED_FOR_HEADER_CREDENTIALS
            ]
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if carries_header_credentials(request):
            return self.api_chain(request)
        return self.get_response(request)
