"""The wallet API: the caller's balances and history. A provider (JWT) sees theirs, a client system (API key) or a
member (JWT) sees the organisation's. Views translate; selectors decide whose wallet it is."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import ApiClient, ApiKeyAuthentication, SessionJWTAuthentication
from apps.accounts.errors import WalletNotBound
from apps.core.etag import etag_response
from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.tokens.api.serializers import (
    TransactionQuerySerializer,
    TransactionSerializer,
    WalletQuerySerializer,
    WalletSerializer,
    WithdrawalCreateSerializer,
    WithdrawalQuerySerializer,
    WithdrawalSerializer,
    amount_data,
)
from apps.tokens.errors import (
    OrganizationRequired,
    WalletNotFound,
    WithdrawalBelowMinimum,
    WithdrawalDailyLimitExceeded,
    WithdrawalExceedsBalance,
    WithdrawalNotFound,
)
from apps.tokens.selectors import (
    ZERO,
    account_balance,
    account_transfers,
    wallet_of,
    wallet_owner,
    withdrawal_address,
    withdrawal_of,
    withdrawals_of,
)
from apps.tokens.services import withdrawal_request

WALLET_ERRORS = (
    OrganizationRequired,
    (WalletNotFound, "There is no wallet of this ledger for you (an organisation you do not belong to, say)."),
)


class WalletApiView(APIView):
    # An API key (client systems) or a signed-in person's JWT (providers, client members).
    authentication_classes = [ApiKeyAuthentication, SessionJWTAuthentication]


class WalletView(WalletApiView):
    @raises(*WALLET_ERRORS)
    @extend_schema(
        parameters=[WalletQuerySerializer],
        responses={200: WalletSerializer},
        tags=["wallet"],
        summary="Your balances",
        description="Available, pending-in and pending-out amounts of your wallet on a ledger (as decimal strings "
        "with the ledger's `scale`). A provider sees their earnings; an API key or a member sees the organisation's.",
    )
    def get(self, request: Request) -> Response:
        query = WalletQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wallet = wallet_of(principal=request.user, **query.validated_data)
        balance = account_balance(wallet.account) if wallet.account is not None else ZERO
        data = {
            "ledger": wallet.ledger,
            "scale": wallet.scale,
            "owner": wallet.owner,
            "organization": wallet.organization_id,
            "available": amount_data(balance.available, wallet.scale),
            "pending_in": amount_data(balance.pending_in, wallet.scale),
            "pending_out": amount_data(balance.pending_out, wallet.scale),
        }
        return Response(WalletSerializer(data).data)


class TransactionPagination(CursorPagination):
    page_size = 30
    ordering = ("-created_at", "-id")


class WalletTransactionsView(WalletApiView):
    """Newest first, cursor-paginated; answered 304 to `If-None-Match` while the page has not changed."""

    # Declared on the class so that the schema documents the paginated envelope, not a bare list.
    pagination_class = TransactionPagination

    @raises(*WALLET_ERRORS)
    @extend_schema(
        parameters=[TransactionQuerySerializer],
        responses={200: TransactionSerializer(many=True), 304: None},
        tags=["wallet"],
        summary="Your wallet's history",
    )
    def get(self, request: Request) -> Response:
        query = TransactionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters: dict[str, Any] = dict(query.validated_data)
        wallet = wallet_of(
            principal=request.user, ledger=filters.pop("ledger"), organization=filters.pop("organization", None)
        )
        paginator = self.pagination_class()
        if wallet.account is None:
            page: list = []
            paginator.paginate_queryset(account_transfers(0), request, view=self)
        else:
            page = paginator.paginate_queryset(account_transfers(wallet.account, **filters), request, view=self)
        context = {"account_id": wallet.account.pk if wallet.account else 0, "scale": wallet.scale}
        response = paginator.get_paginated_response(TransactionSerializer(page, many=True, context=context).data)
        # A transfer's only change is a pending one's status, so ids and statuses fingerprint the page.
        fingerprint = "|".join(f"{transfer.pk}:{transfer.status}" for transfer in page) + f"|{response.data['next']}"
        return etag_response(request, response, fingerprint)


WITHDRAWAL_SETTLED = {
    "id": "wd_5f0c2a9be41d7c3a88e0f1b2",
    "amount": {"amount": 25000000, "decimal": "25.000000"},
    "address": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
    "state": "settled",
    "tx_hash": "0x9c1e4f1a3b5d7e9f0a2c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d",
    "tx_state": "confirmed",
    "block_number": 4182113,
    "created_at": "2026-12-05T02:30:00Z",
    "settled_at": "2026-12-05T02:30:21Z",
}
WITHDRAWAL_REQUESTED = {
    **WITHDRAWAL_SETTLED,
    "state": "requested",
    "tx_hash": None,
    "tx_state": None,
    "block_number": None,
    "settled_at": None,
}


def withdrawal_data(withdrawal: Any, scale: int) -> dict[str, Any]:
    tx = withdrawal.batch.chain_transaction if withdrawal.batch_id else None
    return {
        "public_id": withdrawal.public_id,
        "amount": amount_data(withdrawal.amount, scale),
        "address": withdrawal.address,
        "state": withdrawal.state,
        "tx_hash": tx.tx_hash if tx else None,
        "tx_state": tx.state if tx else None,
        "block_number": tx.block_number if tx else None,
        "created_at": withdrawal.created_at,
        "settled_at": withdrawal.settled_at,
    }


class WithdrawalPagination(CursorPagination):
    page_size = 30
    ordering = ("-created_at", "-id")


class WithdrawalListView(WalletApiView):
    pagination_class = WithdrawalPagination

    @raises(*WALLET_ERRORS)
    @extend_schema(
        parameters=[WithdrawalQuerySerializer],
        responses={200: WithdrawalSerializer(many=True)},
        tags=["wallet"],
        summary="Your withdrawals",
        description="Withdrawals of PPT from your wallet to your bound EVM address, newest first, with the "
        "settlement transaction's hash and state.",
        examples=[OpenApiExample("A settled withdrawal", value=WITHDRAWAL_SETTLED, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = WithdrawalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wallet = wallet_of(principal=request.user, organization=query.validated_data.get("organization"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(withdrawals_of(wallet.account), request, view=self)
        data = [withdrawal_data(withdrawal, wallet.scale) for withdrawal in page]
        return paginator.get_paginated_response(WithdrawalSerializer(data, many=True).data)

    @raises(
        *WALLET_ERRORS,
        (WalletNotBound, "No EVM address is bound to you (bind one with Sign-In with Ethereum first)."),
        WithdrawalBelowMinimum,
        WithdrawalExceedsBalance,
        WithdrawalDailyLimitExceeded,
    )
    @extend_schema(
        request=WithdrawalCreateSerializer,
        responses={201: WithdrawalSerializer},
        tags=["wallet"],
        summary="Withdraw PPT to your wallet",
        description="Takes `amount` PPT (in 10⁻⁶ PPT units) out of your PeerPower wallet to the EVM address bound to "
        "you with Sign-In with Ethereum (a provider's or member's own; for an API key, the address of the member who "
        "created the key). The amount is held at once and paid on the Selendra chain in the next settlement batch; "
        "the withdrawal is `settled` once that transaction is final, or `failed` (the amount returns to your wallet) "
        "if it reverts. There is a minimum per withdrawal and a limit per 24 hours.",
        examples=[
            OpenApiExample("Withdraw 25 PPT", value={"amount": 25000000}, request_only=True),
            OpenApiExample("Booked, waiting for settlement", value=WITHDRAWAL_REQUESTED, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        data = WithdrawalCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = wallet_of(principal=request.user, organization=data.validated_data.get("organization"))
        withdrawal = withdrawal_request(
            amount=data.validated_data["amount"],
            address=withdrawal_address(request.user, wallet),
            **wallet_owner(wallet),
            requested_by=request.user if not isinstance(request.user, ApiClient) else None,
        )
        return Response(WithdrawalSerializer(withdrawal_data(withdrawal, wallet.scale)).data, status=201)


class WithdrawalDetailView(WalletApiView):
    @raises(*WALLET_ERRORS, WithdrawalNotFound)
    @extend_schema(
        parameters=[WithdrawalQuerySerializer],
        responses={200: WithdrawalSerializer},
        tags=["wallet"],
        summary="A withdrawal",
        description="One of your withdrawals with its state and the settlement transaction's hash.",
        examples=[OpenApiExample("A settled withdrawal", value=WITHDRAWAL_SETTLED, response_only=True)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        query = WithdrawalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wallet = wallet_of(principal=request.user, organization=query.validated_data.get("organization"))
        withdrawal = withdrawal_of(wallet.account, public_id)
        return Response(WithdrawalSerializer(withdrawal_data(withdrawal, wallet.scale)).data)
