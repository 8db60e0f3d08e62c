"""Back-office screens for identity: they render, never show codes or key secrets, and their actions audit."""

import pytest

from apps.accounts.models import ApiKey, DeviceSession, User
from apps.accounts.services import api_key_create, client_create, otp_request, session_start
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import code_from
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("+85598000001", "staff-password-1"))
    return client


def test_pages_render_and_hide_secrets(staff_client, otp_outbox):
    user = UserFactory()
    session_start(user=user, device_name="Galaxy")
    organization = client_create(user=user, name="Acme")
    _, secret = api_key_create(organization=organization, actor=user, name="server")
    otp_request(phone=user.phone)
    code = code_from(otp_outbox[-1])
    for url in [
        "/admin/accounts/user/",
        f"/admin/accounts/user/{user.pk}/change/",
        "/admin/accounts/devicesession/",
        "/admin/accounts/otpchallenge/",
        "/admin/accounts/clientorganization/",
        f"/admin/accounts/clientorganization/{organization.pk}/change/",
        "/admin/accounts/apikey/",
        "/admin/accounts/user/?q=012",
    ]:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert secret not in response.content.decode()
    otp_page = staff_client.get("/admin/accounts/otpchallenge/").content.decode()
    assert user.phone in otp_page
    assert "code_hash" not in otp_page and code not in otp_page


def test_revoke_actions_go_through_services(staff_client):
    user = UserFactory()
    session_start(user=user)
    organization = client_create(user=user, name="Acme")
    key, _ = api_key_create(organization=organization, actor=user, name="server")
    staff_client.post(
        "/admin/accounts/devicesession/",
        {"action": "revoke", "_selected_action": [DeviceSession.objects.get().pk]},
    )
    staff_client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert DeviceSession.objects.get().revoked_at is not None
    assert ApiKey.objects.get().revoked_at is not None
    staff = User.objects.get(phone="+85598000001")
    assert AuditLog.objects.filter(action="session.revoked", actor=staff).exists()
    assert AuditLog.objects.filter(action="api_key.revoked", actor=staff).exists()
