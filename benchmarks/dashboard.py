"""The operations dashboard on a database with 1,000,000 messages (issue 17: it must load in < 300 ms).

Fills `messaging_message` with one INSERT … SELECT FROM generate_series on PostgreSQL (30 days of traffic, 50
clients, every carrier and priority, ~93 % delivered, a few thousand queued and held), rebuilds the hourly rollups
from it (`apps.backoffice.rollup.rollup_rebuild`, what the repair command does), then times, as a signed-in staff
member through Django's test client: the admin index with the dashboard, and the JSON refresh the page polls.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/peerpower_dashboard_bench .venv/bin/python benchmarks/dashboard.py

Use --keep to time again without refilling.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url, percentile

CLIENTS = 50
# Recipients and bodies are encrypted at rest (apps.core.fields): the fill cannot write plain text into those columns,
# and encrypting a million values in Python would take longer than the fill itself. This many are encrypted once
# (with the blind index of each recipient) and spread over the rows; the admin pages decrypt what they show.
DISTINCT_VALUES = 1000

FILL = """
INSERT INTO messaging_message (
    organization_id, "to", to_hash, carrier, body, encoding, segments, price_on_net, price_cross_carrier, price_held,
    price_charged, priority, route, reference, callback_url, status, status_reason, filter_score, filter_reasons,
    created_at, updated_at, expires_at, dispatch_tries, attempts, sent_at, delivered_at, finished_at
)
SELECT
    %(first_client)s + (n %% %(clients)s),
    (%(recipients)s::text[])[1 + n %% %(distinct)s],
    (%(recipient_hashes)s::text[])[1 + n %% %(distinct)s],
    (ARRAY['smart', 'smart', 'metfone', 'metfone', 'cellcard', 'seatel'])[1 + n %% 6],
    (%(bodies)s::text[])[1 + n %% %(distinct)s], 'ucs2', 1 + (n %% 10 = 0)::int, 50000, 80000, 50000,
    CASE WHEN status = 'delivered' THEN 50000 END,
    (ARRAY['high', 'normal', 'normal', 'low'])[1 + n %% 4], 'open', '', '', status, '', 0, '[]',
    created, created, created + interval '1 day', 0, (status <> 'queued' AND status <> 'held')::int,
    CASE WHEN status IN ('delivered', 'sent') THEN created + latency / 2 END,
    CASE WHEN status = 'delivered' THEN created + latency END,
    CASE WHEN status NOT IN ('queued', 'held', 'sent', 'assigned') THEN created + latency END
FROM (
    SELECT
        n,
        -- Older messages first; the last %(live)s are recent and still in flight.
        now() - interval '30 days' * (1 - n::float / %(count)s) AS created,
        interval '1 millisecond' * (800 + (random() * random() * 120000)::int) AS latency,
        CASE
            WHEN n > %(count)s - %(live)s THEN (ARRAY['queued', 'queued', 'held', 'assigned', 'sent'])[1 + n %% 5]
            WHEN n %% 100 < 93 THEN 'delivered'
            WHEN n %% 100 < 97 THEN 'failed'
            WHEN n %% 100 < 99 THEN 'expired'
            ELSE 'rejected'
        END AS status
    FROM generate_series(1, %(count)s) AS n
) AS generated
"""


def setup_django() -> None:
    import django

    django.setup()


def stored_values() -> dict[str, object]:
    """DISTINCT_VALUES recipients (with their blind indexes) and bodies, as the model fields would store them."""
    from apps.core import crypto
    from apps.messaging.models import Message

    to_field, body_field = Message._meta.get_field("to"), Message._meta.get_field("body")
    recipients = [f"+8551{n:08d}" for n in range(DISTINCT_VALUES)]
    return {
        "distinct": DISTINCT_VALUES,
        "recipients": [crypto.encrypt(to, context=to_field.encryption_context) for to in recipients],
        "recipient_hashes": [crypto.blind_index(to) for to in recipients],
        "bodies": [
            crypto.encrypt(f"ការណាត់ជួបរបស់អ្នកនៅថ្ងៃស្អែក ម៉ោង ៩ ព្រឹក #{n}", context=body_field.encryption_context)
            for n in range(DISTINCT_VALUES)
        ],
    }


def fill(count: int) -> None:
    from django.db import connection

    from apps.accounts.models import ClientOrganization

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_message, backoffice_messagerollup CASCADE")
    organizations = list(ClientOrganization.objects.filter(name__startswith="bench client").order_by("pk"))
    if len(organizations) < CLIENTS:
        organizations += ClientOrganization.objects.bulk_create(
            [ClientOrganization(name=f"bench client {n}") for n in range(len(organizations), CLIENTS)]
        )
    first = organizations[0].pk
    assert [o.pk for o in organizations[:CLIENTS]] == list(range(first, first + CLIENTS)), "client ids not contiguous"
    with connection.cursor() as cursor:
        cursor.execute(
            FILL, {"first_client": first, "clients": CLIENTS, "count": count, "live": 3000, **stored_values()}
        )
        # VACUUM as autovacuum would after the bulk write: it sets the visibility map, without which no index-only
        # scan is possible and every count reads the heap (a state production's tables are not in for long).
        cursor.execute("VACUUM ANALYZE messaging_message")
    print(f"filled {count:,} messages in {time.perf_counter() - started:.1f} s")


def rebuild() -> None:
    from django.db import connection
    from django.utils import timezone

    from apps.backoffice.rollup import rollup_rebuild

    started = time.perf_counter()
    now = timezone.now()
    rows = rollup_rebuild(since=now - timedelta(days=31), until=now + timedelta(hours=1))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE backoffice_messagerollup")  # the dashboard reads its index only
    print(f"rollups rebuilt from the messages: {rows:,} rows in {time.perf_counter() - started:.1f} s")


def time_views(rounds: int) -> None:
    from django.conf import settings
    from django.test import Client, override_settings

    from apps.accounts.models import User

    staff = User.objects.filter(phone="+85599000001").first() or User.objects.create_user(
        phone="+85599000001", password=None, is_staff=True, is_superuser=True
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(staff)
    # No collectstatic here: plain static URLs instead of the manifest's (which is what production serves).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        _time_requests(client, rounds)


def _time_requests(client, rounds: int) -> None:
    from django.urls import reverse

    from apps.backoffice.figures import dashboard
    from apps.messaging.models import Message

    # The filled rows must read back as the admin reads them: a value the fields cannot decrypt fails these pages.
    newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
    for url in (
        reverse("admin:messaging_message_changelist"),
        reverse("admin:messaging_message_change", args=[newest]),
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    for name, url in (
        ("admin index (full page)", reverse("admin:index")),
        ("dashboard.json", reverse("backoffice:dashboard-json")),
    ):
        client.get(url)  # warm: templates compiled, connection open
        samples, cpu = [], []
        for _ in range(rounds):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200, response.status_code
        # CPU: this process's own time (Django, the view, the template); the rest of the wall time is PostgreSQL and
        # waiting for a core, which on a shared machine is most of it.
        print(
            f"{name:26} p50 {statistics.median(samples):6.1f} ms  p90 {percentile(samples, 0.9):6.1f} ms  "
            f"max {max(samples):6.1f} ms  web process CPU p50 {statistics.median(cpu):5.1f} ms  ({rounds} requests, "
            f"load {os.getloadavg()[0]:.1f})"
        )
    started = time.perf_counter()
    figures = dashboard()
    print(f"dashboard() alone: {(time.perf_counter() - started) * 1000:.1f} ms")
    shown = {figure["key"]: figure["value"] for figure in figures["figures"]}
    print("figures:", {key: shown[key] for key in ("submitted", "delivered_rate", "p50", "p90", "held")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="time the views on the data already there")
    args = parser.parse_args()
    bench_database_url()
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {connection.vendor}")
    if not args.keep:
        fill(args.messages)
        rebuild()
    time_views(args.rounds)


if __name__ == "__main__":
    main()
