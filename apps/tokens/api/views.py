"""The wallet API: the caller's balances and history. A provider (JWT) sees theirs, a client system (API key) or a
member (JWT) sees the organisation's. Views translate; selectors decide whose wallet it is."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication, SessionJWTAuthentication
from apps.core.etag import etag_response
from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.tokens.api.serializers import (
    TransactionQuerySerializer,
    TransactionSerializer,
    WalletQuerySerializer,
    WalletSerializer,
    amount_data,
)
from apps.tokens.errors import OrganizationRequired, WalletNotFound
from apps.tokens.selectors import ZERO, account_balance, account_transfers, wallet_of

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
