"""The audit log: one service appends entries with their context; nothing can change or delete them."""

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from apps.accounts.models import User
from apps.audit.models import AppendOnlyError, AuditLog
from apps.audit.services import audit_record
from apps.core.context import reset_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return User.objects.create_user("+85512345678")


def test_record_by_a_person_carries_request_context(user):
    reset_context(request_id="req-1", client_ip="203.0.113.7")
    entry = audit_record(actor=user, action="user.updated", target=user, before={"a": 1}, after={"a": 2})
    reset_context()
    entry.refresh_from_db()
    assert entry.actor == user and entry.actor_label == "user"
    assert (entry.target_type, entry.target_id) == ("accounts.user", str(user.pk))
    assert (entry.before, entry.after) == ({"a": 1}, {"a": 2})
    assert (entry.ip, entry.request_id) == ("203.0.113.7", "req-1")


def test_record_by_the_system_in_a_task(user):
    reset_context(task_id="task-9")
    entry = audit_record(action="lease.expired", target_type="messaging.job", target_id=42, system_actor="task:sweep")
    reset_context()
    assert entry.actor is None and entry.actor_label == "task:sweep"
    assert (entry.task_id, entry.target_id, entry.ip) == ("task-9", "42", None)


def test_entry_rolls_back_with_the_change_it_records(user):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=user, action="user.updated", target=user)
        raise RuntimeError("the service failed after auditing")
    assert not AuditLog.objects.exists()


def test_entries_cannot_be_changed_or_deleted_through_the_orm(user):
    entry = audit_record(actor=user, action="user.updated", target=user)
    entry.action = "tampered"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=entry.pk).update(action="tampered")
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "user.updated"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger is PostgreSQL's")
def test_database_refuses_changes_on_postgresql(user):
    entry = audit_record(actor=user, action="user.updated", target=user)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditlog SET action = 'x' WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditlog WHERE id = %s", [entry.pk])


def test_admin_is_read_only(user):
    admin = site._registry[AuditLog]
    request = RequestFactory().get("/admin/audit/auditlog/")
    request.user = User.objects.create_superuser("+85512000001", "pw-for-admin-test")
    entry = audit_record(actor=user, action="user.updated", target=user)
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request, entry)
    assert not admin.has_delete_permission(request, entry)
    assert admin.has_view_permission(request, entry)


def test_admin_pages_render(client, user):
    audit_record(actor=user, action="user.updated", target=user)
    staff = User.objects.create_superuser("+85512000001", "pw-for-admin-test")
    client.force_login(staff)
    listing = client.get("/admin/audit/auditlog/")
    assert listing.status_code == 200
    assert b"user.updated" in listing.content
    entry = AuditLog.objects.get()
    detail = client.get(f"/admin/audit/auditlog/{entry.pk}/change/")
    assert detail.status_code == 200
    assert b"Save" not in detail.content or b'name="_save"' not in detail.content
