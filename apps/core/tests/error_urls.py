"""Views that raise each kind of error, to pin the one error shape (tests only)."""

from django.http import Http404
from django.urls import include, path
from rest_framework import permissions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import Throttled
from rest_framework.response import Response

from apps.core.errors import Conflict, RateLimited


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=1)


@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def validate(request):
    serializer = EchoSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return Response(serializer.validated_data)


@api_view(["GET"])
def private(request):
    return Response({"ok": True})


class Never(permissions.BasePermission):
    def has_permission(self, request, view):
        return False


@api_view(["GET"])
@permission_classes([Never])
def forbidden(request):
    return Response({})


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def missing(request):
    raise Http404


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def throttled(request):
    raise Throttled(wait=12.2)


@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def conflict(request):
    raise Conflict(code="reference_taken", details={"reference": "abc"})


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def domain_rate_limited(request):
    raise RateLimited(retry_after=30)


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def crash(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path(
        "api/",
        include(
            [
                path("validate", validate),
                path("private", private),
                path("forbidden", forbidden),
                path("missing", missing),
                path("throttled", throttled),
                path("conflict", conflict),
                path("domain-rate-limited", domain_rate_limited),
                path("crash", crash),
            ]
        ),
    ),
]
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
