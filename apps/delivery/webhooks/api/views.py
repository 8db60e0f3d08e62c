"""Client webhook API (API-key authentication): endpoints, their secrets, and the callback-URL secret.

A client sees and changes only its own endpoints; another client's are 404, as if they did not exist.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.base import ClientApiView
from apps.core.pagination import CursorPagination
from apps.delivery.webhooks import selectors, services
from apps.delivery.webhooks.api.serializers import (
    WebhookCallbackSecretSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from apps.delivery.webhooks.models import WebhookEndpoint

TAGS = ["webhooks"]


def _endpoint_input(request: Request, *, partial: bool = False) -> dict:
    serializer = WebhookEndpointInputSerializer(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WebhookEndpointListView(ClientApiView):
    pagination_class = CursorPagination

    @extend_schema(responses={200: WebhookEndpointSerializer(many=True)}, tags=TAGS)
    def get(self, request: Request) -> Response:
        queryset = selectors.webhook_endpoints_of(organization=request.user.organization)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointWithSecretSerializer}, tags=TAGS
    )
    def post(self, request: Request) -> Response:
        endpoint = services.webhook_endpoint_create(
            organization=request.user.organization, actor=request.user, **_endpoint_input(request)
        )
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(ClientApiView):
    def _endpoint(self, request: Request, endpoint_id: int) -> WebhookEndpoint:
        return selectors.webhook_endpoint_of(organization=request.user.organization, endpoint_id=endpoint_id)

    @extend_schema(responses={200: WebhookEndpointWithSecretSerializer}, tags=TAGS)
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(WebhookEndpointWithSecretSerializer(self._endpoint(request, endpoint_id)).data)

    @extend_schema(request=WebhookEndpointInputSerializer, responses={200: WebhookEndpointSerializer}, tags=TAGS)
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = self._endpoint(request, endpoint_id)
        endpoint = services.webhook_endpoint_update(
            endpoint=endpoint, actor=request.user, **_endpoint_input(request, partial=True)
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None}, tags=TAGS)
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(endpoint=self._endpoint(request, endpoint_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretView(ClientApiView):
    @extend_schema(request=None, responses={200: WebhookEndpointWithSecretSerializer}, tags=TAGS)
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_of(organization=request.user.organization, endpoint_id=endpoint_id)
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookCallbackSecretView(ClientApiView):
    @extend_schema(
        responses={200: WebhookCallbackSecretSerializer},
        tags=TAGS,
        description="The secret that signs requests to the callback_url given with a message.",
    )
    def get(self, request: Request) -> Response:
        holder = services.webhook_callback_secret_ensure(organization=request.user.organization)
        return Response(WebhookCallbackSecretSerializer(holder).data)


class WebhookCallbackSecretRotateView(ClientApiView):
    @extend_schema(request=None, responses={200: WebhookCallbackSecretSerializer}, tags=TAGS)
    def post(self, request: Request) -> Response:
        holder = services.webhook_callback_secret_rotate(organization=request.user.organization, actor=request.user)
        return Response(WebhookCallbackSecretSerializer(holder).data)
