"""Numbers nowhere in plain text: the audit log holds each as its keyed hash (found by staff typing the number, still
redacted on erasure), client organisations' contact phones are encrypted with a keyed hash beside them, the deny-list
keeps numbers only as keyed hashes; a raw scan of every table finds none of them; rotation re-encrypts the new
column; the migrations convert what was written before."""

import importlib
import io
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.accounts import services
from apps.accounts.choices import DenyKind
from apps.accounts.errors import PhoneDenied, SimDenied
from apps.accounts.models import ClientOrganization, DenyListEntry
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.audit.redaction import spellings
from apps.audit.services import audit_record
from apps.core import crypto
from apps.core.encrypted_rows import decrypt_existing_rows, encrypt_existing_rows, reencrypt_batches
from apps.core.tests.database_scan import find_in_database
from apps.messaging.choices import OptOutSource
from apps.messaging.services import blocked_recipient_add, opt_out_add
from apps.providers.services import sim_add
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

NEW_KEY = "k2=bmV3LXRlc3Qta2V5LWZvci1yb3RhdGlvbi0wMDAwMDE="
CONTACT = "+85512777666"
OPTED_OUT = "+85516555444"
BLOCKED = "+85517333222"
DENIED_PHONE = "+85589111000"
DENIED_SIM = "+85510444555"
NEW_SIM = "+85510999888"


def raw(table: str, column: str, pk: int) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def every_spelling(*numbers: str) -> list[str]:
    return [spelling for number in numbers for spelling in spellings(number)]


def migration(app: str, name: str):
    return importlib.import_module(f"apps.{app}.migrations.{name}")


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def flows(staff, client):
    """Every place a number used to be written in plain text: a provider's account and SIMs, an organisation's
    contact phone (through the service and the admin form), opt-outs, blocks and the deny-list, all audited."""
    provider = provider_with_sim()
    sim_add(provider=provider, actor=provider.user, msisdn="010 999 888", slot=1)
    organization = services.client_create(user=UserFactory(), name="Angkor Coffee", contact_phone="012 000 111")
    services.client_update(organization=organization, actor=staff, contact_phone="012 777 666")
    opt_out_add(phone=OPTED_OUT, source=OptOutSource.STAFF, actor=staff)
    blocked_recipient_add(phone=BLOCKED, reason="complaints", actor=staff)
    services.deny_list_add(kind=DenyKind.PHONE, value="089 111 000", reason="abuse", actor=staff)
    services.deny_list_add(kind=DenyKind.SIM, value=DENIED_SIM, reason="shared SIM", actor=staff)
    client.force_login(staff)
    # An admin edit: Django's log and the audit row name the organisation and the changed number.
    other = services.client_create(user=UserFactory(), name="Bayon Tea")
    response = client.post(
        f"/admin/accounts/clientorganization/{other.pk}/change/",
        {
            "name": "Bayon Tea", "contact_email": "", "contact_phone": "016 555 444", "plan": "",
            "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
            "low_balance_threshold": "", "message_body_retention_days": "",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
            "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [formset.formset.management_form.prefix for formset in response.context["inline_admin_formsets"]],
        [formset.formset.errors for formset in response.context["inline_admin_formsets"]],
    )
    numbers = [provider.user.phone, *provider.sims.values_list("msisdn", flat=True), CONTACT, OPTED_OUT, BLOCKED]
    numbers += [DENIED_PHONE, DENIED_SIM, "+85512000111"]
    return SimpleNamespace(provider=provider, organization=organization, other=other, numbers=numbers)


def test_a_raw_scan_of_every_table_finds_no_number(flows):
    assert NEW_SIM in flows.numbers
    # Not in plain text anywhere: not in the audit log, Django's admin log, the deny-list or the organisations.
    assert find_in_database(*every_spelling(*flows.numbers), decrypt=False) == []
    # The numbers the code must read back are there, encrypted.
    assert {"accounts_clientorganization.contact_phone", "providers_sim.msisdn", "accounts_user.phone"} <= set(
        find_in_database(CONTACT, flows.provider.sims.get(slot=1).msisdn, flows.provider.user.phone)
    )
    # The deny-list and the audit log hold no encrypted copy either: keyed hashes only.
    assert not {hit for hit in find_in_database(DENIED_PHONE, DENIED_SIM, OPTED_OUT) if "audit" in hit or "deny" in hit}


def test_the_audit_log_holds_numbers_as_keyed_hashes_and_staff_find_them_by_typing_the_number(flows, client):
    sim_added = AuditLog.objects.get(action="provider.sim_added", target_id=str(flows.provider.sims.get(slot=1).pk))
    assert sim_added.after["msisdn"] == "hash:" + crypto.blind_index(NEW_SIM)
    updated = AuditLog.objects.get(action="client.updated")
    assert (updated.before, updated.after) == (
        {"contact_phone": "hash:" + crypto.blind_index("+85512000111")},
        {"contact_phone": "hash:" + crypto.blind_index(CONTACT)},
    )
    edited = AuditLog.objects.get(action="admin.accounts.clientorganization.changed")
    assert edited.after["values"]["contact_phone"] == "hash:" + crypto.blind_index("+85516555444")
    for typed, action in [
        ("010 999 888", "provider.sim_added"),
        ("+855 12 777 666", "client.updated"),
        ("85516555444", "opt_out.added"),
        ("017 333 222", "blocked_recipient.added"),
        ("089 111 000", "deny_list.added"),
    ]:
        page = client.get("/admin/audit/auditlog/", {"q": typed})
        assert page.status_code == 200
        assert action in {entry.action for entry in page.context["cl"].result_list}, (typed, action)
    assert not client.get("/admin/audit/auditlog/", {"q": "099 000 000"}).context["cl"].result_list


def test_erasure_still_redacts_the_hashed_numbers(flows, client):
    user = flows.provider.user
    services.user_erase(user=user, actor=user)
    created_sim = AuditLog.objects.get(action="provider.sim_added", target_id=str(flows.provider.sims.get(slot=1).pk))
    assert created_sim.after["msisdn"] == "erased:" + crypto.blind_index(NEW_SIM)
    assert created_sim.redacted_at is not None
    # An investigation holding the number still finds the entry.
    found = client.get("/admin/audit/auditlog/", {"q": "010 999 888"}).context["cl"].result_list
    assert created_sim in list(found)


def test_deleting_several_objects_in_the_admin_logs_no_number(staff, client):
    from apps.accounts.models import OtpChallenge

    numbers = ["+85512111222", "+85512111333"]
    challenges = [
        OtpChallenge.objects.create(phone=number, code_hash="x", purpose="login", expires_at=timezone.now())
        for number in numbers
    ]
    client.force_login(staff)
    response = client.post(
        "/admin/accounts/otpchallenge/",
        {"action": "delete_selected", "_selected_action": [c.pk for c in challenges], "post": "yes"},
    )
    assert response.status_code == 302 and not OtpChallenge.objects.exists()
    assert find_in_database(*every_spelling(*numbers), decrypt=False) == []


def test_organisation_contact_phone_is_encrypted_and_found_by_its_hash(flows, client):
    organization = flows.organization
    stored = raw("accounts_clientorganization", "contact_phone", organization.pk)
    assert crypto.is_encrypted(stored) and CONTACT[4:] not in stored
    assert raw("accounts_clientorganization", "contact_phone_hash", organization.pk) == crypto.blind_index(CONTACT)
    assert ClientOrganization.objects.get(pk=organization.pk).contact_phone == CONTACT
    assert ClientOrganization.objects.get(contact_phone=CONTACT) == organization
    for typed in ("012 777 666", "+855 12 777 666", "85512777666"):
        page = client.get("/admin/accounts/clientorganization/", {"q": typed})
        assert [row.pk for row in page.context["cl"].result_list] == [organization.pk], typed
    other_page = client.get("/admin/accounts/clientorganization/", {"q": "016 555 444"})
    assert [row.pk for row in other_page.context["cl"].result_list] == [flows.other.pk]  # saved by the admin form
    # Cleared: no longer found by the old number.
    services.client_update(organization=organization, actor=organization.members.get(), contact_phone="")
    assert raw("accounts_clientorganization", "contact_phone_hash", organization.pk) == ""
    assert not client.get("/admin/accounts/clientorganization/", {"q": "012 777 666"}).context["cl"].result_list


def test_the_admin_form_refuses_an_invalid_contact_phone(flows, client):
    response = client.post(
        f"/admin/accounts/clientorganization/{flows.other.pk}/change/",
        {
            "name": "Bayon Tea", "contact_email": "", "contact_phone": "not a number", "plan": "",
            "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
            "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    assert response.status_code == 200 and "not a valid phone number" in response.content.decode()


def test_organisation_erasure_leaves_no_hash_to_find(flows, staff):
    services.organization_erase(organization=flows.organization, actor=staff)
    assert (
        raw("accounts_clientorganization", "contact_phone", flows.organization.pk),
        raw("accounts_clientorganization", "contact_phone_hash", flows.organization.pk),
    ) == ("", "")


def test_the_deny_list_is_checked_by_hash(flows):
    with pytest.raises(PhoneDenied):
        services.deny_list_refuse(kind=DenyKind.PHONE, values=[DENIED_PHONE])
    with pytest.raises(SimDenied):
        services.deny_list_refuse(kind=DenyKind.SIM, values=[DENIED_SIM])
    services.deny_list_refuse(kind=DenyKind.SIM, values=[DENIED_PHONE])  # another kind: not refused
    assert services.deny_list_add(kind=DenyKind.PHONE, value="+855 89 111 000", reason="again", actor=None) == (
        DenyListEntry.objects.get(kind=DenyKind.PHONE)
    )  # the same number in another form is the same entry


def test_rotation_reencrypts_the_contact_phone(flows, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    output = io.StringIO()
    call_command("encryption_rotate", batch_size=1, stdout=output)
    assert "accounts.ClientOrganization: 2 row(s) re-encrypted" in output.getvalue()  # both have a contact phone
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # the old key gone: everything still reads
    pk = flows.organization.pk
    assert crypto.key_id_of(raw("accounts_clientorganization", "contact_phone", pk)) == "k2"
    assert raw("accounts_clientorganization", "contact_phone_hash", pk) == crypto.blind_index(CONTACT)
    assert ClientOrganization.objects.get(contact_phone=CONTACT).pk == pk
    assert sum(reencrypt_batches(ClientOrganization)) == 0  # nothing left under the old key


def test_the_contact_phone_migration_goes_both_ways(flows):
    pk = flows.organization.pk
    decrypt_existing_rows("accounts", "ClientOrganization")(global_apps, None)
    assert raw("accounts_clientorganization", "contact_phone", pk) == CONTACT
    encrypt_existing_rows("accounts", "ClientOrganization")(global_apps, None)
    assert crypto.is_encrypted(raw("accounts_clientorganization", "contact_phone", pk))
    assert ClientOrganization.objects.get(contact_phone=CONTACT).pk == pk


def test_the_deny_list_migration_hashes_plain_entries(staff):
    plain = DenyListEntry.objects.create(kind=DenyKind.SIM, value=DENIED_SIM, reason="before the migration")
    twin_plain = DenyListEntry.objects.create(kind=DenyKind.PHONE, value=DENIED_PHONE, reason="old")
    hashed = services.deny_list_add(kind=DenyKind.PHONE, value=DENIED_PHONE, reason="erased account", actor=None)
    device = DenyListEntry.objects.create(kind=DenyKind.DEVICE, value="fid-1", reason="farm")

    migration("accounts", "0012_deny_list_numbers_hashed").hash_listed_numbers(
        global_apps, SimpleNamespace(connection=connection)
    )

    plain.refresh_from_db(), twin_plain.refresh_from_db(), device.refresh_from_db()
    assert plain.value == "hash:" + crypto.blind_index(DENIED_SIM) and plain.removed_at is None
    assert twin_plain.value == hashed.value and twin_plain.removed_at is not None  # listed once
    assert device.value == "fid-1"
    with pytest.raises(SimDenied):
        services.deny_list_refuse(kind=DenyKind.SIM, values=[DENIED_SIM])
    assert find_in_database(DENIED_SIM, DENIED_PHONE, decrypt=False) == []


def test_the_audit_migration_hashes_the_numbers_of_old_entries(staff):
    # Entries as they were written before: straight into the table, numbers in plain text.
    old = AuditLog.objects.create(
        actor_label="system", action="user.created", after={"phone": DENIED_PHONE, "note": f"for {BLOCKED}"}
    )
    erased = AuditLog.objects.create(actor_label="system", action="x", before={"n": 1}, after={"phone": "erased:ab"})
    untouched = audit_record(action="session.created", after={"name": "Pixel"})

    migration("audit", "0006_pseudonymise_phone_numbers").pseudonymise_entries(
        global_apps, SimpleNamespace(connection=connection)
    )

    old.refresh_from_db(), erased.refresh_from_db(), untouched.refresh_from_db()
    assert old.after == {
        "phone": "hash:" + crypto.blind_index(DENIED_PHONE),
        "note": "for hash:" + crypto.blind_index(BLOCKED),
    }
    assert old.redacted_at is not None and old.action == "user.created"
    assert erased.redacted_at is None and untouched.redacted_at is None  # nothing to change: not rewritten
    assert AuditLog.objects.get(action="audit.pseudonymised").after == {"entries": 1}
    assert find_in_database(*every_spelling(DENIED_PHONE, BLOCKED), decrypt=False) == []


def test_the_migration_hashes_the_admin_login_names_django_axes_kept(db):
    from axes.models import AccessAttempt, AccessLog

    attempt = dict(ip_address="10.0.0.1", user_agent="browser", get_data="", post_data="", http_accept="*/*")
    typed_twice = [
        AccessAttempt.objects.create(username=name, failures_since_start=failures, path_info="/admin/login/", **attempt)
        for name, failures in [("+85512000001", 2), ("012 000 001", 1)]
    ]
    other = AccessAttempt.objects.create(username="somebody", failures_since_start=1, path_info="/", **attempt)
    logged = AccessLog.objects.create(username="+85512000001", ip_address="10.0.0.1", user_agent="browser")
    already = AccessLog.objects.create(username=crypto.blind_index("+85512000002"), user_agent="browser")

    migration("accounts", "0013_admin_login_names_hashed").hash_login_names(
        global_apps, SimpleNamespace(connection=connection)
    )

    number = crypto.blind_index("+85512000001")
    [merged] = AccessAttempt.objects.filter(username=number)  # one name now: one attempt, its failures added up
    assert merged.pk == typed_twice[0].pk and merged.failures_since_start == 3
    assert AccessAttempt.objects.get(pk=other.pk).username == crypto.blind_index("somebody")
    assert AccessLog.objects.get(pk=logged.pk).username == number
    assert AccessLog.objects.get(pk=already.pk).username == crypto.blind_index("+85512000002")  # left as it was
    assert find_in_database(*spellings("+85512000001"), "012 000 001", decrypt=False) == []
