"""A hot endpoint's ordinary requests served without DRF's per-request machinery, with the same answers.

DRF wraps every request: a `Request` object, content negotiation, the authenticator, permission and throttle classes
as instances, the response's renderer context and headers. On the single send (`POST /api/messages/send`, the API's
hottest endpoint) that machinery — beyond the authentication itself — was about 0.1 ms of CPU per request, against
about 1.5 ms for the whole send (benchmarks/RESULTS.md). `LeanPostView` serves a POST of JSON by calling the view's
`lean_post(request, principal, data)` directly, with the view's own authenticator, permissions and parser, and
answers with DRF's JSON renderer and the project's exception handler, byte for byte as DRF would.

Only requests whose answer DRF's machinery could not change take that way. Every other one goes to the DRF view,
before anything with a side effect has run: another method; a body that is not `application/json` (UTF-8), too large,
or asked for in another format (`Accept`, a query string); a missing or refused credential, or a principal the
permissions refuse (DRF answers those 401/403 with its headers); a view with a throttle scope it does not count itself.

A view whose DRF `initial` does more after authentication and permissions does it in `lean_initial` too, before the
body is parsed, as DRF does it before the view reads `request.data`. Such a view may count its rate limit there itself
(`lean_counts_rate`: the phone's views, apps.delivery.api.views, count it in the round trip that checks the session
and marks the heartbeat); its refusal (429 with Retry-After) is answered through the exception handler as DRF would.

A view may take its credential from this process's cache without reading the shared version first
(`lean_deferred_credentials`, apps.core.local_cache.VersionCheck; or an authenticator of its own that does, as the
phone's `SessionJWTAuthentication(deferred=True)`): it then settles the check in a round trip it makes anyway, before
anything has an effect (the send verifies it in the script that counts its limits, the phone's views in their
`lean_initial`). A check that
fails there, or on an answer refused before it was settled, sends the request to the DRF view, which authenticates
afresh and answers (401 for a revoked key) — nothing had happened on the stale credential's behalf.
"""

import io
from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from apps.core.api import exception_handler
from apps.core.local_cache import VersionStale
from apps.core.throttling import ScopedRateLimit, scope_rate

# What `Accept` may say for the lean way: values for which DRF's negotiation picks the view's first renderer (JSON).
_ACCEPTS_JSON = ("", "*/*", "application/json", "application/*")


class LeanPostView(APIView):
    """An APIView whose ordinary POSTs skip DRF's request machinery. Subclasses implement `lean_post`, and their
    DRF `post` answers through it too (`lean_response`), so both ways run one piece of code."""

    lean_renderer: ClassVar[JSONRenderer] = JSONRenderer()
    # The principal's `credential_check` (the authenticator's `authenticate_deferred`) is settled by `lean_post`
    # before anything it does has an effect (module docstring).
    lean_deferred_credentials: ClassVar[bool] = False
    # Its `lean_initial` counts the view's rate limit scope itself (and its DRF path counts it the same way, not in
    # `check_throttles`): a scope with a rate then does not send its requests to DRF.
    lean_counts_rate: ClassVar[bool] = False

    def lean_initial(self, request: HttpRequest, principal: Any) -> None:
        """What the view's DRF `initial` does after authentication and permissions, before the body is read (here:
        nothing). Raise an APIException to refuse, VersionStale to send the request to the DRF view."""

    def lean_post(self, request: HttpRequest, principal: Any, data: Any) -> tuple[int, Any]:
        """The POST's work: (status, JSON body). Raise a DomainError or APIException to refuse."""
        raise NotImplementedError

    def post(self, request: Any) -> Any:
        from rest_framework.response import Response

        status, body = self.lean_post(request, request.user, request.data)
        return Response(body, status=status)

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponse]:
        drf_view = super().as_view(**initkwargs)
        prototype = cls(**initkwargs)
        if not _lean_capable(prototype):
            return drf_view
        # The view's own authenticator, as DRF's Request gets it (`get_authenticators`: configured or built).
        [authenticator] = prototype.get_authenticators()
        [parser_class] = cls.parser_classes
        parser = parser_class()
        authenticate = (
            authenticator.authenticate_deferred if cls.lean_deferred_credentials else authenticator.authenticate
        )
        # Allow (and Vary: Accept with more than one renderer), as DRF's finalize_response adds them.
        headers = prototype.default_response_headers

        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not _ordinary_post(request, parser.media_type):
                return drf_view(request, *args, **kwargs)
            try:
                authenticated = authenticate(request)
            except APIException:
                authenticated = None
            if authenticated is None:
                return drf_view(request, *args, **kwargs)  # DRF answers 401 with its WWW-Authenticate header
            request.user = authenticated[0]  # as DRF's Request sets it on the request it wraps
            instance = cls(**initkwargs)
            instance.request, instance.args, instance.kwargs = request, args, kwargs
            if not all(permission().has_permission(request, instance) for permission in cls.permission_classes):
                return drf_view(request, *args, **kwargs)
            check = getattr(authenticated[0], "credential_check", None)
            try:
                instance.lean_initial(request, authenticated[0])
                data = parser.parse(io.BytesIO(request.body), parser.media_type, {"request": request})
                status, body, extra = *instance.lean_post(request, authenticated[0], data), {}
            except VersionStale:
                return drf_view(request, *args, **kwargs)  # refused before any effect: authenticated afresh there
            except Exception as exc:
                response = exception_handler(exc, {"request": request, "view": instance})
                if response is None:
                    raise  # as DRF does: Django's handler answers (a JSON 500, apps.core.views)
                if check is not None and not check.verify():
                    return drf_view(request, *args, **kwargs)  # refused before its check: nothing happened
                # Its own headers (Retry-After, WWW-Authenticate); the content type is the renderer's, as in DRF.
                extra = {name: value for name, value in response.items() if name.lower() != "content-type"}
                status, body = response.status_code, response.data
            else:
                if check is not None and not check.verified:
                    raise RuntimeError(f"{cls.__name__} answered without settling its credential check")
            response = HttpResponse(
                cls.lean_renderer.render(body), status=status, content_type=cls.lean_renderer.media_type
            )
            for name, value in {**headers, **extra}.items():
                response[name] = value
            return response

        # What URL resolution, CSRF and the API schema read off a DRF view.
        view.cls = drf_view.cls  # type: ignore[attr-defined]
        view.initkwargs = drf_view.initkwargs  # type: ignore[attr-defined]
        view.view_class = drf_view.view_class  # type: ignore[attr-defined]
        view.view_initkwargs = drf_view.view_initkwargs  # type: ignore[attr-defined]
        view.csrf_exempt = True  # type: ignore[attr-defined]
        return view


def _lean_capable(view: LeanPostView) -> bool:
    authenticators = view.get_authenticators()
    return (
        len(authenticators) == 1
        and (not view.lean_deferred_credentials or hasattr(authenticators[0], "authenticate_deferred"))
        and len(view.parser_classes) == 1
        # JSON first: what DRF's negotiation picks for the `Accept` values the lean way serves.
        and bool(view.renderer_classes)
        and view.renderer_classes[0] is JSONRenderer
        and (
            view.lean_counts_rate
            # Without a scope ScopedRateLimit counts nothing.
            or (not scope_rate(view) and all(throttle is ScopedRateLimit for throttle in view.throttle_classes))
        )
    )


def _ordinary_post(request: HttpRequest, media_type: str) -> bool:
    """A POST of a UTF-8 JSON body within the size limit, answered in JSON: nothing DRF's negotiation or parser
    selection would decide otherwise."""
    if request.method != "POST" or request.META.get("QUERY_STRING"):
        return False
    content_type = request.META.get("CONTENT_TYPE", "").lower().replace(" ", "")
    if content_type not in (media_type, f"{media_type};charset=utf-8"):
        return False
    if request.META.get("HTTP_ACCEPT", "").replace(" ", "") not in _ACCEPTS_JSON:
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
