"""A person's privacy requests: download everything kept about them, or have it erased (docs/privacy-requests.md)."""

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import errors, services
from apps.accounts.services.privacy import export_timestamp
from apps.core.errors import RateLimited
from apps.core.ratelimit import rate_limit
from apps.core.schema import raises


class ExportView(APIView):
    permission_classes = [IsAuthenticated]

    @raises((RateLimited, "Too many exports today (PRIVACY_EXPORT_RATE)."))
    @extend_schema(
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A ZIP of JSON files.")},
        tags=["profile"],
        summary="Download your data",
        description="A ZIP of JSON files with everything PeerPower keeps about you: `profile.json`, "
        "`sessions.json`, `memberships.json`, `audit.json` (entries about you or by you) and, for a provider, "
        "`provider.json`, `sims.json`, `devices.json`, `jobs.json`, `ledger_accounts.json`, `earnings.json`, "
        "`payouts.json`, `payout_accounts.json`. Streamed; audited; a few per day (`PRIVACY_EXPORT_RATE`).",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        rate_limit(group="privacy.export", key=str(request.user.pk), rate=settings.PRIVACY_EXPORT_RATE)
        chunks = services.user_export(user=request.user, actor=request.user)
        response = StreamingHttpResponse(chunks, content_type="application/zip")
        name = f"peerpower-data-{request.user.pk}-{export_timestamp()}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ErasureView(APIView):
    permission_classes = [IsAuthenticated]

    @raises((errors.ErasureMoneyInFlight, "A payout, a ledger hold or a job is still open; ask again later."))
    @extend_schema(
        request=None,
        responses={200: inline_serializer("ErasureOutput", {"erased": serializers.BooleanField()})},
        tags=["profile"],
        summary="Erase your personal data",
        description="Deletes your sessions and devices and replaces your phone number, names, SIM numbers and "
        "payout details by opaque tokens; you are signed out everywhere and cannot sign in again with this "
        "account. Ledger amounts, jobs and payouts are kept under opaque ids (accounting records). Refused with "
        "409 `erasure_money_in_flight` while money is in flight. Irreversible.",
    )
    def post(self, request: Request) -> Response:
        services.user_erase(user=request.user, actor=request.user)
        return Response({"erased": True})
