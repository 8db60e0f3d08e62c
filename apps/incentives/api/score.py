"""The provider's score with its parts (`GET /api/providers/me/score`): routed here, where it is computed, since
providers sits below incentives."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import raises
from apps.incentives.api.earnings import NOT_REGISTERED, etag_response
from apps.incentives.scores import SCORE_WEIGHTS, provider_scores
from apps.providers.selectors import provider_for_user


class ScorePartsSerializer(serializers.Serializer):
    reputation = serializers.FloatField(help_text="Your reputation, 0-1.")
    delivery = serializers.FloatField(help_text="Verified delivery rate, 0-1.")
    latency = serializers.FloatField(help_text="1 when you deliver within 15 s of the offer, 0 at 5 minutes.")
    uptime = serializers.FloatField(help_text="Share of the last 7 days online.")
    strikes = serializers.FloatField(help_text="1 without fraud strikes in the last 30 days.")


class ScoreSerializer(serializers.Serializer):
    score = serializers.IntegerField(help_text="0-1000: the weighted sum of the parts. Matching gives more work to "
                                     "higher scores, in proportion.")  # fmt: skip
    parts = ScorePartsSerializer()
    weights = serializers.DictField(child=serializers.IntegerField(), help_text="Each part's weight, of 1000.")
    computed_at = serializers.DateTimeField(allow_null=True, help_text="When matching's copy was last computed.")


class ScoreView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        responses={200: ScoreSerializer, 304: None},
        tags=["earnings"],
        summary="Your provider score",
        description="One number from your reputation, verified delivery rate, latency, uptime and fraud strikes, "
        "with each part: the better it is, the more work matching gives you. Recomputed every 15 minutes; this "
        "answer computes it now. ETag and 304 as for your earnings.",
    )
    def get(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        score = provider_scores(providers=[provider])[provider.pk]
        data = {
            "score": score.score,
            "parts": score.parts,
            "weights": SCORE_WEIGHTS,
            "computed_at": provider.score_computed_at,
        }
        return etag_response(request, ScoreSerializer(data).data)
