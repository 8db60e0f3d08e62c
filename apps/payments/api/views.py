"""Top-ups: clients create and follow them; Baray notifies us. Views translate; services decide."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication, SessionJWTAuthentication
from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.payments import errors
from apps.payments.api.serializers import (
    BarayWebhookSerializer,
    TopUpCreateSerializer,
    TopUpQuerySerializer,
    TopUpSerializer,
)
from apps.payments.representation import topup_output
from apps.payments.selectors import topup_of, topup_organization, topups_of
from apps.payments.services import baray_webhook_receive, topup_create

AMOUNT_ERRORS = (
    errors.AmountInvalid,
    errors.AmountNotPositive,
    errors.AmountTooPrecise,
    errors.AmountBelowMinimum,
    errors.AmountAboveMaximum,
    errors.CurrencyUnsupported,
)
TOPUP_PENDING = {
    "id": "tu_8f3k2m",
    "organization": 12,
    "status": "pending",
    "method": "aba_khqr",
    "amount": {"amount": 1050, "decimal": "10.50"},
    "currency": "USD",
    "ppt": {"amount": 10500000, "decimal": "10.500000"},
    "rate": {"ppt_per_unit": "1", "rate_id": 3},
    "checkout_url": "https://pay.baray.io/6650c2a1f0c3b2a4d5e6f7a8",
    "khqr": "00020101021229370016abaakhppxxx@abaa01151234567890123450208ABA Bank5204599953038405405 10.50",
    "deeplink": "abamobilebank://ababank.com?type=payway&qrcode=000201010212",
    "failure_reason": "",
    "created_at": "2026-12-05T02:30:00Z",
    "expires_at": "2026-12-05T03:00:00Z",
    "settled_at": None,
}
TOPUP_SUCCEEDED = {**TOPUP_PENDING, "status": "succeeded", "settled_at": "2026-12-05T02:31:12Z"}


class TopUpApiView(APIView):
    # A client system's API key, or a member's JWT (as for the wallet).
    authentication_classes = [ApiKeyAuthentication, SessionJWTAuthentication]


class TopUpPagination(CursorPagination):
    page_size = 30
    ordering = ("-created_at", "-id")


class TopUpListView(TopUpApiView):
    pagination_class = TopUpPagination

    @raises(errors.OrganizationNotFound)
    @extend_schema(
        parameters=[TopUpQuerySerializer],
        responses={200: TopUpSerializer(many=True)},
        tags=["billing"],
        summary="List your top-ups",
        description="Your organisation's top-ups, newest first, in every state: `pending` (waiting for the payer), "
        "`succeeded` (the PPT is in your wallet), `failed`, `expired`. Filter by `status`; a member of several "
        "organisations names one with `organization`.",
        examples=[OpenApiExample("A paid top-up", value=TOPUP_SUCCEEDED, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = TopUpQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = topup_organization(
            principal=request.user, organization_id=query.validated_data.get("organization")
        )
        topups = topups_of(organization=organization)
        if "status" in query.validated_data:
            topups = topups.filter(status=query.validated_data["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(topups, request, view=self)
        return paginator.get_paginated_response([topup_output(topup) for topup in page])

    @raises(
        *AMOUNT_ERRORS,
        errors.OrganizationNotFound,
        errors.ExchangeRateUnavailable,
        errors.PaymentProviderUnavailable,
        errors.PaymentProviderRefused,
    )
    @extend_schema(
        request=TopUpCreateSerializer,
        responses={201: TopUpSerializer},
        tags=["billing"],
        summary="Buy PPT (a top-up through Baray)",
        description="Creates a Baray payment for `amount` in `currency` (KHR or USD) and answers with where to pay: "
        "`checkout_url` (any method) and, for `aba_khqr`, the KHQR string and the ABA Mobile deeplink. The PPT "
        "amount is fixed now, by the exchange rate in force (`rate`). The PPT reaches your wallet once Baray confirms "
        "the payment to us; follow it with `GET /api/billing/topups/{id}` or the `payment.succeeded` / "
        "`payment.failed` webhook events.",
        examples=[
            OpenApiExample(
                "USD 10.50 by ABA KHQR",
                value={"amount": "10.50", "currency": "USD", "method": "aba_khqr"},
                request_only=True,
            ),
            OpenApiExample("Waiting for the payer", value=TOPUP_PENDING, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        data = TopUpCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        organization = topup_organization(principal=request.user, organization_id=fields.pop("organization", None))
        topup = topup_create(organization=organization, **fields)
        return Response(topup_output(topup), status=201)


class TopUpDetailView(TopUpApiView):
    @raises(errors.OrganizationNotFound, errors.TopUpNotFound)
    @extend_schema(
        parameters=[TopUpQuerySerializer],
        responses={200: TopUpSerializer},
        tags=["billing"],
        summary="A top-up",
        description="One of your top-ups with its state; `settled_at` is when its PPT reached your wallet.",
        examples=[OpenApiExample("A paid top-up", value=TOPUP_SUCCEEDED, response_only=True)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        query = TopUpQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = topup_organization(
            principal=request.user, organization_id=query.validated_data.get("organization")
        )
        return Response(topup_output(topup_of(organization=organization, public_id=public_id)))


class BarayWebhookView(APIView):
    """Baray's payment notification: no credentials (Baray sends none); the service trusts nothing in it but the
    order id it decrypts, and asks Baray before anything changes."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @raises(errors.NotificationInvalid)
    @extend_schema(
        request=BarayWebhookSerializer,
        responses={200: None},
        tags=["billing"],
        summary="Baray's payment notification (for Baray only)",
        description="Baray posts the encrypted order id of a payment here. Nothing in it is trusted: we decrypt "
        "it, ask Baray for the payment's status and amount, and only then issue PPT, once per payment. Any "
        "notification we cannot act on gets one answer, `notification_invalid`; 503 while Baray cannot confirm, so "
        "that Baray sends it again.",
        examples=[
            OpenApiExample(
                "A notification", value={"encrypted_order_id": "q1w2e3r4t5y6u7i8o9p0aA=="}, request_only=True
            )
        ],
    )
    def post(self, request: Request) -> Response:
        outcome = baray_webhook_receive(body=request.body)
        return Response({"received": True, "outcome": outcome})
