"""The FCM fake itself answers as FCM and Google's token endpoint do, for clients other than firebase-admin too."""

import requests
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from apps.delivery.fcm_fake import FcmFake


def send_url(fake: FcmFake) -> str:
    return f"{fake.endpoint}/v1/projects/{fake.project_id}/messages:send"


def test_a_send_without_an_access_token_gets_googles_401_and_is_recorded(fcm_fake):
    response = requests.post(send_url(fcm_fake), json={"message": {"token": "t", "data": {"a": "b"}}}, timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "details" not in response.json()["error"]
    assert [(message.token, message.http_status) for message in fcm_fake.messages] == [("t", 401)]


def test_the_token_endpoint_refuses_other_grants_and_unsigned_assertions(fcm_fake):
    wrong_grant = requests.post(fcm_fake.token_uri, data={"grant_type": "client_credentials"}, timeout=5)
    forged = requests.post(
        fcm_fake.token_uri,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "e30.e30.c2ln"},
        timeout=5,
    )

    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
    assert (forged.status_code, forged.json()["error"]) == (400, "invalid_grant")
    assert fcm_fake.token_grants == 0


def test_a_message_fcm_would_refuse_gets_invalid_argument_naming_the_field(fcm_fake, fcm_credentials_file):
    credentials = service_account.Credentials.from_service_account_file(
        fcm_credentials_file, scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    credentials.refresh(Request())
    response = requests.post(
        send_url(fcm_fake),
        json={"message": {"token": "t", "data": {"job": 42}}},
        headers={"Authorization": f"Bearer {credentials.token}"},
        timeout=5,
    )

    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": "INVALID_ARGUMENT",
    }
    assert error["details"][1]["fieldViolations"][0]["field"] == "message.data[job]"


def test_a_data_payload_over_fcms_limit_is_refused_as_too_big(fcm_fake, fcm_credentials_file):
    credentials = service_account.Credentials.from_service_account_file(
        fcm_credentials_file, scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    credentials.refresh(Request())
    for size, status in ((4000, 200), (4100, 400)):
        response = requests.post(
            send_url(fcm_fake),
            json={"message": {"token": "t", "data": {"job": "42", "sealed": "A" * size}}},
            headers={"Authorization": f"Bearer {credentials.token}"},
            timeout=5,
        )
        assert response.status_code == status, response.text
    assert response.json()["error"]["message"] == "Android message is too big"


def test_a_restarted_fake_accepts_the_service_account_an_earlier_one_wrote(tmp_path):
    path = tmp_path / "service-account.json"
    with FcmFake() as first:
        first.write_service_account(path)
        port = int(first.endpoint.rsplit(":", 1)[1])
    with FcmFake(port=port) as restarted:
        assert restarted.accept_service_account(path)
    with FcmFake() as elsewhere:
        assert not elsewhere.accept_service_account(path)  # its token_uri names another server
