"""Prices for integrators: what a segment costs now, per priority, route and recipient carrier."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication, SessionJWTAuthentication
from apps.incentives.selectors import price_list

PRICE_LIST_EXAMPLE = {
    "currency": "PPT",
    "unit": "0.000001 PPT",
    "as_of": "2026-12-05T03:00:00Z",
    "prices": [
        {
            "priority": "normal",
            "route": "on_net",
            "base": {"amount": 10000, "decimal": "0.010000"},
            "valid_from": "2026-12-01T00:00:00Z",
            "valid_until": None,
            "carriers": [
                {
                    "carrier": "smart",
                    "multiplier_bp": 10000,
                    "per_segment": {"amount": 10000, "decimal": "0.010000"},
                }
            ],
        }
    ],
}


class PriceListView(APIView):
    # A client system's API key, or a member's JWT (as for the other billing endpoints).
    authentication_classes = [ApiKeyAuthentication, SessionJWTAuthentication]

    @extend_schema(
        responses={200: OpenApiResponse(description="The prices in force.")},
        tags=["billing"],
        summary="Prices per SMS segment",
        description="The base price of one SMS segment in force now for each priority and route (`on_net`: a "
        "provider on the recipient's carrier; `cross_carrier`: another carrier), with the current dynamic "
        "multiplier per recipient carrier (basis points, 10000 = 1.0) and the effective per-segment price, "
        "`ceil(base × multiplier / 10000)`. Amounts are integers in 10⁻⁶ PPT, with a decimal string beside. A "
        "message is held at the dearest route it could take (low priority: on-net only) × its segments when it is "
        "accepted, and charged the route it took × the segments sent when it is delivered. A priority and route "
        "not listed is free.",
        examples=[OpenApiExample("Normal priority, on-net", value=PRICE_LIST_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(price_list())
