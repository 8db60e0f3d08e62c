"""The base of every endpoint a client system calls with its API key (messages, webhooks): accounts owns API keys,
so the apps above it build their client endpoints on this instead of on each other's views."""

from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.accounts.authentication import ApiClient, ApiKeyAuthentication


class IsApiClient(IsAuthenticated):
    """Only requests made with an API key (a client system), not a signed-in person's token."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, ApiClient)


class ClientApiView(APIView):
    """An endpoint for client systems: API key only; `request.user` is the `ApiClient`."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsApiClient]
