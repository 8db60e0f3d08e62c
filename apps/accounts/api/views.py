"""Identity endpoints. Views translate: validate input, call one service or selector, shape the output."""

from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.api import serializers as s


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class OtpRequestView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.PhoneInput, responses={202: s.OtpIssuedOutput}, tags=["auth"])
    def post(self, request: Request) -> Response:
        data = _valid(s.PhoneInput, request)
        issued = services.otp_request(phone=data["phone"], language=get_language() or "km")
        return Response(s.OtpIssuedOutput(issued).data, status=status.HTTP_202_ACCEPTED)


class OtpVerifyView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.OtpVerifyInput, responses={200: s.LoginOutput}, tags=["auth"])
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
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.RefreshInput, responses={200: s.TokenPairOutput}, tags=["auth"])
    def post(self, request: Request) -> Response:
        tokens = services.session_refresh(raw_refresh=_valid(s.RefreshInput, request)["refresh"])
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class LogoutView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.RefreshInput, responses={204: None}, tags=["auth"])
    def post(self, request: Request) -> Response:
        services.session_logout(raw_refresh=_valid(s.RefreshInput, request)["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.SessionOutput(many=True)}, tags=["auth"])
    def get(self, request: Request) -> Response:
        sessions = selectors.sessions_of(user=request.user)
        return Response(s.SessionOutput(sessions, many=True, context={"user": request.user}).data)


class SessionDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None}, tags=["auth"])
    def delete(self, request: Request, session_id: int) -> Response:
        session = selectors.session_of(user=request.user, session_id=session_id)
        services.session_revoke(session=session, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionRevokeAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request: Request) -> Response:
        services.session_revoke_all(user=request.user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.UserOutput}, tags=["profile"])
    def get(self, request: Request) -> Response:
        return Response(s.UserOutput(request.user).data)

    @extend_schema(request=s.ProfileInput, responses={200: s.UserOutput}, tags=["profile"])
    def patch(self, request: Request) -> Response:
        serializer = s.ProfileInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, actor=request.user, **serializer.validated_data)
        return Response(s.UserOutput(user).data)


class DidChallengeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: s.ChallengeOutput}, tags=["profile"])
    def post(self, request: Request) -> Response:
        challenge = services.did_challenge_create(user=request.user)
        return Response(s.ChallengeOutput(challenge).data, status=status.HTTP_201_CREATED)


class DidBindView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.DidBindInput, responses={200: s.UserOutput}, tags=["profile"])
    def post(self, request: Request) -> Response:
        data = _valid(s.DidBindInput, request)
        user = services.did_bind(user=request.user, did=data["did"], signature=data["signature"])
        return Response(s.UserOutput(user).data)


class WalletChallengeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.WalletChallengeInput, responses={201: s.ChallengeOutput}, tags=["profile"])
    def post(self, request: Request) -> Response:
        data = _valid(s.WalletChallengeInput, request)
        challenge = services.wallet_challenge_create(user=request.user, address=data["address"])
        return Response(s.ChallengeOutput(challenge).data, status=status.HTTP_201_CREATED)


class WalletView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.WalletBindInput, responses={200: s.UserOutput}, tags=["profile"])
    def post(self, request: Request) -> Response:
        data = _valid(s.WalletBindInput, request)
        user = services.wallet_bind(user=request.user, message=data["message"], signature=data["signature"])
        return Response(s.UserOutput(user).data)

    @extend_schema(responses={200: s.UserOutput}, tags=["profile"])
    def delete(self, request: Request) -> Response:
        return Response(s.UserOutput(services.wallet_unbind(user=request.user)).data)


class ClientListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.ClientOutput(many=True)}, tags=["clients"])
    def get(self, request: Request) -> Response:
        return Response(s.ClientOutput(selectors.clients_of(user=request.user), many=True).data)

    @extend_schema(request=s.ClientInput, responses={201: s.ClientOutput}, tags=["clients"])
    def post(self, request: Request) -> Response:
        organization = services.client_create(user=request.user, **_valid(s.ClientInput, request))
        return Response(s.ClientOutput(organization).data, status=status.HTTP_201_CREATED)


class ClientDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.ClientOutput}, tags=["clients"])
    def get(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id)
        return Response(s.ClientOutput(membership.organization).data)

    @extend_schema(request=s.ClientInput(partial=True), responses={200: s.ClientOutput}, tags=["clients"])
    def patch(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        serializer = s.ClientInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organization = services.client_update(
            organization=membership.organization, actor=request.user, **serializer.validated_data
        )
        return Response(s.ClientOutput(organization).data)


class ApiKeyListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.ApiKeyOutput(many=True)}, tags=["clients"])
    def get(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id)
        return Response(s.ApiKeyOutput(selectors.api_keys_of(organization=membership.organization), many=True).data)

    @extend_schema(request=s.ApiKeyInput, responses={201: s.ApiKeyCreatedOutput}, tags=["clients"])
    def post(self, request: Request, client_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        key, secret = services.api_key_create(
            organization=membership.organization, actor=request.user, **_valid(s.ApiKeyInput, request)
        )
        key.secret = secret
        return Response(s.ApiKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.ApiKeyOutput}, tags=["clients"])
    def delete(self, request: Request, client_id: int, key_id: int) -> Response:
        membership = selectors.client_membership(user=request.user, client_id=client_id, owner=True)
        key = selectors.api_key_of(organization=membership.organization, key_id=key_id)
        return Response(s.ApiKeyOutput(services.api_key_revoke(api_key=key, actor=request.user)).data)
