"""The payouts API of the provider app (JWT) and the outside APIs' callbacks. Views translate: input serializer →
one service or selector → output serializer."""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.errors import WalletNotBound
from apps.core.etag import etag_response
from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.incentives.models import Payout, PayoutAccount
from apps.incentives.payouts import errors, selectors, services
from apps.incentives.payouts.choices import PayoutCurrency, PayoutMethod
from apps.providers.errors import ProviderNotRegistered
from apps.providers.selectors import provider_for_user
from apps.tokens.errors import WithdrawalDailyLimitExceeded
from apps.tokens.services import MAX_AMOUNT

NOT_REGISTERED = (ProviderNotRegistered, "You have not registered as a provider.")


class PayoutInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=PayoutMethod.choices)
    amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT, help_text="PPT in units of 10⁻⁶ PPT.")
    sim_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62, help_text="Airtime: which verified SIM (default: the first)."
    )
    account_id = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62, help_text="Cash: which account (default: the latest)."
    )
    # Wallet: no destination to give; the PPT goes to the EVM address bound to you.


class PayoutOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    account_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Payout
        fields = [
            "id",
            "method",
            "status",
            "amount",
            "currency",
            "fiat_amount",
            "msisdn",
            "account_id",
            "approval_required",
            "pending_reason",
            "failure_reason",
            "rejection_reason",
            "created_at",
            "finished_at",
        ]


class LimitsOutputSerializer(serializers.Serializer):
    available = serializers.IntegerField(help_text="Posted earnings you can cash out now (10⁻⁶ PPT).")
    minimum = serializers.IntegerField()
    minimums = serializers.DictField(
        child=serializers.IntegerField(), help_text="The minimum by method (a wallet payout's is also a withdrawal's)."
    )
    daily_limit = serializers.IntegerField()
    daily_max_count = serializers.IntegerField()
    approval_above = serializers.IntegerField(help_text="Payouts above this wait for a staff member's approval.")
    used_today = serializers.IntegerField()
    payouts_today = serializers.IntegerField()
    remaining_today = serializers.IntegerField()
    methods = serializers.ListField(child=serializers.CharField())


class AccountInputSerializer(serializers.Serializer):
    account_number = serializers.RegexField(r"^\d{6,20}$", help_text="The bank account number, digits only.")
    holder_name = serializers.CharField(max_length=100)
    currency = serializers.ChoiceField(choices=PayoutCurrency.choices, default=PayoutCurrency.USD)


class AccountOutputSerializer(serializers.ModelSerializer):
    whitelisted = serializers.SerializerMethodField()

    class Meta:
        model = PayoutAccount
        fields = ["id", "account_number", "holder_name", "currency", "whitelisted", "whitelist_error", "created_at"]

    def get_whitelisted(self, account: PayoutAccount) -> bool:
        return account.whitelisted_at is not None


class CallbackSerializer(serializers.Serializer):
    customIdentifier = serializers.CharField(required=False, max_length=64)
    tran_id = serializers.CharField(required=False, max_length=64)


class PayoutPagination(CursorPagination):
    page_size = 20
    ordering = ("-created_at", "-id")


class PayoutListView(APIView):
    pagination_class = PayoutPagination

    @raises(NOT_REGISTERED)
    @extend_schema(
        operation_id="payouts_list",
        responses={200: PayoutOutputSerializer(many=True), 304: None},
        tags=["payouts"],
        summary="Your payouts",
        description="Newest first, cursor-paginated; answered 304 to `If-None-Match` while the page is unchanged. "
        "A `pending` payout's outcome is not known yet (`pending_reason`): it is checked with the service and "
        "never sent twice.",
    )
    def get(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.payouts_of(provider), request, view=self)
        response = paginator.get_paginated_response(PayoutOutputSerializer(page, many=True).data)
        fingerprint = "|".join(f"{payout.pk}:{payout.status}" for payout in page) + f"|{response.data['next']}"
        return etag_response(request, response, fingerprint)

    @raises(
        NOT_REGISTERED,
        errors.PayoutBelowMinimum,
        errors.PayoutAmountTooSmall,
        errors.PayoutAboveAvailable,
        errors.PayoutDailyLimitExceeded,
        errors.PayoutNumberUnverified,
        errors.PayoutAccountNotWhitelisted,
        (errors.PayoutAccountNotFound, "Cash: you have no payout account (or not this one)."),
        (WalletNotBound, "Wallet: no EVM address is bound to you (bind one with Sign-In with Ethereum first)."),
        (WithdrawalDailyLimitExceeded, "Wallet: this would pass your wallet's withdrawal limit for 24 hours."),
        errors.PayoutRateMissing,
    )
    @extend_schema(
        operation_id="payouts_create",
        request=PayoutInputSerializer,
        responses={201: PayoutOutputSerializer},
        tags=["payouts"],
        summary="Cash out your earnings",
        description="Airtime to one of your verified SIMs, cash to your whitelisted bank account, or PPT to the EVM "
        "wallet bound to you with Sign-In with Ethereum (`wallet`: a withdrawal, paid on chain in the next "
        "settlement batch; its minimum is also the smallest withdrawal's). Only posted earnings count (pending "
        "rewards do not); at least the minimum, within today's limits, which count every method together (see "
        "`GET /api/payouts/limits`). Above the approval amount a staff member approves it first. The PPT is held at "
        "once (a wallet payout's once it is approved); it is spent when the payout succeeds and returned when it "
        "fails or is rejected. A wallet payout is `pending` until its settlement is final on chain.",
        examples=[
            OpenApiExample(
                "Airtime", value={"method": "airtime", "amount": 10_000_000, "sim_id": 12}, request_only=True
            ),
            OpenApiExample("To your wallet", value={"method": "wallet", "amount": 25_000_000}, request_only=True),
            OpenApiExample(
                "To your wallet, waiting for the settlement",
                value={
                    "id": "po_3f9c2a7d1e5b4c8a9d0e1f2a",
                    "method": "wallet",
                    "status": "pending",
                    "amount": 25_000_000,
                    "currency": "PPT",
                    "fiat_amount": 25_000_000,
                    "msisdn": "",
                    "account_id": None,
                    "approval_required": False,
                    "pending_reason": "waiting for the next settlement on chain",
                    "failure_reason": "",
                    "rejection_reason": "",
                    "created_at": "2026-12-05T03:00:00Z",
                    "finished_at": None,
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        data = PayoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payout = services.payout_request(provider=provider, actor=request.user, **data.validated_data)
        return Response(PayoutOutputSerializer(payout).data, status=status.HTTP_201_CREATED)


class PayoutDetailView(APIView):
    @raises(NOT_REGISTERED, errors.PayoutNotFound)
    @extend_schema(
        operation_id="payouts_retrieve",
        responses={200: PayoutOutputSerializer, 304: None},
        tags=["payouts"],
        summary="One of your payouts",
        description="Its state now; answered 304 to `If-None-Match` while it is unchanged.",
    )
    def get(self, request: Request, public_id: str) -> Response:
        payout = selectors.payout_of(provider=provider_for_user(request.user), public_id=public_id)
        response = Response(PayoutOutputSerializer(payout).data)
        return etag_response(request, response, f"{payout.pk}:{payout.status}:{payout.updated_at.isoformat()}")


class PayoutLimitsView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        operation_id="payouts_limits",
        responses={200: LimitsOutputSerializer, 304: None},
        tags=["payouts"],
        summary="What you can cash out",
        description="Your available (posted) earnings, the minimum payout, today's limits and what is left of "
        "them, the amount above which staff approve, and the methods open now. Amounts in 10⁻⁶ PPT. Answered 304 "
        "to `If-None-Match` while nothing changed.",
    )
    def get(self, request: Request) -> Response:
        limits = selectors.payout_limits(provider=provider_for_user(request.user))
        body = {
            **{name: getattr(limits, name) for name in LimitsOutputSerializer().fields if name != "methods"},
            "methods": PayoutMethod.values,
        }
        data = LimitsOutputSerializer(body).data
        return etag_response(request, Response(data), json.dumps(data, sort_keys=True))


class PayoutAccountListView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        operation_id="payouts_accounts_list",
        responses={200: AccountOutputSerializer(many=True)},
        tags=["payouts"],
        summary="Your bank accounts for cash payouts",
        description="Each with whether the payout service has whitelisted it (cash goes only to those).",
    )
    def get(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        accounts = PayoutAccount.objects.filter(provider=provider, active=True)
        return Response(AccountOutputSerializer(accounts, many=True).data)

    @raises(NOT_REGISTERED)
    @extend_schema(
        operation_id="payouts_accounts_create",
        request=AccountInputSerializer,
        responses={201: AccountOutputSerializer},
        tags=["payouts"],
        summary="Register a bank account for cash payouts",
        description="The account is whitelisted with the payout service at once; if that fails, "
        "`whitelist_error` says why and staff can whitelist it again.",
        examples=[
            OpenApiExample(
                "An ABA account",
                value={"account_number": "000123456", "holder_name": "Sok Dara", "currency": "USD"},
                request_only=True,
            ),
            OpenApiExample(
                "Whitelisted",
                value={
                    "id": 7,
                    "account_number": "000123456",
                    "holder_name": "Sok Dara",
                    "currency": "USD",
                    "whitelisted": True,
                    "whitelist_error": "",
                    "created_at": "2026-12-05T03:00:00Z",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        data = AccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.payout_account_register(provider=provider, actor=request.user, **data.validated_data)
        return Response(AccountOutputSerializer(account).data, status=status.HTTP_201_CREATED)


class PayoutCallbackView(APIView):
    """A callback of the airtime or payout API. Nothing in it is trusted but the reference it names: the payout's
    status is asked of the API before anything changes."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @raises((errors.PayoutNotFound, "The callback names no payout of ours."))
    @extend_schema(
        operation_id="payouts_callback",
        request=CallbackSerializer,
        responses={200: None},
        tags=["payouts"],
        summary="Payout callbacks (for the airtime and payout services only)",
        description="The service posts a transaction it settled. Only its reference (`customIdentifier` or "
        "`tran_id`) is read: we ask the service for the status before booking anything.",
    )
    def post(self, request: Request, method: str) -> Response:
        data = CallbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reference = data.validated_data.get("customIdentifier") or data.validated_data.get("tran_id") or ""
        payout = services.payout_callback_receive(method=method, reference=reference)
        return Response({"received": True, "status": payout.status})
