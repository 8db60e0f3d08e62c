"""An endpoint authenticated by API key only, as the messaging API will be (tests only)."""

from django.urls import include, path
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apps.accounts.authentication import ApiKeyAuthentication


@api_view(["GET"])
@authentication_classes([ApiKeyAuthentication])
@permission_classes([IsAuthenticated])
def whoami(request):
    return Response({"client": request.user.organization.pk, "key": request.auth.pk})


urlpatterns = [path("api/whoami", whoami), path("", include("peerpower.urls"))]
