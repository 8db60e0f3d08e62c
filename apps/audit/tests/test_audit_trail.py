"""The audit trail is complete: every state-changing service is either known to write an audit row or allowed
not to with a reviewed reason, every admin add/change/delete writes one in the same transaction, and every admin
action calls a service that does."""

import importlib
import inspect
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.test import RequestFactory

from apps.accounts.models import ApiKey, ClientMembership, User
from apps.accounts.services import api_key_create, client_create
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog

ROOT = Path(__file__).resolve().parents[3]

# A public service whose name says it changes state. Read-only helpers (`*_for`, `*_get`, ...) do not match.
STATE_CHANGING = re.compile(
    r"_(create|update|delete|set|block|ban|add|remove|approve|reject|suspend|revoke|register|cancel|submit|bind|"
    r"unbind|clear|request|resolve|requeue|moderate|rotate|enable|save|propose|whitelist|settle|penalty|strike|"
    r"erase|export|deny|redact)"
)

# Services that write an audit row, with the action they write (reviewed by reading the code; the behaviour of
# the ones this file fixed is tested below, the others in their apps' tests).
AUDITED = {
    "apps.accounts.services.denylist.deny_list_add": "deny_list.added",
    "apps.accounts.services.denylist.deny_list_remove": "deny_list.removed",
    "apps.accounts.services.denylist.deny_list_erased_number": "deny_list.added",
    "apps.accounts.services.vetting.client_application_save": "client_application.updated",
    "apps.accounts.services.vetting.client_application_submit": "client_application.submitted",
    "apps.messaging.services.rules.stop_keyword_add": "stop_keyword.added",
    "apps.messaging.services.rules.stop_keyword_remove": "stop_keyword.removed",
    "apps.providers.services.trust.provider_trust_set": "provider.trust_changed",
    "apps.providers.services.denial.provider_deny_list": "deny_list.added",
    "apps.accounts.services.identity.did_bind": "user.did_bound",
    "apps.accounts.services.identity.profile_update": "user.profile_updated",
    "apps.accounts.services.identity.wallet_bind": "user.wallet_bound",
    "apps.accounts.services.identity.wallet_unbind": "user.wallet_unbound",
    "apps.accounts.services.organizations.api_key_create": "api_key.created",
    "apps.accounts.services.organizations.api_key_revoke": "api_key.revoked",
    "apps.accounts.services.organizations.api_key_update": "api_key.updated",
    "apps.accounts.services.organizations.client_create": "client.created",
    "apps.accounts.services.organizations.client_update": "client.updated",
    "apps.accounts.services.sessions.session_revoke": "session.revoked",
    "apps.accounts.services.sessions.session_revoke_all": "session.revoked",
    "apps.delivery.webhooks.services.endpoints.webhook_callback_secret_rotate": "webhook_callback_secret.rotated",
    "apps.delivery.webhooks.services.endpoints.webhook_endpoint_create": "webhook_endpoint.created",
    "apps.delivery.webhooks.services.endpoints.webhook_endpoint_delete": "webhook_endpoint.deleted",
    "apps.delivery.webhooks.services.endpoints.webhook_endpoint_enable": "webhook_endpoint.enabled",
    "apps.delivery.webhooks.services.endpoints.webhook_endpoint_rotate_secret": "webhook_endpoint.secret_rotated",
    "apps.delivery.webhooks.services.endpoints.webhook_endpoint_update": "webhook_endpoint.updated",
    "apps.incentives.payouts.services.payout_account_register": "incentives.payout_account_register",
    "apps.incentives.payouts.services.payout_account_whitelist": "incentives.payout_account_whitelist",
    "apps.incentives.payouts.services.payout_approve": "incentives.payout_approve",
    "apps.incentives.payouts.services.payout_reject": "incentives.payout_reject",
    "apps.incentives.payouts.services.payout_request": "incentives.payout_request",
    "apps.messaging.services.jobs.job_resolve": "job.resolved",
    "apps.messaging.services.leases.message_requeue": "message.queued",
    "apps.messaging.services.rules.blocked_recipient_add": "blocked_recipient.added",
    "apps.messaging.services.rules.blocked_recipient_remove": "blocked_recipient.removed",
    "apps.messaging.services.rules.filter_rule_delete": "filter_term.deleted",
    "apps.messaging.services.rules.filter_rule_save": "filter_term.created",
    "apps.messaging.services.rules.filter_rules_set_active": "filter_term.activated",
    "apps.messaging.services.rules.opt_out_add": "opt_out.added",
    "apps.messaging.services.rules.opt_out_remove": "opt_out.removed",
    "apps.messaging.services.sending.message_cancel": "message.cancelled",
    "apps.messaging.services.sending.message_moderate": "message.queued",
    "apps.payments.services.topup_create": "payments.topup_create",
    "apps.payments.services.topup_refund_propose": "payments.topup_refund_propose",
    "apps.providers.services.registry.device_register": "provider.device_added",
    "apps.providers.services.registry.device_remove": "provider.device_removed",
    "apps.providers.services.registry.provider_approve": "provider.approved",
    "apps.providers.services.registry.provider_ban": "provider.banned",
    "apps.providers.services.registry.provider_register": "provider.registered",
    "apps.providers.services.registry.provider_suspend": "provider.suspended",
    "apps.providers.services.registry.provider_update": "provider.updated",
    "apps.providers.services.registry.sim_add": "provider.sim_added",
    "apps.providers.services.registry.sim_remove": "provider.sim_removed",
    "apps.tokens.services.accounts.account_credit_limit_set": "ledger.credit_limit_set",
    "apps.tokens.services.adjustments.adjustment_approve": "ledger.adjustment_approved",
    "apps.tokens.services.adjustments.adjustment_propose": "ledger.adjustment_proposed",
    "apps.tokens.services.adjustments.adjustment_reject": "ledger.adjustment_rejected",
    "apps.delivery.fraud.fraud_strike_clear": "fraud.strike_cleared",
    "apps.accounts.services.privacy.user_erase": "user.erased",
    "apps.accounts.services.privacy.user_export": "user.exported",
    "apps.accounts.services.privacy.organization_erase": "client.erased",
    "apps.accounts.services.privacy.organization_export": "client.exported",
    "apps.providers.services.privacy.provider_personal_data_erase": "provider.personal_data_erased",
    "apps.incentives.payouts.services.payout_personal_data_erase": "incentives.payout_personal_data_erased",
    "apps.audit.redaction.audit_redact": "audit.redacted",
}

# State-changing services that write no audit row of their own, each with the reviewed reason.
NOT_AUDITED = {
    "apps.messaging.services.settling.deliveries_settle": "a delivery's hold capture and reward, booked a moment after "
    "its report: the ledger's transfers and the reward rows are the record (as a report that booked them at once)",
    "apps.delivery.fraud.fraud_strikes_standing": "reads a provider's standing strikes; changes nothing",
    "apps.tokens.services.holds.client_hold_create": "a message's PPT hold: the ledger's pending transfer, booked "
    "with the message, is the record (as message_submit)",
    "apps.tokens.services.holds.client_hold_create_with_row": "a message's PPT hold booked in the statement that "
    "inserts the message: the pending transfer is the record (as message_submit)",
    "apps.accounts.services.identity.did_challenge_create": "a one-time challenge, not a change to the account",
    "apps.accounts.services.identity.wallet_challenge_create": "a one-time challenge, not a change to the account",
    "apps.accounts.services.organizations.organization_system_get_or_create": "creates PeerPower's own client once",
    "apps.accounts.services.otp.otp_request": "an OTP challenge row is itself the record (phone, time, IP)",
    "apps.delivery.webhooks.services.endpoints.deliveries_cancel": "runs inside an audited endpoint change",
    "apps.messaging.services.leases.message_requeue_or_dead_letter": "system retry; the message's own status "
    "history (status, reason, attempts) records it, at dispatch volume",
    "apps.messaging.services.leases.messages_requeue_or_dead_letter": "as message_requeue_or_dead_letter, for a "
    "phone's batch of failed reports",
    "apps.messaging.services.sending.message_submit": "the message row is the record (organisation, API key, "
    "time); one audit row per message would double the writes of the ingest hot path",
    "apps.messaging.services.sending.message_submit_bulk": "as message_submit",
    "apps.providers.services.registry.provider_reputation_penalty": "called only by a fraud strike, which is "
    "audited (`fraud.strike`) in the same transaction",
    "apps.providers.services.registry.provider_scores_set": "nightly recomputed scores from recorded outcomes",
    "apps.providers.services.verification.sim_verification_request": "sends an OTP; `sim_verify` is audited",
    "apps.tokens.services.transfers.transfer_create": "the ledger transfer is itself an immutable record",
    "apps.tokens.services.transfers.transfers_create": "the ledger transfers are themselves immutable records",
    "apps.tokens.services.withdrawals.withdrawal_request": "the withdrawal and its pending transfer are the record",
}


def _service_functions() -> set[str]:
    names = set()
    files = sorted({*ROOT.glob("apps/*/services*.py"), *ROOT.glob("apps/*/services/**/*.py")})
    files += sorted({*ROOT.glob("apps/*/*/services*.py"), *ROOT.glob("apps/*/*/services/**/*.py")})
    files += [ROOT / "apps/delivery/fraud.py", ROOT / "apps/audit/redaction.py"]
    for path in files:
        if "tests" in path.parts:
            continue
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(module_name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module_name and not name.startswith("_") and STATE_CHANGING.search(name):
                names.add(f"{module_name}.{name}")
    return names


def test_every_state_changing_service_is_audited_or_allowed_with_a_reason():
    found = _service_functions()
    unknown = found - AUDITED.keys() - NOT_AUDITED.keys()
    assert not unknown, f"new state-changing services: add an audit row, or a reviewed reason to NOT_AUDITED: {unknown}"
    stale = (AUDITED.keys() | NOT_AUDITED.keys()) - found
    assert not stale, f"entries for services that no longer exist: {stale}"
    assert all(NOT_AUDITED.values())


# Admin actions (other than "delete selected", audited by apps.audit.admin_trail) and the service each calls.
ADMIN_ACTIONS = {
    "axes.accessattempt": {
        "cleanup_expired_attempts": "django-axes' own action: deletes expired failed-login counters (not a decision)",
    },
    "django_celery_beat.periodictask": {
        "enable_tasks": "django-celery-beat's own action: allowed, schedules are configuration and deploys reset them",
        "disable_tasks": "as enable_tasks",
        "toggle_tasks": "as enable_tasks",
        "run_tasks": "runs a task now; the task's own services audit what it changes",
    },
    "accounts.devicesession": {"revoke": "session_revoke"},
    "accounts.apikey": {"revoke": "api_key_revoke"},
    "providers.provider": {
        "approve": "provider_approve",
        "suspend": "provider_suspend",
        "ban": "provider_ban",
        "deny_everything": "provider_deny_list",
        "trust": "provider_trust_set",
        "distrust": "provider_trust_set",
        **{f"trust_level_{level}": "provider_trust_set" for level in (0, 25, 50, 75, 100)},
    },
    "accounts.clientapplication": {
        "approve": "client_application_decide",
        "request_changes": "client_application_decide",
        "reject": "client_application_decide",
    },
    "accounts.denylistentry": {"remove": "deny_list_remove"},
    "messaging.filterterm": {"activate": "filter_rules_set_active", "deactivate": "filter_rules_set_active"},
    "messaging.domainrule": {"activate": "filter_rules_set_active", "deactivate": "filter_rules_set_active"},
    "messaging.message": {"requeue": "message_requeue"},
    "messaging.deadletter": {"requeue": "message_requeue"},
    "messaging.heldmessage": {"approve": "message_moderate", "reject": "message_moderate"},
    "messaging.job": {"resolve_sent": "job_resolve", "resolve_not_sent": "job_resolve"},
    "delivery.fraudflag": {
        "clear_strikes": "fraud_strike_clear",
        "ban_providers": "provider_ban",
        "deny_devices": "provider_deny_list",
        "deny_phones": "provider_deny_list",
        "deny_sims": "provider_deny_list",
    },
    "payments.topup": {"refund": "topup_refund_propose"},
    "tokens.adjustment": {"approve": "adjustment_approve", "reject": "adjustment_reject"},
    "tokens.chaintransaction": {"retry": "transaction_retry"},
    "tokens.settlementbatch": {"retry": "batch_retry"},
    "incentives.payout": {"approve": "payout_approve", "reject": "payout_reject", "check_status": "payout_check"},
    "incentives.payoutaccount": {"whitelist": "payout_account_whitelist"},
    "delivery.webhookendpoint": {"enable": "webhook_endpoint_enable"},
    "delivery.webhookevent": {"resend": "webhook_event_resend"},
    "delivery.webhookdelivery": {"resend": "webhook_delivery_resend"},
    "accounts.clientorganization": {"export_members": "organization_export", "erase_members": "organization_erase"},
}

# Admins whose add/change views do not go through Django's logging (overridden) would escape the trail.
LOGGING_METHODS = ("log_addition", "log_change", "log_deletion", "log_deletions", "changeform_view", "delete_view")
REVIEWED_OVERRIDES = {
    ("django_celery_beat.periodictask", "changeform_view"): "adds the task names to the context, then calls super()",
}


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = User(is_superuser=True, is_staff=True, is_active=True)
    return request


def test_every_admin_logs_its_edits_and_every_admin_action_is_reviewed():
    request = _superuser_request()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        for method in LOGGING_METHODS:
            if (label, method) in REVIEWED_OVERRIDES:
                continue
            assert getattr(type(model_admin), method) is getattr(ModelAdmin, method), f"{label} overrides {method}"
        actions = set(model_admin.get_actions(request)) - {"delete_selected"}
        reviewed = set(ADMIN_ACTIONS.get(label, {}))
        assert actions == reviewed, f"{label}: review the audit of its actions {actions ^ reviewed}"
        if "delete_selected" in model_admin.get_actions(request):
            function = model_admin.get_actions(request)["delete_selected"][0]
            assert function.__name__ == "audited_delete_selected", label


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("+85599000001", "staff-password-1")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _entries(action: str, target: object) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action, target_type=target._meta.label_lower, target_id=str(target.pk)))


def _form_data(client, url: str) -> dict:
    """The POST data the admin change page would send unchanged: its form's and inline formsets' current values."""
    context = client.get(url).context
    forms = [context["adminform"].form]
    data: dict = {}
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(value, (list, tuple)) and not hasattr(field.widget, "widgets"):
                data[form.add_prefix(name)] = list(value)
            elif hasattr(field.widget, "widgets"):  # split date and time
                for index, part in enumerate(field.widget.decompress(value)):
                    data[f"{form.add_prefix(name)}_{index}"] = "" if part is None else str(part)
            else:
                data[form.add_prefix(name)] = value
    return data


def test_superuser_and_staff_flags_set_in_the_admin_are_audited_with_the_new_values(staff_client, staff):
    user = UserFactory()
    url = f"/admin/accounts/user/{user.pk}/change/"
    response = staff_client.post(url, {**_form_data(staff_client, url), "is_staff": "on", "is_superuser": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    [entry] = _entries("admin.accounts.user.changed", user)
    assert entry.actor == staff
    assert entry.after["values"]["is_staff"] is True
    assert entry.after["values"]["is_superuser"] is True


def test_blocking_an_organisation_and_adding_a_member_in_the_admin_are_audited(staff_client):
    owner = UserFactory()
    organization = client_create(user=owner, name="Acme")
    newcomer = UserFactory()
    url = f"/admin/accounts/clientorganization/{organization.pk}/change/"
    form = {**_form_data(staff_client, url), "is_blocked": "on"}
    total = int(form["memberships-TOTAL_FORMS"])
    form.update({"memberships-TOTAL_FORMS": total + 1, f"memberships-{total}-user": newcomer.pk})
    form[f"memberships-{total}-role"] = "member"
    form[f"memberships-{total}-created_at_0"], form[f"memberships-{total}-created_at_1"] = "2026-01-01", "00:00:00"
    response = staff_client.post(url, form)
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.is_blocked
    assert ClientMembership.objects.filter(organization=organization, user=newcomer).exists()
    [entry] = _entries("admin.accounts.clientorganization.changed", organization)
    assert entry.after["values"]["is_blocked"] is True
    assert "memberships" in str(entry.after["message"]).lower() or "membership" in str(entry.after["message"]).lower()


def test_api_key_limits_set_in_the_admin_are_audited(staff_client):
    organization = client_create(user=UserFactory(), name="Acme")
    key, _ = api_key_create(organization=organization, actor=None, name="server")
    response = staff_client.post(
        f"/admin/accounts/apikey/{key.pk}/change/", {"rate_per_second": "7", "rate_per_day": "1000"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    [entry] = _entries("admin.accounts.apikey.changed", key)
    assert entry.after["values"] == {"rate_per_second": 7, "rate_per_day": 1000}
    assert ApiKey.objects.get(pk=key.pk).rate_per_second == 7


def test_deleting_several_objects_at_once_audits_each(staff_client, staff):
    users = [UserFactory() for _ in range(3)]
    response = staff_client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "post": "yes", "_selected_action": [user.pk for user in users]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[user.pk for user in users]).exists()
    for user in users:
        [entry] = _entries("admin.accounts.user.deleted", user)
        assert entry.actor == staff


def test_deleting_one_object_is_audited_once(staff_client):
    user = UserFactory()
    response = staff_client.post(
        "/admin/accounts/user/", {"action": "delete_selected", "post": "yes", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    assert len(_entries("admin.accounts.user.deleted", user)) == 1


def test_a_failing_admin_save_leaves_no_audit_row(staff_client):
    user = UserFactory()
    other = UserFactory()
    url = f"/admin/accounts/user/{user.pk}/change/"
    response = staff_client.post(url, {**_form_data(staff_client, url), "phone": other.phone})
    assert response.status_code == 200  # the form shows the error
    assert not _entries("admin.accounts.user.changed", user)


def test_the_audit_log_filters_by_actor(staff_client, staff):
    someone = UserFactory()
    from apps.audit.services import audit_record

    audit_record(actor=someone, action="test.by_someone", target=someone)
    audit_record(actor=staff, action="test.by_staff", target=someone)
    response = staff_client.get(f"/admin/audit/auditlog/?actor={someone.pk}")
    assert {entry.action for entry in response.context["cl"].result_list} == {"test.by_someone"}
    assert staff_client.get("/admin/audit/auditlog/?actor=nonsense").status_code == 200


def test_a_client_cancelling_a_message_is_audited(db):
    from apps.messaging.services import MessageInput, message_cancel, message_submit

    organization = client_create(user=UserFactory(), name="Acme")
    key, _ = api_key_create(organization=organization, actor=None, name="server")
    message = message_submit(organization=organization, api_key=key, data=MessageInput(to="+85512345678", body="Hi"))
    message_cancel(message=message)
    [entry] = _entries("message.cancelled", message)
    assert entry.actor_label == "client"
    assert entry.before == {"status": message.status}
