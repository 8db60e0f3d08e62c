"""Erasure redacts the person's values from the audit log: their numbers, name and IP are replaced in the entries
about their objects or made by them, the entries themselves (action, time, actor, target) stay, and the append-only
rule still refuses every other change — on PostgreSQL in the database itself."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.accounts.choices import DenyKind
from apps.accounts.services import deny_list_add, profile_update, user_erase
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AppendOnlyError, AuditLog
from apps.audit.redaction import spellings
from apps.audit.services import audit_record
from apps.core import crypto
from apps.core.context import reset_context
from apps.incentives.payouts.services import payout_request, payout_send
from apps.incentives.tests.conftest import PPT
from apps.providers.services import sim_add, sim_remove

pytestmark = pytest.mark.django_db

SECOND_SIM = "+85510777888"


def audit_text() -> str:
    """Every payload and IP of the audit table, as the database stores them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CAST(before AS TEXT), CAST(after AS TEXT), CAST(ip AS TEXT) FROM audit_auditlog")
        return "\n".join(str(value) for row in cursor.fetchall() for value in row)


@pytest.fixture
def history(provider, rates, airtime):
    """A provider's audit trail holding their numbers, name and IP, and a stranger's entry holding theirs."""
    user, staff, stranger = provider.user, UserFactory(is_staff=True), UserFactory(phone="+85512999888")
    reset_context(client_ip="203.0.113.7")
    audit_record(actor=user, action="user.created", target=user, after={"phone": user.phone})
    profile_update(user=user, actor=user, display_name="Sokha Chan")
    removed = provider.sims.get(verified_at__isnull=True)
    sim_remove(sim=removed, actor=user)  # audited with its number
    sim = sim_add(provider=provider, actor=user, msisdn="010 777 888", slot=1)
    payout = payout_request(provider=provider, actor=user, method="airtime", amount=10 * PPT)
    payout_send(payout_id=payout.pk)
    reset_context()
    deny_list_add(kind=DenyKind.SIM, value=SECOND_SIM, reason="shared SIM", actor=staff)
    audit_record(actor=stranger, action="user.created", target=stranger, after={"phone": stranger.phone})
    numbers = [user.phone, *provider.sims.values_list("msisdn", flat=True)]
    recorded = [user.phone, removed.msisdn, SECOND_SIM]
    return {"user": user, "sim": sim, "numbers": numbers, "recorded": recorded, "stranger": stranger}


def test_erasure_leaves_none_of_the_persons_values_in_the_audit_table(history):
    user, numbers = history["user"], history["numbers"]
    before = {entry.pk: entry for entry in AuditLog.objects.all()}
    text = audit_text()
    # Numbers are in the log as their keyed hashes from the start (apps.audit.pseudonyms); the name until erasure.
    assert all("hash:" + crypto.blind_index(number) in text for number in history["recorded"])
    assert not any(spelling in text for number in history["recorded"] for spelling in spellings(number))
    assert "Sokha Chan" in text

    user_erase(user=user, actor=user)

    text = audit_text()
    for number in numbers:
        for spelling in spellings(number):
            assert spelling not in text, spelling
    assert "Sokha Chan" not in text and "203.0.113.7" not in text
    assert "hash:" + crypto.blind_index(history["stranger"].phone) in text  # someone else's entry is theirs
    for number in history["recorded"]:  # the person's numbers' markers now say erased
        assert "hash:" + crypto.blind_index(number) not in text
    # The rows are all there, with who, what, which object and when as written.
    for entry in AuditLog.objects.filter(pk__in=before):
        old = before[entry.pk]
        assert (entry.action, entry.actor_id, entry.target_type, entry.target_id, entry.created_at) == (
            old.action, old.actor_id, old.target_type, old.target_id, old.created_at
        )  # fmt: skip
    created = AuditLog.objects.get(action="user.created", target_id=str(user.pk))
    assert created.after == {"phone": "erased:" + crypto.blind_index(numbers[0])}
    assert created.redacted_at is not None and created.ip is None
    sim_added = AuditLog.objects.get(action="provider.sim_added", target_id=str(history["sim"].pk))
    assert sim_added.after["msisdn"] == "erased:" + crypto.blind_index(SECOND_SIM)
    redacted = AuditLog.objects.get(action="audit.redacted")
    assert redacted.target_id == str(user.pk)
    assert redacted.after["entries"] == AuditLog.objects.filter(redacted_at__isnull=False).count() > 3


def test_the_model_still_refuses_any_other_change(history):
    entry = AuditLog.objects.first()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=entry.pk).update(after={})
    with pytest.raises(AppendOnlyError):  # the redaction write changes payloads only, and marks the row
        AuditLog.objects.filter(pk=entry.pk).redact(action="tampered", redacted_at=entry.created_at)
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=entry.pk).redact(after={})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
def test_the_trigger_lets_through_only_a_redaction(history):
    entry = AuditLog.objects.first()

    def attempt(sql: str, *, allowed: bool) -> None:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            if allowed:
                cursor.execute("SELECT set_config('peerpower.audit_redaction', 'on', true)")
            cursor.execute(sql, [entry.pk])

    redact = "UPDATE audit_auditlog SET after = '{}', redacted_at = now() WHERE id = %s"
    attempt(redact, allowed=False)  # not inside a redaction
    attempt("UPDATE audit_auditlog SET after = '{}' WHERE id = %s", allowed=True)  # not marked as redacted
    attempt("UPDATE audit_auditlog SET action = 'x', redacted_at = now() WHERE id = %s", allowed=True)
    attempt("UPDATE audit_auditlog SET actor_id = NULL, redacted_at = now() WHERE id = %s", allowed=True)
    attempt("UPDATE audit_auditlog SET ip = '198.51.100.1', redacted_at = now() WHERE id = %s", allowed=True)
    attempt("DELETE FROM audit_auditlog WHERE id = %s", allowed=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('peerpower.audit_redaction', 'on', true)")
        cursor.execute(redact, [entry.pk])
    assert AuditLog.objects.get(pk=entry.pk).after == {}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
def test_the_permission_ends_with_the_redaction(history):
    user_erase(user=history["user"], actor=history["user"])
    entry = AuditLog.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditlog SET after = '{}', redacted_at = now() WHERE id = %s", [entry.pk])
