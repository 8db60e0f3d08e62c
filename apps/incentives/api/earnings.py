"""The provider app's earnings API: totals, reward history per job, the route multipliers in force. Views translate;
`apps.incentives.earnings` reads. Answers carry an ETag and are 304 to `If-None-Match` while unchanged (phones on
slow mobile data poll them)."""

import hashlib
import json
from typing import Any

from django.utils.http import quote_etag
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.core.serializer_fields import QueryChoiceField
from apps.incentives.choices import RewardStatus
from apps.incentives.earnings import provider_earnings, provider_rewards
from apps.incentives.multipliers import route_multipliers_current
from apps.providers.errors import ProviderNotRegistered
from apps.providers.selectors import provider_for_user

NOT_REGISTERED = (ProviderNotRegistered, "You have not registered as a provider (`POST /api/providers/register`).")


def etag_response(request: Request, data: Any, response: Response | None = None) -> Response:
    """`data` as the answer (or `response`, whose body it is), with an ETag of it; 304 when the phone has it."""
    etag = quote_etag(hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32])
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return Response(status=304, headers={"ETag": etag})
    response = response if response is not None else Response(data)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


class EarningsSerializer(serializers.Serializer):
    scale = serializers.IntegerField(help_text="Decimal places of the amounts' unit: 6 (amounts are 10⁻⁶ PPT).")
    pending = serializers.IntegerField(help_text="Rewards in their verification window.")
    available = serializers.IntegerField(help_text="Posted and yours to cash out.")
    lifetime = serializers.IntegerField(help_text="Every reward posted so far.")
    this_week = serializers.IntegerField(help_text="Rewards booked since Monday 00:00 (Cambodia), pending or posted.")
    owed = serializers.IntegerField(help_text="Clawbacks still to be repaid from your next rewards.")


class EarningsView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        responses={200: EarningsSerializer, 304: None},
        tags=["earnings"],
        summary="Your earnings",
        description="Pending, available, lifetime and this week's earnings in 10⁻⁶ PPT, and any clawback you still "
        "owe. Send the last `ETag` as `If-None-Match`: the answer is 304 while nothing changed.",
    )
    def get(self, request: Request) -> Response:
        earnings = provider_earnings(provider=provider_for_user(request.user))
        data = {
            "scale": 6,
            "pending": earnings.pending,
            "available": earnings.available,
            "lifetime": earnings.lifetime,
            "this_week": earnings.this_week,
            "owed": earnings.owed,
        }
        return etag_response(request, EarningsSerializer(data).data)


class RewardSerializer(serializers.Serializer):
    job = serializers.IntegerField(source="job_id")
    amount = serializers.IntegerField(help_text="10⁻⁶ PPT.")
    status = serializers.ChoiceField(choices=RewardStatus.choices)
    route = serializers.CharField(help_text="on_net or cross_carrier.")
    segments = serializers.IntegerField()
    surge_bp = serializers.IntegerField(help_text="The route's multiplier then, in basis points (10000 = ×1).")
    share_bp = serializers.IntegerField(help_text="Your share: below 10000 while you are establishing.")
    booked_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(help_text="When it posts, unless a fraud strike voids it first.")
    settled_at = serializers.DateTimeField(allow_null=True)
    void_reason = serializers.CharField(allow_blank=True)
    repaid = serializers.IntegerField(source="clawback_recovered", help_text="Of it, repaid toward a clawback.")


class RewardQuerySerializer(serializers.Serializer):
    status = QueryChoiceField(choices=RewardStatus.choices, required=False)


class RewardPagination(CursorPagination):
    page_size = 30
    ordering = ("-booked_at", "-id")


class RewardListView(APIView):
    pagination_class = RewardPagination

    @raises(NOT_REGISTERED)
    @extend_schema(
        parameters=[RewardQuerySerializer],
        responses={200: RewardSerializer(many=True), 304: None},
        tags=["earnings"],
        summary="Your rewards, per job",
        description="One row per delivered job, newest first, cursor-paginated: amount, status (pending in its "
        "verification window, posted, or voided by a fraud strike), route, segments, multiplier and share. "
        "ETag and 304 as for your earnings.",
    )
    def get(self, request: Request) -> Response:
        query = RewardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rewards = provider_rewards(provider=provider_for_user(request.user), status=query.validated_data.get("status"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rewards, request, view=self)
        response = paginator.get_paginated_response(RewardSerializer(page, many=True).data)
        return etag_response(request, response.data, response)


class MultiplierSerializer(serializers.Serializer):
    carrier = serializers.CharField()
    route = serializers.CharField(help_text="on_net or cross_carrier.")
    multiplier_bp = serializers.IntegerField(help_text="10000 = ×1; 12500 = rewards and prices ×1.25 now.")


class MultiplierListView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        responses={200: MultiplierSerializer(many=True), 304: None},
        tags=["earnings"],
        summary="Route multipliers now",
        description="Where demand outruns the phones online, rewards rise: the multiplier in force per recipient "
        "carrier and route, recomputed every minute, smoothed and bounded by the network's floor and ceiling.",
    )
    def get(self, request: Request) -> Response:
        provider_for_user(request.user)
        return etag_response(request, MultiplierSerializer(route_multipliers_current(), many=True).data)
