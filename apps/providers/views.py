"""The providers API for the mobile app (JWT). Views translate: input serializer -> one service -> output."""

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import OtpIssuedOutput
from apps.accounts.errors import DeviceDenied, OtpExpired, OtpInvalid, OtpLocked, OtpResendTooSoon, SimDenied
from apps.accounts.phone import PhoneInvalid, PhoneNotMobile, PhoneRegionNotAllowed
from apps.core.errors import RateLimited
from apps.core.schema import raises
from apps.providers import errors, services
from apps.providers import serializers as s
from apps.providers.carriers import MccMncNotAllowed
from apps.providers.models import Provider, Sim
from apps.providers.selectors import provider_for_user, sim_of_provider, sim_usage
from apps.providers.services.caps import caps_for_sim


def _location(data: dict | None) -> services.Location | None:
    return services.Location(latitude=data["lat"], longitude=data["lng"]) if data else None


def _sim_data(sim: Sim, usage: Any, now: Any) -> dict[str, Any]:
    caps = caps_for_sim(sim, now=now)
    return {
        "id": sim.pk,
        "msisdn": sim.msisdn,
        "slot": sim.slot,
        "carrier": sim.carrier,
        "carrier_mismatch": sim.carrier_mismatch,
        "verified": sim.verified_at is not None,
        "ready": sim.ready,
        "hourly_cap": sim.hourly_cap,
        "daily_cap": sim.daily_cap,
        "caps": {"hourly": caps.hourly, "daily": caps.daily, "warming_up": caps.warming_up},
        "sent": {"hour": usage.hour, "day": usage.day},
    }


def _provider_data(provider: Provider) -> dict[str, Any]:
    now = timezone.now()
    sims = provider.active_sims
    usage = sim_usage(sims, now=now)
    location = None
    if provider.latitude is not None:
        location = {"lat": provider.latitude, "lng": provider.longitude}
    return {
        "id": provider.pk,
        "status": provider.status,
        "availability": provider.availability,
        "chosen_availability": provider.chosen_availability,
        "province": provider.province,
        "location": location,
        "reputation": provider.reputation,
        "jobs_in_flight": provider.jobs_in_flight,
        "heartbeat_interval": settings.PROVIDER_HEARTBEAT_INTERVAL,
        "sims": [_sim_data(sim, usage[sim.pk], now) for sim in sims],
    }


def _provider_response(user: Any, status_code: int = status.HTTP_200_OK) -> Response:
    provider = provider_for_user(user)
    return Response(s.ProviderOutputSerializer(_provider_data(provider)).data, status=status_code)


NOT_REGISTERED = (
    errors.ProviderNotRegistered,
    "You have not registered as a provider (`POST /api/providers/register`).",
)
SIM_ERRORS = (
    PhoneInvalid,
    PhoneNotMobile,
    PhoneRegionNotAllowed,
    MccMncNotAllowed,
    errors.SimAlreadyRegistered,
    errors.SimSlotTaken,
    (errors.SimLimitReached, "You have as many active SIMs as PROVIDER_MAX_SIMS allows."),
    (SimDenied, "Staff deny-listed this SIM number."),
)
CODE_ERRORS = (
    OtpInvalid,
    OtpExpired,
    OtpLocked,
    (RateLimited, "Too many attempts from this address."),
    errors.SimAlreadyVerified,
)


class RegisterView(APIView):
    @raises(
        errors.ProviderAlreadyRegistered,
        errors.SimDuplicate,
        *SIM_ERRORS,
        errors.DeviceRegisteredToAnotherProvider,
        (DeviceDenied, "Staff deny-listed this device (its installation id or token)."),
        (errors.SealKeyInvalid, "`seal_key` is not the base64 of an X25519 public key (32 bytes)."),
    )
    @extend_schema(
        operation_id="providers_register",
        request=s.RegisterInputSerializer,
        responses={201: s.ProviderOutputSerializer},
        summary="Become a provider: SIMs, phone, province",
        description="Registers you (signed in with your phone) as a provider with your phone's SIMs, its push "
        "token and your province. You start offline; verify each SIM, then go online with `PATCH "
        "/api/providers/me`.",
    )
    def post(self, request: Request) -> Response:
        data = s.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        services.provider_register(
            user=request.user,
            sims=[services.SimInput(**sim) for sim in body["sims"]],
            device=services.DeviceInput(**body["device"]),
            province=body["province"],
            location=_location(body["location"]),
        )
        return _provider_response(request.user, status.HTTP_201_CREATED)


class MeView(APIView):
    @raises(NOT_REGISTERED)
    @extend_schema(
        operation_id="providers_me",
        responses={200: s.ProviderOutputSerializer},
        summary="Your provider profile",
        description="Status, availability, province, reputation, and each SIM with its caps and today's usage.",
    )
    def get(self, request: Request) -> Response:
        return _provider_response(request.user)

    @raises(
        NOT_REGISTERED,
        errors.ProviderNotActive,
        (errors.SimNotFound, "A SIM id in `sims` is not one of yours."),
        (errors.CapAboveMaximum, "A cap is above PROVIDER_SIM_HOURLY_CAP_MAX / _DAILY_CAP_MAX."),
    )
    @extend_schema(
        operation_id="providers_me_update",
        request=s.ProviderUpdateInputSerializer,
        responses={200: s.ProviderOutputSerializer},
        summary="Go online / busy / offline, set province, location and own SIM caps",
        description="Change any of them; caps left `null` go back to the network default. A suspended or banned "
        "provider may only go offline.",
    )
    def patch(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        data = s.ProviderUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        services.provider_update(
            provider=provider,
            actor=request.user,
            availability=body.get("availability", services.UNSET),
            province=body.get("province", services.UNSET),
            location=_location(body["location"]) if "location" in body else services.UNSET,
            sim_caps=[
                services.SimCaps(sim_id=caps["id"], hourly_cap=caps["hourly_cap"], daily_cap=caps["daily_cap"])
                for caps in body.get("sims", [])
            ],
        )
        return _provider_response(request.user)


class SimListView(APIView):
    @raises(NOT_REGISTERED, errors.ProviderNotActive, *SIM_ERRORS)
    @extend_schema(
        operation_id="providers_me_sims_add",
        request=s.SimInputSerializer,
        responses={201: s.SimOutputSerializer},
        summary="Add a SIM",
        description="A SIM in the phone's given slot; its carrier comes from `mcc_mnc` when sent, else from the "
        "number. Verify it next with a code sent to its number.",
    )
    def post(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        data = s.SimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sim = services.sim_add(provider=provider, actor=request.user, **data.validated_data)
        now = timezone.now()
        body = _sim_data(sim, sim_usage([sim], now=now)[sim.pk], now)
        return Response(s.SimOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class SimDetailView(APIView):
    @raises(NOT_REGISTERED, errors.SimNotFound)
    @extend_schema(
        operation_id="providers_me_sims_remove",
        responses={204: None},
        summary="Remove a SIM",
        description="The SIM gets no more jobs; jobs it holds finish or go back to the queue.",
    )
    def delete(self, request: Request, sim_id: int) -> Response:
        provider = provider_for_user(request.user)
        sim = sim_of_provider(provider=provider, sim_id=sim_id)
        services.sim_remove(sim=sim, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SimVerificationView(APIView):
    @raises(
        NOT_REGISTERED,
        errors.SimNotFound,
        errors.SimAlreadyVerified,
        (SimDenied, "Staff deny-listed this SIM number."),
        (OtpResendTooSoon, "A code was sent moments ago; `details.retry_after` says when to ask again."),
        (RateLimited, "Too many codes asked for this number."),
    )
    @extend_schema(
        operation_id="providers_me_sims_verification_request",
        request=None,
        responses={202: OtpIssuedOutput},
        summary="Send a verification code to this SIM's number",
        description="An SMS with a six-digit code goes to the SIM's number; send it to `.../verify`.",
    )
    def post(self, request: Request, sim_id: int) -> Response:
        sim = sim_of_provider(provider=provider_for_user(request.user), sim_id=sim_id)
        issued = services.sim_verification_request(sim=sim, language=get_language() or "km")
        return Response(OtpIssuedOutput(issued).data, status=status.HTTP_202_ACCEPTED)


class SimVerifyView(APIView):
    @raises(NOT_REGISTERED, errors.SimNotFound, *CODE_ERRORS)
    @extend_schema(
        operation_id="providers_me_sims_verify",
        request=s.SimVerifyInputSerializer,
        responses={200: s.SimOutputSerializer},
        summary="Prove the SIM is yours with the code it received",
        description="A verified SIM can take jobs.",
    )
    def post(self, request: Request, sim_id: int) -> Response:
        sim = sim_of_provider(provider=provider_for_user(request.user), sim_id=sim_id)
        data = s.SimVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sim = services.sim_verify(sim=sim, code=data.validated_data["code"], actor=request.user)
        now = timezone.now()
        body = _sim_data(sim, sim_usage([sim], now=now)[sim.pk], now)
        return Response(s.SimOutputSerializer(body).data)


class DeviceView(APIView):
    @raises(
        NOT_REGISTERED,
        errors.DeviceRegisteredToAnotherProvider,
        (DeviceDenied, "Staff deny-listed this device (its installation id or token)."),
        (errors.SealKeyInvalid, "`seal_key` is not the base64 of an X25519 public key (32 bytes)."),
    )
    @extend_schema(
        operation_id="providers_me_devices_register",
        request=s.DeviceRegisterInputSerializer,
        responses={200: s.DeviceOutputSerializer},
        summary="Register this phone's FCM token, or a rotated one (idempotent)",
        description="Jobs are pushed to this token. Send it again whenever Firebase rotates it; the answer's `id` "
        "is the device id the heartbeat and reports name.",
    )
    def post(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        data = s.DeviceRegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_register(provider=provider, actor=request.user, **data.validated_data)
        return Response(s.DeviceOutputSerializer(device).data)


class HeartbeatView(APIView):
    rate_limit_scope = "heartbeat"

    @raises(NOT_REGISTERED, errors.DeviceNotRegistered)
    @extend_schema(
        operation_id="providers_me_heartbeat",
        request=s.HeartbeatInputSerializer,
        responses={200: s.HeartbeatOutputSerializer},
        summary="Report the phone's state; the answer says when to report next and how many jobs wait",
        description="Battery, network, signal and ready SIMs; a phone that stops reporting is taken offline.",
    )
    def post(self, request: Request) -> Response:
        provider = provider_for_user(request.user)
        data = s.HeartbeatInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        reply = services.provider_heartbeat(
            provider=provider,
            battery=body["battery"],
            charging=body["charging"],
            network=body["network"],
            signal=body["signal"],
            sims_ready=body["sims_ready"],
            app_version=body["app_version"],
            device_id=body["device"],
        )
        out = {"next": reply.next_interval, "jobs": reply.jobs_waiting, "availability": reply.availability}
        return Response(s.HeartbeatOutputSerializer(out).data)
