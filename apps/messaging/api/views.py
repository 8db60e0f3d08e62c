"""Client message API (API-key authentication). Views translate; services decide."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.base import ClientApiView
from apps.accounts.authentication import ApiClient
from apps.core.api import error_body
from apps.core.errors import DomainError
from apps.core.http import client_ip
from apps.core.pagination import CursorPagination
from apps.core.ratelimit import rate_limit
from apps.core.serializer_fields import StrictCharField
from apps.messaging import selectors
from apps.messaging.api.serializers import (
    BulkInputSerializer,
    BulkOutputSerializer,
    MessageFilterSerializer,
    MessageInputSerializer,
    message_input_data,
)
from apps.messaging.choices import MessageStatus
from apps.messaging.errors import ContentRejected
from apps.messaging.idempotency import IDEMPOTENCY_KEY_PATTERN, idempotent_call, request_fingerprint
from apps.messaging.representation import MessageOutputSerializer, message_output
from apps.messaging.services import (
    MessageInput,
    message_cancel,
    message_submit,
    message_submit_bulk,
    messages_expire_overdue,
)
from apps.messaging.views import VERIFY_RATE_GROUP

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    pattern=IDEMPOTENCY_KEY_PATTERN,
    description="Retry safely: same key, same answer. 1 to 255 printable ASCII characters.",
)


def _message_input(data: dict) -> MessageInput:
    return MessageInput(**message_input_data(data))


def _submitted_body(message: Any) -> tuple[int, dict]:
    """A stored message's answer: 202 accepted, or 422 when the content filter refused it (stored as rejected)."""
    output = message_output(message)
    if message.status == MessageStatus.REJECTED:
        error = ContentRejected(details={"message": output, "reasons": message.filter_reasons})
        return status.HTTP_422_UNPROCESSABLE_ENTITY, error_body(error.code, error.message, error.details)
    return status.HTTP_202_ACCEPTED, output


def _idempotent_response(request: Request, submit: Callable[[], tuple[int, dict]]) -> Response:
    """Run `submit` once per Idempotency-Key (when the client sends one) and answer with its result."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        code, body = submit()  # nothing to remember, so no fingerprint of the request to compute
    else:
        code, body = idempotent_call(
            organization=request.user.organization,
            key=key,
            fingerprint=request_fingerprint(method=request.method, path=request.path, body=request.data),
            call=submit,
        )
    return Response(body, status=code)


class MessageSendView(ClientApiView):
    @extend_schema(
        request=MessageInputSerializer,
        responses={202: MessageOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        client: ApiClient = request.user
        data = _message_input(request.data)

        def submit() -> tuple[int, dict]:
            return _submitted_body(message_submit(organization=client.organization, api_key=client.api_key, data=data))

        return _idempotent_response(request, submit)


class MessageBulkView(ClientApiView):
    @extend_schema(
        request=BulkInputSerializer,
        responses={200: BulkOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        client: ApiClient = request.user
        serializer = BulkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items, refused = [], []
        for index, raw in enumerate(serializer.validated_data["messages"]):
            try:
                items.append((index, _message_input(raw)))
            except DomainError as error:
                refused.append(
                    {"index": index, "ok": False, "error": error_body(error.code, error.message, error.details)}
                )

        def submit() -> tuple[int, dict]:
            results = message_submit_bulk(
                organization=client.organization, api_key=client.api_key, items=[item for _, item in items]
            )
            rows = list(refused)
            for result in results:
                index = items[result.index][0]
                if result.error is not None:
                    rows.append(
                        {
                            "index": index,
                            "ok": False,
                            "error": error_body(result.error.code, result.error.message, result.error.details),
                        }
                    )
                else:
                    code, body = _submitted_body(result.message)
                    rows.append(
                        {"index": index, "ok": code == 202, **({"message": body} if code == 202 else {"error": body})}
                    )
            rows.sort(key=lambda row: row["index"])
            accepted = sum(1 for row in rows if row["ok"])
            return status.HTTP_200_OK, {"accepted": accepted, "refused": len(rows) - accepted, "results": rows}

        return _idempotent_response(request, submit)


class MessageListView(ClientApiView):
    pagination_class = CursorPagination

    @extend_schema(
        parameters=[MessageFilterSerializer], responses={200: MessageOutputSerializer(many=True)}, tags=["messages"]
    )
    def get(self, request: Request) -> Response:
        # A plain dict: DRF reads an empty value in a QueryDict as absent, so `?status=` would list every message.
        filters = MessageFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        queryset = selectors.messages_of_client(organization=request.user.organization, **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        messages_expire_overdue(messages=page)  # validity ends on time for the reader, not at the next sweep
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)


class MessageDetailView(ClientApiView):
    @extend_schema(responses={200: MessageOutputSerializer}, tags=["messages"])
    def get(self, request: Request, message_id: int) -> Response:
        message = selectors.message_of_client(organization=request.user.organization, message_id=message_id)
        messages_expire_overdue(messages=[message])
        return Response(MessageOutputSerializer(message).data)


class MessageCancelView(ClientApiView):
    @extend_schema(request=None, responses={200: MessageOutputSerializer}, tags=["messages"])
    def post(self, request: Request, message_id: int) -> Response:
        message = selectors.message_of_client(organization=request.user.organization, message_id=message_id)
        return Response(MessageOutputSerializer(message_cancel(message=message)).data)


class VerificationOutputSerializer(serializers.Serializer):
    code = StrictCharField(source="verification_code")
    sender = StrictCharField(source="organization.name", help_text="The business that sent the SMS.")
    sent_at = serializers.DateTimeField(allow_null=True)
    status = StrictCharField()


class VerifyView(APIView):
    """Public: anyone who received an SMS with a PeerPower verification code can check who sent it. Rate-limited
    per address, and it tells nothing about the recipient or the text."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: VerificationOutputSerializer}, tags=["verify"])
    def get(self, request: Request, code: str) -> Response:
        rate_limit(group=VERIFY_RATE_GROUP, key=client_ip(request), rate=settings.MESSAGE_VERIFY_RATE_PER_IP)
        message = selectors.message_by_verification_code(code)
        messages_expire_overdue(messages=[message])
        return Response(VerificationOutputSerializer(message).data)
