"""Top-ups: clients create and follow them; Baray notifies us. Views translate; services decide."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication, SessionJWTAuthentication
from apps.core.pagination import CursorPagination
from apps.payments.api.serializers import (
    BarayWebhookSerializer,
    TopUpCreateSerializer,
    TopUpQuerySerializer,
    TopUpSerializer,
)
from apps.payments.representation import topup_output
from apps.payments.selectors import topup_of, topup_organization, topups_of
from apps.payments.services import baray_webhook_receive, topup_create


class TopUpApiView(APIView):
    # A client system's API key, or a member's JWT (as for the wallet).
    authentication_classes = [ApiKeyAuthentication, SessionJWTAuthentication]


class TopUpPagination(CursorPagination):
    page_size = 30
    ordering = ("-created_at", "-id")


class TopUpListView(TopUpApiView):
    pagination_class = TopUpPagination

    @extend_schema(parameters=[TopUpQuerySerializer], responses={200: TopUpSerializer(many=True)}, tags=["billing"])
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

    @extend_schema(request=TopUpCreateSerializer, responses={201: TopUpSerializer}, tags=["billing"])
    def post(self, request: Request) -> Response:
        data = TopUpCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        organization = topup_organization(principal=request.user, organization_id=fields.pop("organization", None))
        topup = topup_create(organization=organization, **fields)
        return Response(topup_output(topup), status=201)


class TopUpDetailView(TopUpApiView):
    @extend_schema(parameters=[TopUpQuerySerializer], responses={200: TopUpSerializer}, tags=["billing"])
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

    @extend_schema(request=BarayWebhookSerializer, responses={200: None}, tags=["billing"])
    def post(self, request: Request) -> Response:
        outcome = baray_webhook_receive(body=request.body)
        return Response({"received": True, "outcome": outcome})
