"""Client message API (API-key authentication). Views translate; services decide."""

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.base import ClientApiView
from apps.accounts.authentication import ApiClient
from apps.accounts.phone import PhoneInvalid, PhoneNotMobile, PhoneRegionNotAllowed
from apps.core.addresses import WebhookUrlHttpsRequired, WebhookUrlPrivateAddress, WebhookUrlRefused
from apps.core.api import error_body
from apps.core.errors import DomainError, RateLimited
from apps.core.http import client_ip
from apps.core.lean import LeanPostView
from apps.core.local_cache import VersionStale
from apps.core.pagination import CursorPagination
from apps.core.ratelimit import rate_limit
from apps.core.schema import raises
from apps.core.serializer_fields import StrictCharField
from apps.messaging import selectors
from apps.messaging.api.serializers import (
    BulkInputSerializer,
    BulkOutputSerializer,
    MessageFilterSerializer,
    MessageInputSerializer,
    bulk_input_messages,
    message_input_data,
)
from apps.messaging.choices import MessageStatus
from apps.messaging.errors import (
    BodyControlCharacters,
    BodyEmpty,
    BodyInvalidUnicode,
    BodyTooManySegments,
    ClientBlocked,
    ContentRejected,
    DailyQuotaExceeded,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InsufficientBalance,
    MessageNotCancellable,
    OrganizationQuotaExceeded,
    Overloaded,
    RecipientBlocked,
    RecipientOptedOut,
    SandboxDailyCapReached,
    SandboxRecipientNotVerified,
    ScheduleInvalid,
    VerificationCodeUnknown,
)
from apps.messaging.idempotency import IDEMPOTENCY_KEY_PATTERN, idempotent_call, key_answer, request_fingerprint
from apps.messaging.pumping import message_conversion_record
from apps.messaging.representation import MessageOutputSerializer, message_output, messages_output
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


# What a submission can be refused for, message by message (a bulk send answers these per item).
MESSAGE_ERRORS = (
    PhoneInvalid,
    PhoneNotMobile,
    PhoneRegionNotAllowed,
    BodyEmpty,
    BodyControlCharacters,
    BodyInvalidUnicode,
    (BodyTooManySegments, "The body needs more SMS segments than MESSAGE_MAX_SEGMENTS (10 by default)."),
    ScheduleInvalid,
    (WebhookUrlRefused, "`callback_url` is not an http(s) URL with a host."),
    WebhookUrlHttpsRequired,
    WebhookUrlPrivateAddress,
    RecipientOptedOut,
    RecipientBlocked,
    (SandboxRecipientNotVerified, "Your organisation is in the sandbox and `to` is not a member's own number."),
    (ContentRejected, "The content filter refused the text; `details.message` is the stored (rejected) message."),
)
# What refuses the whole request: the client, its key's limits, and the Idempotency-Key.
SUBMIT_ERRORS = (
    (ClientBlocked, "Staff blocked this client organisation from sending; `details.reason` says why."),
    (RateLimited, "More requests per second than the key allows (MESSAGE_RATE_PER_SECOND, 50 by default)."),
    (DailyQuotaExceeded, "The key's daily message quota is used up (midnight Phnom Penh time starts a new day)."),
    (OrganizationQuotaExceeded, "Your organisation's daily total across its keys (its plan) is used up."),
    (SandboxDailyCapReached, "Your organisation is in the sandbox and sent CLIENT_SANDBOX_DAILY_CAP messages today."),
    (
        Overloaded,
        "The network's backlog is beyond what its phones and reports can absorb now (admission control): nothing "
        "was stored; retry after `Retry-After` seconds. A client sending far more than others is refused first; "
        "high priority keeps a reserved share.",
    ),
    IdempotencyKeyInvalid,
    (IdempotencyKeyReused, "The Idempotency-Key was used before with a different body: send a new key."),
)
# A bulk request answers it per item instead.
BALANCE_ERRORS = (
    (
        InsufficientBalance,
        "Your spendable PPT (balance + credit limit − holds) does not cover the message's price × segments; "
        "`details.shortfall` is what is missing, in 10⁻⁶ PPT (`details.shortfall_ppt` in PPT). Nothing was stored.",
    ),
)
SEND_EXAMPLES = [
    OpenApiExample(
        "Khmer OTP",
        summary="Khmer text (UCS-2: 70 characters per segment)",
        value={
            "to": "+85512345678",
            "body": "លេខកូដផ្ទៀងផ្ទាត់ Angkor Coffee របស់អ្នកគឺ 482913។ កុំប្រាប់អ្នកដទៃ។",
            "priority": "high",
            "reference": "otp-7741",
            "validity_seconds": 300,
        },
        request_only=True,
    ),
    OpenApiExample(
        "English notice",
        summary="English text (GSM-7: 160 characters per segment), with a callback URL",
        value={
            "to": "012 345 678",
            "body": "Your Angkor Coffee order #1042 is ready for pick-up.",
            "reference": "order-1042",
            "callback_url": "https://example.com/hooks/peerpower",
        },
        request_only=True,
    ),
]
MESSAGE_EXAMPLE = {
    "id": 5012,
    "status": "queued",
    "status_reason": "",
    "to": "+85512345678",
    "carrier": "cellcard",
    "encoding": "ucs2",
    "segments": 1,
    "priority": "high",
    "reference": "otp-7741",
    "created_at": "2026-01-15T09:30:00+07:00",
    "scheduled_at": None,
    "expires_at": "2026-01-15T09:35:00+07:00",
    "sent_at": None,
    "delivered_at": None,
    "price": {"per_segment": 12000, "segments": 1, "held": 12000, "charged": None, "on_net": 10000,
              "cross_carrier": 12000},
}  # fmt: skip
DELIVERED_EXAMPLE = {
    **MESSAGE_EXAMPLE,
    "status": "delivered",
    "sent_at": "2026-01-15T09:30:04+07:00",
    "delivered_at": "2026-01-15T09:30:07+07:00",
    "price": {**MESSAGE_EXAMPLE["price"], "charged": 10000},
}


def _message_input(data: dict) -> MessageInput:
    return MessageInput(**message_input_data(data))


def _submitted_body(message: Any, output: dict | None = None) -> tuple[int, dict]:
    """A stored message's answer: 202 accepted, or 422 when the content filter refused it (stored as rejected).
    `output`: the message's representation, when the caller has it."""
    if output is None:
        output = message_output(message)
    if message.status == MessageStatus.REJECTED:
        error = ContentRejected(details={"message": output, "reasons": message.filter_reasons})
        return status.HTTP_422_UNPROCESSABLE_ENTITY, error_body(error.code, error.message, error.details)
    return status.HTTP_202_ACCEPTED, output


def _idempotent(
    request: HttpRequest | Request,
    client: ApiClient,
    data: Any,
    submit: Callable[[], tuple[int, dict]],
    answer: Callable[[Any], tuple[int, dict]] | None = None,
) -> tuple[int, dict]:
    """Run `submit` once per Idempotency-Key (when the client sends one) and return its (status, body). `data`: the
    request's parsed body. `answer`: a single send's answer for its message (`idempotent_call`); its `submit`
    verifies the API key in the round trip that counts its limits, before it writes anything."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return submit()  # nothing to remember, so no fingerprint of the request to compute
    check = client.credential_check
    if check is not None and answer is None and not check.verify():
        raise VersionStale  # before the key is looked up or claimed: a revoked key gets no stored answer

    def verified() -> None:
        # A stored answer goes to a key verified now: a revoked one gets none. A new request's own round trip
        # verifies it (message_submit), so a new key costs no round trip of its own for it.
        if check is not None and answer is not None and not check.verify():
            raise VersionStale

    return idempotent_call(
        organization=client.organization,
        key=key,
        fingerprint=request_fingerprint(method=request.method, path=request.path, body=data),
        call=submit,
        answer=answer,
        before_replay=verified,
    )


def _idempotent_response(request: Request, submit: Callable[[], tuple[int, dict]]) -> Response:
    """Run `submit` once per Idempotency-Key (when the client sends one) and answer with its result."""
    code, body = _idempotent(request, request.user, request.data, submit)
    return Response(body, status=code)


class MessageSendView(ClientApiView, LeanPostView):
    """The API's hottest endpoint: ordinary requests skip DRF's request machinery (apps.core.lean), and the API
    key's version is verified in the round trip that counts the client's limits, not in one of its own."""

    lean_deferred_credentials = True

    @raises(*MESSAGE_ERRORS, *SUBMIT_ERRORS, *BALANCE_ERRORS)
    @extend_schema(
        request=MessageInputSerializer,
        responses={202: MessageOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["messages"],
        summary="Send an SMS",
        description="Queue one SMS to a Cambodian mobile number. The answer (202) is the stored message, `queued` (or "
        "`held` for review, or scheduled); follow it with `GET /api/messages/{id}` or a webhook. Khmer text is sent "
        "as UCS-2 (70 characters per segment, 67 when split), Latin text as GSM-7 (160, 153); each segment is "
        "priced (`GET /api/billing/prices`): accepting the message holds the price of the dearest route it could take "
        "× its segments from your PPT (`price.held`), delivery captures the route it took × the segments sent "
        "(`price.charged`) and releases the rest; a message that is not delivered costs nothing. Send an "
        "`Idempotency-Key` to retry safely: the same key and body give the same answer, once.",
        examples=[
            *SEND_EXAMPLES,
            OpenApiExample("Queued", value=MESSAGE_EXAMPLE, status_codes=["202"], response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def lean_post(self, request: HttpRequest | Request, principal: ApiClient, data: Any) -> tuple[int, dict]:
        message = _message_input(data)

        def submit() -> tuple[int, dict]:
            stored = message_submit(
                organization=principal.organization,
                api_key=principal.api_key,
                data=message,
                credential_check=principal.credential_check,
            )
            # With an Idempotency-Key written in the message's statement, the answer was built for its row already.
            return key_answer() or _submitted_body(stored)

        return _idempotent(request, principal, data, submit, answer=_submitted_body)


class MessageBulkView(ClientApiView):
    @raises(*SUBMIT_ERRORS)
    @extend_schema(
        request=BulkInputSerializer,
        responses={200: BulkOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["bulk"],
        summary="Send many SMS in one request",
        description="Up to MESSAGE_BULK_MAX (1,000) messages, each with the fields of `POST /api/messages/send`. Each "
        "item is accepted or refused on its own: the answer lists, at each item's `index`, either the stored "
        "`message` or its `error` (`{code, message, details}`, the codes of a single send: `phone_invalid`, "
        "`body_too_many_segments`, `content_rejected`, `insufficient_balance`, …). Items are held from your PPT in "
        "order: those that fit are accepted, the rest refused with `insufficient_balance` each. The request as a "
        "whole is refused only when it is malformed or unauthenticated.",
        examples=[
            OpenApiExample(
                "Khmer and English",
                value={
                    "messages": [
                        {
                            "to": "+85512345678",
                            "body": "សួស្តី! ការកម្មង់លេខ 1042 របស់អ្នករួចរាល់ហើយ។",
                            "reference": "order-1042",
                        },
                        {"to": "+85510234567", "body": "Hello! Your order #1043 is ready.", "reference": "order-1043"},
                        {"to": "+85599", "body": "Hello!"},
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Two accepted, one refused",
                value={
                    "accepted": 2,
                    "refused": 1,
                    "results": [
                        {
                            "index": 0,
                            "ok": True,
                            "message": {**MESSAGE_EXAMPLE, "priority": "normal", "reference": "order-1042"},
                        },
                        {
                            "index": 1,
                            "ok": True,
                            "message": {
                                **MESSAGE_EXAMPLE,
                                "id": 5013,
                                "to": "+85510234567",
                                "carrier": "smart",
                                "encoding": "gsm7",
                                "priority": "normal",
                                "reference": "order-1043",
                            },
                        },
                        {
                            "index": 2,
                            "ok": False,
                            "error": {
                                "code": "phone_invalid",
                                "message": "This is not a valid phone number.",
                                "details": {},
                            },
                        },
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        client: ApiClient = request.user
        items, refused = [], []
        for index, raw in enumerate(bulk_input_messages(request.data)):
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
            # The stored messages' representations, in the order of their results.
            outputs = iter(messages_output([result.message for result in results if result.error is None]))
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
                    continue
                code, body = _submitted_body(result.message, next(outputs))
                rows.append(
                    {"index": index, "ok": True, "message": body}
                    if code == 202
                    else {"index": index, "ok": False, "error": body}
                )
            if refused:  # the service's results are in order: only the items refused here are out of place
                rows.sort(key=itemgetter("index"))
            accepted = sum(1 for row in rows if row["ok"])
            return status.HTTP_200_OK, {"accepted": accepted, "refused": len(rows) - accepted, "results": rows}

        return _idempotent_response(request, submit)


class MessageListView(ClientApiView):
    pagination_class = CursorPagination

    @extend_schema(
        parameters=[MessageFilterSerializer],
        responses={200: MessageOutputSerializer(many=True)},
        tags=["messages"],
        summary="List your messages",
        description="Your organisation's messages, newest first, cursor-paginated (`next`/`previous` links). Filter "
        "by `status`, your own `reference`, or creation time.",
        examples=[OpenApiExample("A delivered message", value=DELIVERED_EXAMPLE, response_only=True)],
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
    @extend_schema(
        responses={200: MessageOutputSerializer},
        tags=["messages"],
        summary="Get a message",
        description="One of your messages and where it is: `queued` → `assigned` → `sent` → `delivered`, or "
        "`failed`, `expired`, `cancelled`, `rejected` (`status_reason` says why). Another client's message is 404.",
        examples=[OpenApiExample("Delivered", value=DELIVERED_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, message_id: int) -> Response:
        message = selectors.message_of_client(organization=request.user.organization, message_id=message_id)
        messages_expire_overdue(messages=[message])
        return Response(MessageOutputSerializer(message).data)


class MessageCancelView(ClientApiView):
    @raises(MessageNotCancellable)
    @extend_schema(
        request=None,
        responses={200: MessageOutputSerializer},
        tags=["messages"],
        summary="Cancel a message",
        description="Cancel a message that no phone has sent yet (held, scheduled, queued or assigned); it is not "
        "charged. A message already sent or finished answers 409 `message_not_cancellable`.",
        examples=[
            OpenApiExample(
                "Cancelled",
                value={**MESSAGE_EXAMPLE, "status": "cancelled", "status_reason": "cancelled_by_client"},
                response_only=True,
            )
        ],
    )
    def post(self, request: Request, message_id: int) -> Response:
        message = selectors.message_of_client(organization=request.user.organization, message_id=message_id)
        return Response(MessageOutputSerializer(message_cancel(message=message)).data)


class ConversionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    converted_at = serializers.DateTimeField()


class MessageConversionView(ClientApiView):
    @extend_schema(
        request=None,
        responses={200: ConversionOutputSerializer},
        tags=["messages"],
        summary="Report a code as used",
        examples=[
            OpenApiExample(
                "Recorded",
                value={"id": 4242, "converted_at": "2026-12-05T03:14:07Z"},
                status_codes=["200"],
                response_only=True,
            )
        ],
        description="Tell PeerPower that the one-time code in this message was used (the person signed in). Clients "
        "that report conversions are protected from SMS pumping: when too few of their code messages convert, new "
        "ones are held for review (`status_reason: pumping_low_conversion`). Reporting twice changes nothing.",
    )
    def post(self, request: Request, message_id: int) -> Response:
        message = message_conversion_record(organization=request.user.organization, message_id=message_id)
        return Response({"id": message.pk, "converted_at": message.converted_at})


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

    @raises(
        (VerificationCodeUnknown, "No message carries this code: the SMS did not come through PeerPower."),
        (RateLimited, "More checks from this address than MESSAGE_VERIFY_RATE_PER_IP (30 a minute by default)."),
    )
    @extend_schema(
        responses={200: VerificationOutputSerializer},
        tags=["verify"],
        summary="Check who sent an SMS",
        examples=[
            OpenApiExample(
                "Genuine",
                value={
                    "code": "K7P2Q9",
                    "sender": "Angkor Coffee",
                    "sent_at": "2026-01-15T09:30:04+07:00",
                    "status": "delivered",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, code: str) -> Response:
        rate_limit(group=VERIFY_RATE_GROUP, key=client_ip(request), rate=settings.MESSAGE_VERIFY_RATE_PER_IP)
        message = selectors.message_by_verification_code(code)
        messages_expire_overdue(messages=[message])
        return Response(VerificationOutputSerializer(message).data)
