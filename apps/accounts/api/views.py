"""Identity endpoints. Views translate: validate input, call one service or selector, shape the output."""

from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import errors, selectors, services
from apps.accounts.api import serializers as s
from apps.accounts.phone import PhoneInvalid, PhoneNotMobile, PhoneRegionNotAllowed
from apps.core.errors import RateLimited
from apps.core.schema import ErrorCase, raises

PHONE_ERRORS = (PhoneInvalid, PhoneNotMobile, PhoneRegionNotAllowed)
OWNER_REQUIRED = ErrorCase(403, "client_owner_required", "Only an owner of the organisation may do this.")


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class OtpRequestView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @raises(
        *PHONE_ERRORS,
        (errors.PhoneDenied, "Staff deny-listed this number: it cannot sign in."),
        (errors.OtpResendTooSoon, "A code was sent to this number moments ago; `details.retry_after` says when."),
        (RateLimited, "Too many codes asked for this number or from this address (OTP_RATE_PER_PHONE, _PER_IP)."),
    )
    @extend_schema(
        request=s.PhoneInput,
        responses={202: s.OtpIssuedOutput},
        tags=["auth"],
        summary="Send a sign-in code by SMS",
        description="Sends a six-digit code to the number, in the request's language (`Accept-Language: km` or "
        "`en`). Sign in with it at `POST /api/auth/otp/verify` before `expires_in` seconds.",
        examples=[
            OpenApiExample("A Cambodian number", value={"phone": "012 345 678"}, request_only=True),
            OpenApiExample(
                "Sent", value={"expires_in": 300, "resend_after": 60}, status_codes=["202"], response_only=True
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.PhoneInput, request)
        issued = services.otp_request(phone=data["phone"], language=get_language() or "km")
        return Response(s.OtpIssuedOutput(issued).data, status=status.HTTP_202_ACCEPTED)


class OtpVerifyView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @raises(
        *PHONE_ERRORS,
        errors.OtpInvalid,
        errors.OtpExpired,
        errors.OtpLocked,
        (RateLimited, "Too many attempts from this address (OTP_VERIFY_RATE_PER_IP)."),
        ErrorCase(403, "account_disabled", "The account is disabled by staff."),
        (errors.PhoneDenied, "Staff deny-listed this number: it cannot sign in."),
    )
    @extend_schema(
        request=s.OtpVerifyInput,
        responses={200: s.LoginOutput},
        tags=["auth"],
        summary="Sign in with the SMS code",
        description="Exchanges the code for a device session: a short-lived `access` JWT (send it as "
        "`Authorization: Bearer …`) and a `refresh` token. A new number gets an account.",
        examples=[
            OpenApiExample(
                "Sign in", value={"phone": "012 345 678", "code": "482913", "device_name": "Pixel 7"}, request_only=True
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.OtpVerifyInput, request)
        tokens = services.otp_login(
            phone=data["phone"],
            code=data["code"],
            device_name=data["device_name"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        body = {"access": tokens.access, "refresh": tokens.refresh, "user": s.UserOutput(tokens.session.user).data}
        return Response(body)


class TokenRefreshView(APIView):
    rate_limit_scope = "token_refresh"
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @raises(
        (errors.TokenInvalid, "The refresh token is malformed, expired or already replaced."),
        errors.SessionRevoked,
    )
    @extend_schema(
        request=s.RefreshInput,
        responses={200: s.TokenPairOutput},
        tags=["auth"],
        summary="Refresh the access token",
        description="Returns a new access token and a new refresh token; the old refresh token stops working "
        "(a retry within a few seconds gets the same pair).",
    )
    def post(self, request: Request) -> Response:
        tokens = services.session_refresh(raw_refresh=_valid(s.RefreshInput, request)["refresh"])
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class LogoutView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @raises((errors.TokenInvalid, "The refresh token is malformed or expired."))
    @extend_schema(
        request=s.RefreshInput,
        responses={204: None},
        tags=["auth"],
        summary="Sign out this device",
        description="Ends the session of this refresh token: its access tokens stop working at once.",
    )
    def post(self, request: Request) -> Response:
        services.session_logout(raw_refresh=_valid(s.RefreshInput, request)["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: s.SessionOutput(many=True)},
        tags=["auth"],
        summary="List your signed-in devices",
        description="Your open sessions, one per signed-in device; `current` marks the one making this request.",
    )
    def get(self, request: Request) -> Response:
        sessions = selectors.sessions_of(user=request.user)
        return Response(s.SessionOutput(sessions, many=True, context={"user": request.user}).data)


class SessionDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={204: None},
        tags=["auth"],
        summary="Sign out one device",
        description="Ends one of your sessions (a lost phone, say); its tokens stop working at once.",
    )
    def delete(self, request: Request, session_id: int) -> Response:
        session = selectors.session_of(user=request.user, session_id=session_id)
        services.session_revoke(session=session, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionRevokeAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None},
        tags=["auth"],
        summary="Sign out everywhere",
        description="Ends every session of your account, this one included.",
    )
    def post(self, request: Request) -> Response:
        services.session_revoke_all(user=request.user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: s.UserOutput},
        tags=["profile"],
        summary="Your profile",
        description="The signed-in person: phone, display name, language, DID, wallet address, reputation.",
    )
    def get(self, request: Request) -> Response:
        return Response(s.UserOutput(request.user).data)

    @extend_schema(
        request=s.ProfileInput,
        responses={200: s.UserOutput},
        tags=["profile"],
        summary="Change your profile",
        description="Display name and preferred language (`km` or `en`: the language of your SMS and messages).",
        examples=[
            OpenApiExample("Khmer", value={"display_name": "សុខា", "preferred_language": "km"}, request_only=True)
        ],
    )
    def patch(self, request: Request) -> Response:
        serializer = s.ProfileInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, actor=request.user, **serializer.validated_data)
        return Response(s.UserOutput(user).data)


class DidChallengeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={201: s.ChallengeOutput},
        tags=["profile"],
        summary="Get a message to sign with your DID key",
        description="Step one of binding a did:key: sign the returned `message` with its Ed25519 key, then send the "
        "signature to `POST /api/me/did` before `expires_at`.",
    )
    def post(self, request: Request) -> Response:
        challenge = services.did_challenge_create(user=request.user)
        return Response(s.ChallengeOutput(challenge).data, status=status.HTTP_201_CREATED)


class DidBindView(APIView):
    permission_classes = [IsAuthenticated]

    @raises(
        errors.ChallengeInvalid,
        errors.DidMalformed,
        errors.DidSignatureInvalid,
        errors.DidTaken,
        errors.DidAlreadyBound,
    )
    @extend_schema(
        request=s.DidBindInput,
        responses={200: s.UserOutput},
        tags=["profile"],
        summary="Bind your DID key",
        description="Step two: the did:key and its signature of the challenge. Provider phones sign their delivery "
        "reports with this key.",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.DidBindInput, request)
        user = services.did_bind(user=request.user, did=data["did"], signature=data["signature"])
        return Response(s.UserOutput(user).data)


class WalletChallengeView(APIView):
    permission_classes = [IsAuthenticated]

    @raises((errors.WalletMessageMalformed, "`address` is not a 0x-prefixed 20-byte address."))
    @extend_schema(
        request=s.WalletChallengeInput,
        responses={201: s.ChallengeOutput},
        tags=["profile"],
        summary="Get a Sign-In with Ethereum message for your wallet",
        description="Step one of binding an EVM wallet (your PPT payouts go there): sign the returned `message` "
        "with the wallet, then send it to `POST /api/me/wallet`.",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.WalletChallengeInput, request)
        challenge = services.wallet_challenge_create(user=request.user, address=data["address"])
        return Response(s.ChallengeOutput(challenge).data, status=status.HTTP_201_CREATED)


class WalletView(APIView):
    permission_classes = [IsAuthenticated]

    @raises(
        errors.WalletMessageMalformed,
        errors.WalletNonceInvalid,
        errors.WalletMessageReused,
        errors.WalletMessageExpired,
        errors.WalletDomainMismatch,
        errors.WalletChainMismatch,
        errors.WalletSignatureInvalid,
        errors.WalletTaken,
    )
    @extend_schema(
        request=s.WalletBindInput,
        responses={200: s.UserOutput},
        tags=["profile"],
        summary="Bind your wallet",
        description="Step two: the signed message and its signature (EIP-191, 0x-hex).",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.WalletBindInput, request)
        user = services.wallet_bind(user=request.user, message=data["message"], signature=data["signature"])
        return Response(s.UserOutput(user).data)

    @raises(errors.WalletNotBound)
    @extend_schema(
        responses={200: s.UserOutput},
        tags=["profile"],
        summary="Unbind your wallet",
        description="Forget your wallet address; bind another one with the two steps above.",
    )
    def delete(self, request: Request) -> Response:
        return Response(s.UserOutput(services.wallet_unbind(user=request.user)).data)


class ClientListView(APIView):
    rate_limit_scope = "client_management"
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: s.ClientOutput(many=True)},
        tags=["clients"],
        summary="List your client organisations",
        description="The organisations you belong to (as owner or member).",
    )
    def get(self, request: Request) -> Response:
        return Response(s.ClientOutput(selectors.clients_of(user=request.user), many=True).data)

    @extend_schema(
        request=s.ClientInput,
        responses={201: s.ClientOutput},
        tags=["clients"],
        summary="Create a client organisation",
        description="The business that sends SMS; you become its owner. Then create an API key for it.",
        examples=[
            OpenApiExample(
                "A shop",
                value={"name": "Angkor Coffee", "contact_email": "owner@example.com", "contact_phone": "012 345 678"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        organization = services.client_create(user=request.user, **_valid(s.ClientInput, request))
        return Response(s.ClientOutput(organization).data, status=status.HTTP_201_CREATED)


class ClientDetailView(APIView):
    rate_limit_scope = "client_management"
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: s.ClientOutput},
        tags=["clients"],
        summary="Get a client organisation",
        description="One of your organisations; one you do not belong to is 404.",
    )
    def get(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id)
        return Response(s.ClientOutput(membership.organization).data)

    @raises(OWNER_REQUIRED)
    @extend_schema(
        request=s.ClientInput(partial=True),
        responses={200: s.ClientOutput},
        tags=["clients"],
        summary="Change a client organisation",
        description="Owners only: name, contacts, `verification_codes` (a code appended to each SMS that "
        "recipients can check at `GET /api/verify/{code}`), and `low_balance_threshold` (a `balance.low` webhook "
        "event when your spendable PPT falls under it, in 10⁻⁶ PPT; null turns it off).",
        examples=[
            OpenApiExample("Turn on verification codes", value={"verification_codes": True}, request_only=True),
            OpenApiExample("Warn me under 50 PPT", value={"low_balance_threshold": 50_000_000}, request_only=True),
        ],
    )
    def patch(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        serializer = s.ClientInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organization = services.client_update(
            organization=membership.organization, actor=request.user, **serializer.validated_data
        )
        return Response(s.ClientOutput(organization).data)


class ApiKeyListView(APIView):
    rate_limit_scope = "api_key_management"
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: s.ApiKeyOutput(many=True)},
        tags=["clients"],
        summary="List an organisation's API keys",
        description="Its keys (never their secrets), revoked ones included, with their limits and last use.",
    )
    def get(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id)
        return Response(s.ApiKeyOutput(selectors.api_keys_of(organization=membership.organization), many=True).data)

    @raises(OWNER_REQUIRED, errors.ApiKeyLimitAbovePlan, errors.ApiKeyCountLimit)
    @extend_schema(
        request=s.ApiKeyInput,
        responses={201: s.ApiKeyCreatedOutput},
        tags=["clients"],
        summary="Create an API key",
        description="Owners only. The answer carries the key's `secret`, shown this once: send it as "
        "`Authorization: Bearer <secret>` (or `X-API-Key`) to the client API. Limits left out use your plan's "
        "(`limits` on the organisation); a limit above the plan's is refused, as is a key past its `max_api_keys`.",
        examples=[
            OpenApiExample("A production key", value={"name": "production", "rate_per_second": 20}, request_only=True)
        ],
    )
    def post(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        key, secret = services.api_key_create(
            organization=membership.organization, actor=request.user, **_valid(s.ApiKeyInput, request)
        )
        key.secret = secret
        return Response(s.ApiKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    rate_limit_scope = "api_key_management"
    permission_classes = [IsAuthenticated]

    @raises(OWNER_REQUIRED, errors.ApiKeyLimitAbovePlan, errors.ApiKeyAlreadyRevoked)
    @extend_schema(
        request=s.ApiKeyUpdateInput,
        responses={200: s.ApiKeyOutput},
        tags=["clients"],
        summary="Rename an API key or lower its limits",
        description="Owners only. Set `rate_per_second` / `rate_per_day` at or under your plan's (`limits` on the "
        "organisation), or null for the plan's: a key for a batch job can be held to less than the plan. Staff set "
        "the plan; a limit above it is refused (400 `api_key_limit_above_plan`). Takes effect on the key's next "
        "request.",
        examples=[OpenApiExample("Hold a key to 5/s", value={"rate_per_second": 5}, request_only=True)],
    )
    def patch(self, request: Request, client_id: int, key_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        key = selectors.api_key_of(organization=membership.organization, key_id=key_id)
        changes = _valid(s.ApiKeyUpdateInput, request)
        return Response(s.ApiKeyOutput(services.api_key_update(api_key=key, actor=request.user, **changes)).data)

    @raises(OWNER_REQUIRED)
    @extend_schema(
        responses={200: s.ApiKeyOutput},
        tags=["clients"],
        summary="Revoke an API key",
        description="Owners only. The key stops working at once (401 `api_key_revoked`); the answer is the key.",
    )
    def delete(self, request: Request, client_id: int, key_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        key = selectors.api_key_of(organization=membership.organization, key_id=key_id)
        return Response(s.ApiKeyOutput(services.api_key_revoke(api_key=key, actor=request.user)).data)


class ClientApplicationView(APIView):
    rate_limit_scope = "client_management"
    permission_classes = [IsAuthenticated]

    @raises(errors.ApplicationNotFound)
    @extend_schema(
        responses={200: s.ApplicationOutput},
        tags=["clients"],
        summary="Get your application to leave the sandbox",
        description="What you told PeerPower staff about your business, where it stands (`draft`, `submitted`, "
        "`changes_requested`, `approved`, `rejected`) and what staff wrote back (`staff_note`). See docs/sandbox.md.",
    )
    def get(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id)
        return Response(s.ApplicationOutput(selectors.client_application_of(organization=membership.organization)).data)

    @raises(OWNER_REQUIRED, errors.ApplicationLocked)
    @extend_schema(
        request=s.ApplicationInput,
        responses={200: s.ApplicationOutput},
        tags=["clients"],
        summary="Fill your application to leave the sandbox",
        description="Owners only. Creates or replaces the application while it is a draft or staff asked for "
        "changes; then submit it with `POST .../application/submit`. A new organisation sends only to its members' "
        "own numbers, a few messages a day, until staff approve it.",
        examples=[
            OpenApiExample(
                "A coffee shop's reminders",
                value={
                    "business_name": "Angkor Coffee Co., Ltd.",
                    "registration_number": "00012345",
                    "use_case": "Order-ready notices to customers who ordered in our app.",
                    "sample_messages": ["កាហ្វេរបស់អ្នករួចរាល់ហើយ។", "Your coffee is ready at Angkor Coffee."],
                    "expected_daily_volume": 300,
                },
                request_only=True,
            )
        ],
    )
    def put(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        application = services.client_application_save(
            organization=membership.organization, actor=request.user, **_valid(s.ApplicationInput, request)
        )
        return Response(s.ApplicationOutput(application).data)


class ClientApplicationSubmitView(APIView):
    rate_limit_scope = "client_management"
    permission_classes = [IsAuthenticated]

    @raises(OWNER_REQUIRED, errors.ApplicationNotFound, errors.ApplicationLocked)
    @extend_schema(
        request=None,
        responses={200: s.ApplicationOutput},
        tags=["clients"],
        summary="Submit your application for review",
        description="Owners only. Staff review it and approve it (you leave the sandbox), ask for changes or reject "
        "it; you hear by the `client.application.decided` webhook event and by email to the contact address.",
    )
    def post(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        application = selectors.client_application_of(organization=membership.organization)
        return Response(
            s.ApplicationOutput(services.client_application_submit(application=application, actor=request.user)).data
        )
