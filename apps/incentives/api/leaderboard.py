"""The week's leaderboard for the provider app (`GET /api/incentives/leaderboard`)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import raises
from apps.incentives.api.earnings import NOT_REGISTERED, etag_response
from apps.incentives.bonuses import Standing, bonus_rule_current, leaderboard, week_bounds, week_label
from apps.incentives.choices import BonusKind, LeaderboardScope
from apps.providers.models import Provider
from apps.providers.selectors import provider_for_user

TOP = 20


class StandingSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    segments = serializers.IntegerField(help_text="Delivered this week (pending verification or verified).")
    score = serializers.IntegerField(help_text="The provider score, 0-1000.")
    you = serializers.BooleanField()


class LeaderboardSerializer(serializers.Serializer):
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W49.")
    scope = serializers.ChoiceField(choices=LeaderboardScope.choices)
    group = serializers.CharField(allow_blank=True, help_text="Your carrier or province, when ranked within one.")
    prizes = serializers.ListField(child=serializers.IntegerField(), help_text="10⁻⁶ PPT, first place first.")
    min_segments = serializers.IntegerField()
    top = StandingSerializer(many=True)
    me = StandingSerializer(allow_null=True, help_text="Your own standing; null until you qualify.")


class LeaderboardView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        responses={200: LeaderboardSerializer, 304: None},
        tags=["earnings"],
        summary="This week's leaderboard",
        description="The top providers of the week so far by delivered segments (ties: the better score), in your "
        "group when the leaderboard ranks per carrier or province, and your own place. Others are not named. "
        "Prizes are paid on verified segments once the week's rewards have posted. ETag and 304 as for earnings.",
    )
    def get(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        week = week_label(timezone.now())
        start, end = week_bounds(week)
        rule = bonus_rule_current(kind=BonusKind.LEADERBOARD, at=start)
        scope = rule.scope if rule else LeaderboardScope.NETWORK
        standings = leaderboard(
            start=start,
            end=end,
            scope=scope,
            min_segments=rule.min_segments if rule else 0,
            min_score=rule.min_score if rule else 0,
            verified_only=False,
        )
        mine = next((standing for standing in standings if standing.provider_id == provider.pk), None)
        group = mine.group if mine else ("" if scope == LeaderboardScope.NETWORK else _own_group(provider, scope))
        in_group = [standing for standing in standings if standing.group == group]

        data = {
            "week": week,
            "scope": scope,
            "group": group,
            "prizes": list(rule.amounts) if rule else [],
            "min_segments": rule.min_segments if rule else 0,
            "top": [_row(standing, provider.pk) for standing in in_group[:TOP]],
            "me": _row(mine, provider.pk) if mine else None,
        }
        return etag_response(request, LeaderboardSerializer(data).data)


def _row(standing: Standing, provider_id: int) -> dict:
    return {
        "rank": standing.rank,
        "segments": standing.segments,
        "score": standing.score,
        "you": standing.provider_id == provider_id,
    }


def _own_group(provider: Provider, scope: str) -> str:
    if scope == LeaderboardScope.PROVINCE:
        return provider.province
    sim = provider.sims.first()
    return sim.carrier if sim else ""
