"""Client vetting: the sandbox application through the API, staff decisions (audited, webhook event, email), staff
plans bounding key limits and key counts. The send path's sandbox rules are in apps/messaging/tests/test_sandbox.py."""

import json

import pytest
from django.core import mail

from apps.accounts.auth_cache import api_key_valid
from apps.accounts.choices import ApplicationStatus
from apps.accounts.models import ApiKey, ClientApplication, ClientOrganization
from apps.accounts.services import (
    api_key_create,
    api_key_revoke,
    api_key_update,
    client_application_decide,
    client_create,
    client_plan_assign,
    client_plan_ensure,
    hash_api_key,
)
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.core.errors import DomainError
from apps.delivery.webhooks.models import WebhookEvent
from apps.delivery.webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

APPLICATION = {
    "business_name": "Angkor Coffee Co., Ltd.",
    "registration_number": "00012345",
    "use_case": "Order-ready notices to customers who ordered in our app.",
    "sample_messages": ["កាហ្វេរបស់អ្នករួចរាល់ហើយ។", "Your coffee is ready."],
    "expected_daily_volume": 300,
}


@pytest.fixture(autouse=True)
def _vetting_on(settings):
    settings.CLIENT_VETTING_REQUIRED = True


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def owner_api(api_client_for, owner):
    return api_client_for(owner)


@pytest.fixture
def organization(owner_api):
    response = owner_api.post(
        "/api/clients", {"name": "Angkor Coffee", "contact_email": "ops@angkor.example"}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def url(organization, tail=""):
    return f"/api/clients/{organization['id']}/application{tail}"


def submitted(owner_api, organization):
    assert owner_api.put(url(organization), APPLICATION, format="json").status_code == 200
    response = owner_api.post(url(organization, "/submit"))
    assert response.status_code == 200, response.json()
    return ClientApplication.objects.get(organization_id=organization["id"])


def test_a_new_organisation_starts_sandboxed_on_the_default_plan(organization, settings):
    assert organization["sandboxed"] is True and organization["approved_at"] is None
    assert organization["limits"] == {
        "key_rate_per_second": settings.MESSAGE_RATE_PER_SECOND,
        "key_rate_per_day": settings.MESSAGE_QUOTA_PER_DAY,
        "organization_rate_per_day": settings.CLIENT_PLAN_DEFAULT_ORGANIZATION_PER_DAY,
        "max_api_keys": settings.CLIENT_PLAN_DEFAULT_MAX_API_KEYS,
    }


def test_with_vetting_off_a_new_organisation_is_approved_at_once(settings, owner):
    settings.CLIENT_VETTING_REQUIRED = False
    assert client_create(user=owner, name="Test Co").is_sandboxed is False


def test_no_application_yet_is_404_with_its_code(owner_api, organization):
    response = owner_api.get(url(organization))
    assert (response.status_code, response.json()["code"]) == (404, "client_application_not_found")
    assert owner_api.post(url(organization, "/submit")).json()["code"] == "client_application_not_found"


def test_owner_fills_and_submits_the_application(owner_api, organization):
    response = owner_api.put(url(organization), APPLICATION, format="json")
    assert response.status_code == 200 and response.json()["status"] == "draft"
    assert owner_api.get(url(organization)).json()["sample_messages"] == APPLICATION["sample_messages"]
    response = owner_api.post(url(organization, "/submit"))
    assert response.json()["status"] == "submitted" and response.json()["submitted_at"]
    actions = set(AuditLog.objects.filter(action__startswith="client_application.").values_list("action", flat=True))
    assert actions == {"client_application.created", "client_application.submitted"}


def test_a_submitted_application_cannot_be_changed_or_submitted_again(owner_api, organization):
    submitted(owner_api, organization)
    response = owner_api.put(url(organization), APPLICATION, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "client_application_locked")
    assert owner_api.post(url(organization, "/submit")).json()["code"] == "client_application_locked"


def test_application_input_is_validated(owner_api, organization):
    response = owner_api.put(url(organization), {**APPLICATION, "sample_messages": []}, format="json")
    assert response.status_code == 400
    response = owner_api.put(url(organization), {**APPLICATION, "expected_daily_volume": 0}, format="json")
    assert response.status_code == 400


def test_only_an_owner_may_fill_it_and_strangers_see_nothing(api_client_for, owner_api, organization):
    member = UserFactory()
    org = ClientOrganization.objects.get(pk=organization["id"])
    org.memberships.create(user=member, role="member")
    response = api_client_for(member).put(url(organization), APPLICATION, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "client_owner_required")
    assert api_client_for(UserFactory()).get(url(organization)).status_code == 404


def test_approval_takes_the_organisation_live_audited_with_webhook_event_and_email(
    owner_api, organization, django_capture_on_commit_callbacks
):
    org = ClientOrganization.objects.get(pk=organization["id"])
    webhook_endpoint_create(organization=org, actor=None, url="http://127.0.0.1:9/hook")
    application = submitted(owner_api, organization)
    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        client_application_decide(application=application, decision="approve", actor=staff, note="Welcome aboard.")
    org.refresh_from_db()
    assert org.approved_at is not None and org.is_sandboxed is False
    assert owner_api.get(f"/api/clients/{org.pk}").json()["sandboxed"] is False
    assert AuditLog.objects.filter(action="client_application.approved", actor_id=staff.pk).exists()
    event = WebhookEvent.objects.get(type="client.application.decided")
    assert json.loads(event.body)["data"]["application"] == {"status": "approved", "staff_note": "Welcome aboard."}
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@angkor.example"]
    assert "Welcome aboard." in mail.outbox[0].body


def test_request_changes_lets_the_owner_edit_and_submit_again(
    owner_api, organization, django_capture_on_commit_callbacks
):
    application = submitted(owner_api, organization)
    with django_capture_on_commit_callbacks(execute=True):
        client_application_decide(
            application=application, decision="request_changes", actor=UserFactory(is_staff=True), note="Add samples."
        )
    body = owner_api.get(url(organization)).json()
    assert (body["status"], body["staff_note"]) == ("changes_requested", "Add samples.")
    assert ClientOrganization.objects.get(pk=organization["id"]).is_sandboxed
    assert owner_api.put(url(organization), APPLICATION, format="json").status_code == 200
    assert owner_api.post(url(organization, "/submit")).json()["status"] == "submitted"


def test_rejection_keeps_the_sandbox_and_locks_the_application(owner_api, organization):
    application = submitted(owner_api, organization)
    client_application_decide(application=application, decision="reject", actor=UserFactory(is_staff=True), note="No.")
    assert ClientOrganization.objects.get(pk=organization["id"]).is_sandboxed
    assert owner_api.put(url(organization), APPLICATION, format="json").json()["code"] == "client_application_locked"


def test_only_a_submitted_application_can_be_decided(owner_api, organization):
    assert owner_api.put(url(organization), APPLICATION, format="json").status_code == 200
    application = ClientApplication.objects.get()
    with pytest.raises(DomainError) as raised:
        client_application_decide(application=application, decision="approve", actor=UserFactory(is_staff=True))
    assert raised.value.code == "client_application_not_submitted"
    assert ClientApplication.objects.get().status == ApplicationStatus.DRAFT


def test_staff_decide_in_the_admin_with_the_note(owner_api, organization, client):
    application = submitted(owner_api, organization)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = f"/admin/accounts/clientapplication/{application.pk}/change/"
    assert b'name="_approve"' in client.get(page).content
    response = client.post(page, {"staff_note": "Looks legitimate.", "_approve": "Approve"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.staff_note, application.decided_by) == (
        "approved",
        "Looks legitimate.",
        staff,
    )


# --- plans ------------------------------------------------------------------------------------------------------------


def test_a_key_above_the_plan_is_refused_and_at_or_under_it_accepted(owner_api, organization, settings):
    keys = f"/api/clients/{organization['id']}/api-keys"
    response = owner_api.post(
        keys, {"name": "x", "rate_per_second": settings.MESSAGE_RATE_PER_SECOND + 1}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "api_key_limit_above_plan")
    assert response.json()["details"]["maximum"] == {"rate_per_second": settings.MESSAGE_RATE_PER_SECOND}
    assert (
        owner_api.post(
            keys, {"name": "x", "rate_per_second": settings.MESSAGE_RATE_PER_SECOND}, format="json"
        ).status_code
        == 201
    )
    assert (
        owner_api.post(keys, {"name": "y", "rate_per_second": 1, "rate_per_day": 10}, format="json").status_code == 201
    )


def keys_url(organization, key_id=None):
    keys = f"/api/clients/{organization['id']}/api-keys"
    return keys if key_id is None else f"{keys}/{key_id}"


def test_an_owner_lowers_a_key_within_the_plan_and_cannot_raise_it_above(owner_api, organization, settings):
    plan_rate = settings.MESSAGE_RATE_PER_SECOND
    key = owner_api.post(keys_url(organization), {"name": "batch"}, format="json").json()
    detail = keys_url(organization, key["id"])

    lowered = owner_api.patch(detail, {"rate_per_second": 2, "rate_per_day": 100}, format="json")
    assert lowered.status_code == 200
    assert (lowered.json()["rate_per_second"], lowered.json()["rate_per_day"]) == (2, 100)
    [entry] = AuditLog.objects.filter(action="api_key.updated", target_id=str(key["id"]))
    assert (entry.before, entry.after) == (
        {"rate_per_second": None, "rate_per_day": None},
        {"rate_per_second": 2, "rate_per_day": 100},
    )

    refused = owner_api.patch(detail, {"rate_per_second": plan_rate + 1}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "api_key_limit_above_plan")
    assert refused.json()["details"]["maximum"] == {"rate_per_second": plan_rate}
    assert ApiKey.objects.get(pk=key["id"]).rate_per_second == 2

    back_to_plan = owner_api.patch(detail, {"rate_per_second": None, "name": "nightly batch"}, format="json")
    assert back_to_plan.status_code == 200
    assert (back_to_plan.json()["rate_per_second"], back_to_plan.json()["name"]) == (None, "nightly batch")
    assert AuditLog.objects.filter(action="api_key.updated", target_id=str(key["id"])).count() == 2
    owner_api.patch(detail, {"rate_per_day": 100}, format="json")  # no change: nothing to audit
    assert AuditLog.objects.filter(action="api_key.updated", target_id=str(key["id"])).count() == 2


def test_a_lowered_daily_limit_holds_from_the_keys_next_request(owner, organization):
    org = ClientOrganization.objects.get(pk=organization["id"])
    key, secret = api_key_create(organization=org, actor=owner, name="server")
    assert api_key_valid(secret_hash=hash_api_key(secret), load=lambda: key)[0].rate_per_day is None  # now cached
    api_key_update(api_key=key, actor=owner, rate_per_day=3)
    cached, loaded = api_key_valid(secret_hash=hash_api_key(secret), load=lambda: ApiKey.objects.get(pk=key.pk))
    assert (loaded, cached.rate_per_day) == (True, 3)


def test_a_revoked_key_and_another_members_key_cannot_change(owner_api, organization, api_client_for):
    key = owner_api.post(keys_url(organization), {"name": "old"}, format="json").json()
    detail = keys_url(organization, key["id"])
    member = api_client_for(UserFactory())
    assert member.patch(detail, {"rate_per_second": 1}, format="json").status_code == 404
    owner_api.delete(detail)
    refused = owner_api.patch(detail, {"rate_per_second": 1}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "api_key_already_revoked")
    assert owner_api.patch(detail, {"rate_per_second": 0}, format="json").status_code == 400


def test_the_plan_raises_the_bound_and_bounds_the_number_of_keys(owner, organization):
    org = ClientOrganization.objects.get(pk=organization["id"])
    plan = client_plan_ensure(
        name="Bank", key_rate_per_second=500, key_rate_per_day=10**6, organization_rate_per_day=10**7, max_api_keys=2
    )
    client_plan_assign(organization=org, plan=plan, actor=UserFactory(is_staff=True))
    assert AuditLog.objects.filter(action="client.plan_changed", target_id=str(org.pk)).exists()
    api_key_create(organization=org, actor=owner, name="a", rate_per_second=500)
    second, _ = api_key_create(organization=org, actor=owner, name="b")
    with pytest.raises(DomainError) as raised:
        api_key_create(organization=org, actor=owner, name="c")
    assert (raised.value.status_code, raised.value.code) == (409, "api_key_limit_reached")
    api_key_revoke(api_key=second, actor=owner)
    api_key_create(organization=org, actor=owner, name="c")  # a revoked key frees its place


def test_staff_change_the_plan_on_the_organisation_page_audited(organization, client):
    plan = client_plan_ensure(
        name="Bank", key_rate_per_second=500, key_rate_per_day=10**6, organization_rate_per_day=10**7, max_api_keys=9
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = f"/admin/accounts/clientorganization/{organization['id']}/change/"
    form = client.get(page).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "plan"}
    created = data.pop("created_at")  # the admin splits a date-time into a date and a time input
    data.update({"created_at_0": created.date().isoformat(), "created_at_1": created.time().strftime("%H:%M:%S")})
    data.update({"plan": plan.pk, "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0})
    data.update({"api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0})
    response = client.post(page, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert ClientOrganization.objects.get(pk=organization["id"]).plan == plan
    assert AuditLog.objects.filter(action="client.plan_changed", actor_id=staff.pk).count() == 1
