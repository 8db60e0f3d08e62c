"""Every model registered in the admin: its list page renders for staff, and the view-only ones offer no add,
change or delete."""

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
