"""CSV export of admin lists: the current filter, search and date range, every page, streamed and audited."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.audit.export import csv_cell
from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.delivery.models import DeliveryStat

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def export_url(model: str) -> str:
    app, name = model.split(".")
    return reverse(f"admin:{app}_{name}_export_csv")


@pytest.mark.parametrize(
    "admin", [a for a in site._registry.values() if getattr(a, "csv_fields", ())], ids=lambda a: a.model._meta.label
)
def test_every_exporting_list_streams_its_columns(staff_client, admin):
    opts = admin.model._meta
    header, *_ = rows(staff_client.get(export_url(f"{opts.app_label}.{opts.model_name}")))
    assert header == list(admin.csv_fields)


def test_the_lists_staff_asked_for_export():
    exporting = {a.model._meta.label for a in site._registry.values() if getattr(a, "csv_fields", ())}
    assert {
        "messaging.Message",
        "messaging.Job",
        "delivery.DeliveryStat",
        "delivery.FraudFlag",
        "providers.Provider",
        "payments.TopUp",
        "incentives.Payout",
        "audit.AuditLog",
        "tokens.Transfer",
    } <= exporting


def test_export_holds_the_filtered_rows_of_every_page_and_is_audited(staff_client, staff):
    for n in range(120):  # more than one list page (100)
        audit_record(action="test.kept", target_type="thing", target_id=n)
    audit_record(action="test.other", target_type="thing", target_id=999)
    header, *body = rows(staff_client.get(export_url("audit.auditlog"), {"action": "test.kept"}))
    action = header.index("action")
    assert len(body) == 120 and {row[action] for row in body} == {"test.kept"}
    entry = AuditLog.objects.get(action="admin.export_csv")
    assert entry.actor == staff and entry.target_type == "audit.auditlog"
    assert entry.after["filters"] == {"action": ["test.kept"]}


def test_date_range_filters_the_list_and_the_export(staff_client):
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        audit_record(action="test.dated", target_type="thing", target_id=1)
    audit_record(action="test.dated", target_type="thing", target_id=2)
    today = timezone.localdate()
    since = (today - timedelta(days=2)).isoformat()
    params = {"action": "test.dated", "created_at__from": since, "created_at__to": today.isoformat()}
    header, *body = rows(staff_client.get(export_url("audit.auditlog"), params))
    assert [row[header.index("target_id")] for row in body] == ["2"]
    page = staff_client.get(reverse("admin:audit_auditlog_changelist"), params).content.decode()
    assert f'value="{since}"' in page and "export.csv?" in page
    until_old = (today - timedelta(days=9)).isoformat()
    header, *body = rows(
        staff_client.get(export_url("audit.auditlog"), {**params, "created_at__from": "", "created_at__to": until_old})
    )
    assert [row[header.index("target_id")] for row in body] == ["1"]


def test_date_range_on_a_date_column(staff_client):
    today = timezone.localdate()
    for days_ago in (0, 3, 30):
        DeliveryStat.objects.create(day=today - timedelta(days=days_ago), carrier="smart", delivered=days_ago)
    params = {"day__from": (today - timedelta(days=3)).isoformat(), "day__to": (today - timedelta(days=1)).isoformat()}
    header, *body = rows(staff_client.get(export_url("delivery.deliverystat"), params))
    assert [row[header.index("delivered")] for row in body] == ["3"]


def test_a_bad_date_is_refused_as_the_list_refuses_it(staff_client):
    response = staff_client.get(export_url("audit.auditlog"), {"created_at__from": "yesterday"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert (
        staff_client.get(reverse("admin:audit_auditlog_changelist"), {"created_at__from": "31/12"}).status_code == 302
    )


def test_staff_who_may_not_view_the_list_may_not_export_it(client):
    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)
    assert client.get(export_url("audit.auditlog")).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    assert client.get(export_url("audit.auditlog")).status_code == 200


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+855", "+855"), ("-3", "-3"), ("@SUM(A1)", "'@SUM(A1)"),
     (None, ""), ("សួស្តី", "សួស្តី")],
)  # fmt: skip
def test_cells_a_spreadsheet_would_run_are_defused(value, cell):
    assert csv_cell(value) == cell
