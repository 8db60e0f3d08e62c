"""Client webhook API (API-key authentication): endpoints, their secrets, and the callback-URL secret.

A client sees and changes only its own endpoints; another client's are 404, as if they did not exist.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.base import ClientApiView
from apps.core.addresses import (
    WebhookUrlHttpsRequired,
    WebhookUrlPrivateAddress,
    WebhookUrlRefused,
    WebhookUrlUnresolvable,
)
from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.delivery.webhooks import selectors, services
from apps.delivery.webhooks.api.serializers import (
    WebhookCallbackSecretSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from apps.delivery.webhooks.errors import WebhookEndpointLimit
from apps.delivery.webhooks.models import WebhookEndpoint
from apps.delivery.webhooks.signing import SECRET_PREFIX

TAGS = ["webhooks"]
URL_ERRORS = (
    (WebhookUrlRefused, "`url` is not an http(s) URL with a host."),
    WebhookUrlHttpsRequired,
    WebhookUrlPrivateAddress,
    (WebhookUrlUnresolvable, "The URL's host name does not resolve."),
)
ENDPOINT_INPUT = {
    "url": "https://example.com/hooks/peerpower",
    "event_types": ["message.delivered", "message.failed"],
    "description": "Order notifications",
}
ENDPOINT = {
    "id": 12,
    **ENDPOINT_INPUT,
    "active": True,
    "disabled_at": None,
    "disabled_reason": "",
    "failure_streak": 0,
    "last_success_at": "2026-01-15T09:30:08+07:00",
    "created_at": "2026-01-10T14:02:00+07:00",
    "updated_at": "2026-01-10T14:02:00+07:00",
}
EXAMPLE_SECRET = SECRET_PREFIX + "3q2-7w1Zk9XyQe0uTzL8bA4nM5rV6sD1hJ0pWcYx8Ek"  # documentation only
ENDPOINT_WITH_SECRET = {**ENDPOINT, "secret": EXAMPLE_SECRET, "previous_secret_expires_at": None}
CALLBACK_SECRET = {
    "secret": EXAMPLE_SECRET,
    "previous_secret_expires_at": None,
    "created_at": "2026-01-10T14:02:00+07:00",
    "rotated_at": None,
}


def _endpoint_input(request: Request, *, partial: bool = False) -> dict:
    serializer = WebhookEndpointInputSerializer(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WebhookEndpointListView(ClientApiView):
    rate_limit_scope = "webhook_management"
    pagination_class = CursorPagination

    @extend_schema(
        responses={200: WebhookEndpointSerializer(many=True)},
        tags=TAGS,
        summary="List your webhook endpoints",
        description="Your endpoints, newest first, with their health: `failure_streak`, `last_success_at`, and "
        "`disabled_at` once we stopped sending to one that kept failing.",
        examples=[OpenApiExample("An endpoint", value=ENDPOINT, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.webhook_endpoints_of(organization=request.user.organization)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @raises(*URL_ERRORS, WebhookEndpointLimit)
    @extend_schema(
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        tags=TAGS,
        summary="Register a webhook endpoint",
        description="We POST each event you subscribe to (all when `event_types` is left out) to `url`, signed "
        "with the `secret` in the answer: verify the `PeerPower-Signature` header (docs/webhooks.md). A delivery "
        "is retried with back-off for 3 days until your endpoint answers 2xx.",
        examples=[
            OpenApiExample("Delivered and failed events", value=ENDPOINT_INPUT, request_only=True),
            OpenApiExample("Created", value=ENDPOINT_WITH_SECRET, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        endpoint = services.webhook_endpoint_create(
            organization=request.user.organization, actor=request.user, **_endpoint_input(request)
        )
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(ClientApiView):
    rate_limit_scope = "webhook_management"

    def _endpoint(self, request: Request, endpoint_id: int) -> WebhookEndpoint:
        return selectors.webhook_endpoint_of(organization=request.user.organization, endpoint_id=endpoint_id)

    @extend_schema(
        responses={200: WebhookEndpointWithSecretSerializer},
        tags=TAGS,
        summary="Get a webhook endpoint and its secret",
        description="One of your endpoints, with the secret that signs its events. Another client's is 404.",
        examples=[OpenApiExample("An endpoint", value=ENDPOINT_WITH_SECRET, response_only=True)],
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(WebhookEndpointWithSecretSerializer(self._endpoint(request, endpoint_id)).data)

    @raises(*URL_ERRORS)
    @extend_schema(
        request=WebhookEndpointInputSerializer,
        responses={200: WebhookEndpointSerializer},
        tags=TAGS,
        summary="Change a webhook endpoint",
        description="Change any of `url`, `event_types`, `description`, `active` (false pauses deliveries). "
        "Re-enabling an endpoint we disabled is for staff.",
        examples=[
            OpenApiExample("Pause", value={"active": False}, request_only=True),
            OpenApiExample("Paused", value={**ENDPOINT, "active": False}, response_only=True),
        ],
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = self._endpoint(request, endpoint_id)
        endpoint = services.webhook_endpoint_update(
            endpoint=endpoint, actor=request.user, **_endpoint_input(request, partial=True)
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        responses={204: None},
        tags=TAGS,
        summary="Delete a webhook endpoint",
        description="Stops every delivery to it, including those waiting for a retry.",
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(endpoint=self._endpoint(request, endpoint_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateSecretView(ClientApiView):
    rate_limit_scope = "webhook_management"

    @extend_schema(
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer},
        tags=TAGS,
        summary="Rotate an endpoint's signing secret",
        description="A new secret signs from now on; the previous one keeps signing beside it (a second `v1=` in "
        "the header) until `previous_secret_expires_at` (24 hours by default), so you can deploy the new one.",
        examples=[
            OpenApiExample(
                "Rotated",
                value={**ENDPOINT_WITH_SECRET, "previous_secret_expires_at": "2026-01-16T10:00:00+07:00"},
                response_only=True,
            )
        ],
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_of(organization=request.user.organization, endpoint_id=endpoint_id)
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookCallbackSecretView(ClientApiView):
    rate_limit_scope = "webhook_management"

    @extend_schema(
        responses={200: WebhookCallbackSecretSerializer},
        tags=TAGS,
        summary="Get the callback-URL signing secret",
        description="The secret that signs requests to the `callback_url` given with a message (one per client; "
        "made on first read). Verify them as endpoint events (docs/webhooks.md).",
        examples=[OpenApiExample("The secret", value=CALLBACK_SECRET, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        holder = services.webhook_callback_secret_ensure(organization=request.user.organization)
        return Response(WebhookCallbackSecretSerializer(holder).data)


class WebhookCallbackSecretRotateView(ClientApiView):
    rate_limit_scope = "webhook_management"

    @extend_schema(
        request=None,
        responses={200: WebhookCallbackSecretSerializer},
        tags=TAGS,
        summary="Rotate the callback-URL signing secret",
        description="As for an endpoint: the previous secret keeps signing until `previous_secret_expires_at`.",
        examples=[
            OpenApiExample(
                "Rotated",
                value={
                    **CALLBACK_SECRET,
                    "previous_secret_expires_at": "2026-01-16T10:00:00+07:00",
                    "rotated_at": "2026-01-15T10:00:00+07:00",
                },
                response_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        holder = services.webhook_callback_secret_rotate(organization=request.user.organization, actor=request.user)
        return Response(WebhookCallbackSecretSerializer(holder).data)
