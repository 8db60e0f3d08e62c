"""LocaleMiddleware for the API chain (apps.core.api_stack): the same language, the same headers, less work.

An API request answers in the language its Accept-Language asks for, Khmer or English, and its answer carries
`Content-Language` and `Vary: Accept-Language`, as through Django's LocaleMiddleware. That middleware also looks
for a language prefix in the path, twice per request (a regular expression and a look-up each time), which only
matters when the URLconf uses `i18n_patterns`; the project's does not, and on the single send that look-up was most
of the middleware's cost (the largest left on the API chain). Here it is skipped when the URLconf has no language
prefix patterns — the answer is then the same as Django's, which under that condition never uses the path's
language — and Django's own middleware answers otherwise, and when the request carries a cookie (a language cookie
would choose the language; the API chain takes no request with a cookie anyway).
"""

from collections.abc import Callable

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers


class ApiLocaleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.django = LocaleMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        if request.META.get("HTTP_COOKIE") or is_language_prefix_patterns_used(urlconf)[0]:
            return self.django(request)
        # As LocaleMiddleware.process_request without prefix patterns: Accept-Language, else LANGUAGE_CODE.
        translation.activate(translation.get_language_from_request(request, check_path=False))
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        # As its process_response without prefix patterns (no redirect to a prefixed path, always the Vary).
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
