"""The application's URLs plus the framework's floor for the ingest benchmark: a DRF view that authenticates the
API key exactly as `POST /api/messages/send` does and inserts one row, and nothing else; and the send endpoint
served by DRF alone, without its lean way (`/bench/send-drf`). Benchmark-only: served by
`benchmarks/ingest.py`'s own server, never by the project's URLconf."""

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.base import IsApiClient
from apps.accounts.authentication import ApiKeyAuthentication
from apps.audit.models import AuditLog
from apps.messaging.api.views import MessageSendView


class FloorView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsApiClient]

    def post(self, request: Request) -> Response:
        row = AuditLog.objects.create(
            actor_label="bench", action="bench.floor", target_type="bench", after={"to": request.data.get("to")}
        )
        return Response({"id": row.pk}, status=202)


urlpatterns = [
    path("bench/floor", FloorView.as_view()),
    # The send endpoint through DRF's machinery only (as it was served before apps.core.lean), for comparison.
    path("bench/send-drf", APIView.as_view.__func__(MessageSendView)),
    path("", include("peerpower.urls")),
]
