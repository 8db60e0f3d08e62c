"""Schemathesis drives every API operation from the OpenAPI schema against the Django WSGI app (real database and
cache): no input may cause a server error, and every answer - errors included - must match the schema.

Each operation is one pytest test (its own rolled-back transaction) running a few deterministic Hypothesis examples.
Schemathesis' own pytest plugin is not used: its `from_fixture` does not run under pytest 9.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.services import client_create, session_start
from apps.providers.tests.factories import provider_with_sim
from peerpower.wsgi import application

# Refusals of schema-valid requests that no schema can state: whether a number exists, a signature verifies, a
# host resolves, a code matches what was sent, or what state the data is in. Each is a documented, coded 4xx.
RULES_BEYOND_THE_SCHEMA = {
    "phone_invalid",
    "phone_not_mobile",
    "phone_region_not_allowed",
    "did_malformed",
    "seal_key_invalid",  # a device's HPKE key: base64 of 32 bytes of an X25519 point of full order
    "wallet_message_malformed",
    "webhook_url_unresolvable",
    "body_control_characters",
    "body_invalid_unicode",
    "body_too_many_segments",
    "sim_limit_reached",  # PROVIDER_MAX_SIMS, a setting
    "schedule_invalid",  # relative to now: within 30 days
    "webhook_url_private_address",
    # Top-ups: amounts against the currency's places and the configured bounds; whether a Baray ciphertext decrypts.
    "amount_not_positive",
    "amount_too_precise",
    "amount_below_minimum",
    "amount_above_maximum",
    "notification_invalid",
    "challenge_invalid",  # a well-formed did:key (the schema's example) with no challenge issued to sign
    # The schema's example sign-in code, for a number no code was sent to (locked after OTP_MAX_ATTEMPTS tries).
    "otp_invalid",
    "otp_locked",
    # Billing reports: a range whose ends are in the wrong order or too far apart, a month still to come.
    "date_range_invalid",
    "date_range_too_long",
    "month_invalid",
    # Admission control: the network's backlog, shared by every request (apps.messaging.services.admission).
    "overloaded",
    # Payouts: the provider's balance, today's payouts, verified SIMs and whitelisted accounts, the configured
    # minimum (a wallet payout's is also the smallest withdrawal's; no bound wallet is a 404, accepted as it is).
    "payout_below_minimum",
    "payout_amount_too_small",
    "payout_above_available",
    "payout_daily_limit_exceeded",
    "payout_number_unverified",
    "payout_account_not_whitelisted",
}


def refusal_codes(body: dict) -> set[str]:
    """The refusal's code, or each field's codes when several fields were refused."""
    if body.get("code") != "validation_error":
        return {body.get("code")}
    fields = body.get("details", {}).get("fields", {})
    return {entry.get("code") for entries in fields.values() if isinstance(entries, list) for entry in entries}


def positive_data_accepted(ctx, response, case):
    """positive_data_acceptance, except for the refusals above."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if refusal_codes(response.json()) <= RULES_BEYOND_THE_SCHEMA:
            return None
        raise


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    positive_data_accepted,
    negative_data_rejection,
]
# Without credentials every case is refused (401) before its data is looked at: only the answer's shape is checked.
ANONYMOUS_CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def wsgi_requests_in_the_test_transaction():
    """Schemathesis calls the WSGI app directly, where Django closes database connections at the end of every
    request; the test's transaction (and PostgreSQL's connection) must survive them, as Django's test client
    arranges for its own requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def baray_and_rates(baray_server, settings):
    """Top-ups need an exchange rate in force and Baray (its local fake) answering."""
    from apps.payments.models import ExchangeRate

    settings.BARAY_API_URL = baray_server.endpoint
    settings.BARAY_CHECKOUT_URL = baray_server.checkout_url
    ExchangeRate.objects.create(currency="USD", ppt_per_unit=40)
    ExchangeRate.objects.create(currency="KHR", ppt_per_unit="0.01")


@pytest.fixture
def credentials(api_key, baray_and_rates) -> dict[str, str]:
    """Bearer values by security scheme: a client's API key, and the JWT of a person who is a provider (with a SIM
    and a phone) and owns a client organisation."""
    provider = provider_with_sim()
    client_create(user=provider.user, name="Fuzz Co")
    tokens = session_start(user=provider.user, device_name="fuzz")
    return {"apiKey": api_key.secret, "jwt": tokens.access}


def authorization(operation, credentials: dict[str, str]) -> dict[str, str]:
    """The first credential the operation's security requirements accept (none for public operations)."""
    for requirement in operation.definition.raw.get("security", []):
        for scheme in requirement:
            if scheme in credentials:
                return {"Authorization": f"Bearer {credentials[scheme]}"}
    return {}


def run_operation(operation, headers: dict[str, str], max_examples: int, checks: list = CHECKS) -> None:
    # Credentials are given to the generator (not added to the call), so negative cases never mutate them.
    strategies = [operation.as_strategy(generation_mode=mode, headers=headers) for mode in GenerationMode]

    @given(case=st.one_of(*strategies))
    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        case.call_and_validate(checks=checks)

    run()


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
@pytest.mark.usefixtures("wsgi_requests_in_the_test_transaction")
def test_api_operation(operation, credentials):
    """As the caller the operation is for: a client's API key, else a provider's (and client member's) JWT, else
    nobody (public operations)."""
    run_operation(operation, authorization(operation, credentials), max_examples=10)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
@pytest.mark.usefixtures("wsgi_requests_in_the_test_transaction")
def test_api_operation_with_the_other_credential(operation, credentials):
    """Operations that accept both an API key and a JWT, called with the JWT (a provider who is also a member of a
    client organisation), so both kinds of caller are fuzzed."""
    schemes = [scheme for requirement in operation.definition.raw.get("security", []) for scheme in requirement]
    if not {"apiKey", "jwt"} <= set(schemes):
        pytest.skip("one kind of caller only")
    run_operation(operation, {"Authorization": f"Bearer {credentials['jwt']}"}, max_examples=5)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
@pytest.mark.usefixtures("wsgi_requests_in_the_test_transaction")
def test_api_operation_unauthenticated(operation):
    """Without credentials: protected operations answer 401 in the documented shape, whatever the input."""
    if not operation.definition.raw.get("security", []):
        pytest.skip("public: fuzzed above")
    run_operation(operation, {}, max_examples=3, checks=ANONYMOUS_CHECKS)
