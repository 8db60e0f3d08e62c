"""The trusted route: PeerPower's own codes and `sensitive` messages reach only trusted phones, sealed at rest and
masked for staff; code-looking messages only phones at the staff-set trust level."""

import re

import pytest
from django.urls import reverse

from apps.accounts.services import otp_request
from apps.messaging.choices import MessageRoute
from apps.messaging.models import Job, Message
from apps.messaging.pricing import Quote, sensitive_quote
from apps.messaging.routes import message_route
from apps.messaging.sealing import is_sealed, unseal
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim
from peerpower.settings import base as base_settings

pytestmark = pytest.mark.django_db

SMART_PHONE = "010 345 678"  # a Smart number


@pytest.fixture
def network_sender(settings):
    settings.OTP_SENDER = "apps.messaging.otp.NetworkOtpSender"
    settings.OTP_FALLBACK_SENDER = "memory"


def request_code(django_capture_on_commit_callbacks, phone=SMART_PHONE):
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone=phone)


def the_code(text):
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_a_sign_in_code_goes_only_to_the_trusted_pool_sealed(
    network_sender, django_capture_on_commit_callbacks, otp_outbox, api_client_for
):
    ordinary = provider_with_sim(Carrier.SMART)  # on the recipient's own carrier, and idle
    trusted = provider_with_sim(Carrier.METFONE, trusted=True)
    request_code(django_capture_on_commit_callbacks)
    assert otp_outbox == []  # the trusted pool had room: no fallback
    message = Message.objects.get()
    assert message.route == MessageRoute.TRUSTED
    code = the_code(message.text)
    # Nothing readable at rest. Not "no six digits": base64 ciphertext holds a run of six digits about once in 300
    # messages; the code itself by chance about once in 300 million.
    assert is_sealed(message.body) and code not in message.body and "PeerPower" not in message.body
    assert dispatch(message) == "assigned"
    job = Job.objects.get()
    assert job.provider_id == trusted.pk != ordinary.pk and job.cross_carrier
    # The trusted phone reads the text it must send; nobody else is offered it.
    answer = api_client_for(trusted.user).get(f"/api/jobs/{job.pk}").json()
    assert the_code(answer["body"]) == code
    assert api_client_for(ordinary.user).get(f"/api/jobs/{job.pk}").status_code == 404


def test_without_a_trusted_phone_the_code_goes_to_the_fallback_sender(
    network_sender, django_capture_on_commit_callbacks, otp_outbox
):
    provider_with_sim(Carrier.SMART)  # ordinary phones only
    request_code(django_capture_on_commit_callbacks)
    assert not Message.objects.exists()
    assert len(otp_outbox) == 1 and otp_outbox[0].phone == "+85510345678"


def test_without_a_fallback_the_code_waits_for_a_trusted_phone(
    network_sender, settings, django_capture_on_commit_callbacks, otp_outbox
):
    settings.OTP_FALLBACK_SENDER = ""
    provider_with_sim(Carrier.SMART)
    request_code(django_capture_on_commit_callbacks)
    message = Message.objects.get()
    assert dispatch(message) == "waiting" and not Job.objects.exists() and otp_outbox == []


def test_staff_see_sealed_bodies_masked(network_sender, django_capture_on_commit_callbacks, client, staff):
    provider_with_sim(Carrier.METFONE, trusted=True)
    request_code(django_capture_on_commit_callbacks)
    message = Message.objects.get()
    client.force_login(staff)
    page = client.get(reverse("admin:messaging_message_change", args=[message.pk])).content.decode()
    assert "(sealed)" in page and the_code(message.text) not in page and message.body not in page


def test_a_client_may_mark_a_message_sensitive(client_api, organization):
    response = client_api.post(
        "/api/messages/send", {"to": SMART_PHONE, "body": "Your ACLEDA PIN is 4417", "sensitive": True}, format="json"
    )
    assert response.status_code == 202, response.json()
    message = Message.objects.get()
    assert message.route == MessageRoute.TRUSTED and is_sealed(message.body)
    assert unseal(message.body) == "Your ACLEDA PIN is 4417"
    provider_with_sim(Carrier.SMART)
    assert dispatch(message) == "waiting"  # no trusted phone: never an ordinary one


def test_an_ordinary_message_is_not_sealed_and_goes_to_anyone(client_api):
    client_api.post("/api/messages/send", {"to": SMART_PHONE, "body": "Your order is ready"}, format="json")
    message = Message.objects.get()
    assert (message.route, message.body) == (MessageRoute.OPEN, "Your order is ready")
    provider_with_sim(Carrier.SMART)
    assert dispatch(message) == "assigned"


def test_sensitive_messages_cost_the_configured_multiple(settings):
    settings.MESSAGE_SENSITIVE_PRICE_BP = 30_000
    assert sensitive_quote(Quote(on_net=100, cross_carrier=151)) == Quote(on_net=300, cross_carrier=453)
    settings.MESSAGE_SENSITIVE_PRICE_BP = 15_000
    assert sensitive_quote(Quote(on_net=101, cross_carrier=0)) == Quote(on_net=152, cross_carrier=0)  # rounded up


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("Your Wing code is 482913. Do not share it.", MessageRoute.VETTED),
        ("OTP: 5521", MessageRoute.VETTED),
        ("លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ ៤៨២៩១៣", MessageRoute.VETTED),
        ("Order 1042 is ready for pick-up", MessageRoute.OPEN),
        ("Use code SUMMER for 10% off", MessageRoute.OPEN),
        ("ការកម្មង់លេខ 1042 រួចរាល់ហើយ", MessageRoute.OPEN),
    ],
)
def test_the_filter_reads_one_time_codes(text, route):
    assert message_route(sensitive=False, text=text) == route


def test_a_code_goes_only_to_providers_at_the_staff_set_trust_level(settings, organization):
    settings.PROVIDER_CODE_MIN_TRUST_LEVEL = 50
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=SMART_PHONE, body="Your code is 482913")
    )
    assert message.route == MessageRoute.VETTED and not is_sealed(message.body)
    provider_with_sim(Carrier.SMART, trust_level=49)
    assert dispatch(message) == "waiting"
    vetted = provider_with_sim(Carrier.SMART, trust_level=50)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    assert dispatch(message) == "assigned" and Job.objects.get().provider_id == vetted.pk


def test_by_default_a_code_waits_for_a_vetted_phone_or_the_trusted_pool(organization, settings):
    # The shipped default (the test settings let any phone carry codes): a phone nobody graded never sees a
    # client's code, a trusted-pool phone may.
    settings.PROVIDER_CODE_MIN_TRUST_LEVEL = base_settings.PROVIDER_CODE_MIN_TRUST_LEVEL
    assert settings.PROVIDER_CODE_MIN_TRUST_LEVEL == 50
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=SMART_PHONE, body="OTP: 5521")
    )
    assert message.route == MessageRoute.VETTED
    provider_with_sim(Carrier.SMART)  # new providers start at level 0
    provider_with_sim(Carrier.SMART, trust_level=25)
    assert dispatch(message) == "waiting"
    pool = provider_with_sim(Carrier.SMART, trusted=True)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    assert dispatch(message) == "assigned" and Job.objects.get().provider_id == pool.pk


def test_an_ordinary_message_still_goes_to_any_phone(organization):
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=SMART_PHONE, body="Your parcel arrives today")
    )
    anyone = provider_with_sim(Carrier.SMART)
    assert dispatch(message) == "assigned" and Job.objects.get().provider_id == anyone.pk
