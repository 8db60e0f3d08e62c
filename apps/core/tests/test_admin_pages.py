"""Every model registered in the admin: its list page renders for staff, and the view-only ones offer no add,
change or delete."""

import re

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from apps.accounts.models import User
from apps.core.admin import ReadOnlyAdmin

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("+85512000009", "pw-for-admin-test"))
    return client


@pytest.mark.parametrize("model", list(site._registry), ids=lambda model: model._meta.label)
def test_changelist_renders(staff_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200


def test_view_only_admins_refuse_add_change_and_delete(staff_client):
    view_only = [
        admin
        for admin in site._registry.values()
        if type(admin).has_change_permission is ReadOnlyAdmin.has_change_permission
    ]
    assert len(view_only) >= 5  # delivery reports, fraud flags, canaries, daily stats, availability history, audit log
    for admin in view_only:
        url = reverse(f"admin:{admin.model._meta.app_label}_{admin.model._meta.model_name}_add")
        assert staff_client.get(url).status_code == 403


def test_index_recent_actions_show_the_latest_audit_entries(staff_client, django_assert_max_num_queries):
    """Services write the audit log, not Django's LogEntry: the index lists the audit log's newest entries."""
    from apps.audit.services import audit_record

    for number in range(12):
        audit_record(action="provider.approved", target_type="providers.provider", target_id=number)
    audit_record(action="message.rejected", target_type="messaging.message", target_id=4242, system_actor="task:x")
    # Session, user, one query for the entries, a count per badge (work waiting for staff) and the operations
    # dashboard's figures (pre-aggregated: a fixed number of small queries, however many rows).
    with django_assert_max_num_queries(16):
        page = staff_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    recent = page[page.index('id="recent-actions-module"') :]
    assert "message.rejected" in recent and "messaging.message 4242" in recent and "task:x" in recent
    assert recent.count("provider.approved") == 9  # ten entries at most: the newest first
    assert reverse("admin:audit_auditlog_changelist") in recent


def test_index_names_models_in_plain_english(staff_client):
    page = staff_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for name in ("Canaries", "Held messages (moderation queue)", "API keys", "OTP challenges", "Audit log"):
        assert f">{name}<" in page
    for wrong in ("Canarys", "queue)s", "Api keys", "Otp challenges"):
        assert wrong not in page


@pytest.mark.parametrize(
    "model", [model for model in site._registry if model.__module__.startswith("apps.")], ids=lambda m: m._meta.label
)
def test_every_model_has_a_proper_plural(model):
    """Django's default plural appends an "s": wrong after a consonant and "y", "s", "x", "ch", "sh" and ")"."""
    options = model._meta
    singular, plural = str(options.verbose_name), str(options.verbose_name_plural)
    if plural == f"{singular}s":
        assert not re.search(r"([^aeiou]y|s|x|ch|sh|\))$", singular), f"{options.label}: {plural}"
    lowercase_acronyms = {"api", "otp", "fcm", "sms", "sim", "Api", "Otp", "Fcm", "Sms", "Sim"} & set(plural.split())
    assert not lowercase_acronyms, f"{options.label}: {plural}"
