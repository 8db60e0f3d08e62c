"""Helpers for identity tests: reading sent codes and signing in through the real API."""

import re

from apps.accounts.otp import OtpMessage


def code_from(message: OtpMessage) -> str:
    return re.search(r"\b(\d{6})\b", message.text).group(1)


def sign_in(api_client, otp_outbox: list, phone: str = "012 345 678", device_name: str = "Pixel") -> dict:
    """Request a code and verify it through the API; returns the login response body."""
    assert api_client.post("/api/auth/otp/request", {"phone": phone}, format="json").status_code == 202
    code = code_from(otp_outbox[-1])
    response = api_client.post(
        "/api/auth/otp/verify", {"phone": phone, "code": code, "device_name": device_name}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()
