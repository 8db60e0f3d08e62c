"""What encryption at rest costs: per value (encrypt, decrypt, blind index), and the back office's message list and
recipient search on PostgreSQL with many messages (the search goes by the recipient's keyed hash, indexed).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_privacy_bench .venv/bin/python benchmarks/privacy.py

Adds `--messages` messages (default 100,000) to the benchmark database the first time (they stay for the next run).
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["ALLOWED_HOSTS"] = "testserver"

from benchmarks.common import bench_database_url, percentile  # noqa: E402

BODY = "លេខកូដផ្ទៀងផ្ទាត់ Angkor Coffee របស់អ្នកគឺ 482913។ កុំប្រាប់អ្នកដទៃ។"


def per_value(repeat: int = 20_000) -> None:
    from apps.core import crypto

    token = crypto.encrypt(BODY, context="messaging_message.body")
    for name, call in (
        ("encrypt a Khmer OTP body", lambda: crypto.encrypt(BODY, context="messaging_message.body")),
        ("decrypt it", lambda: crypto.decrypt(token, context="messaging_message.body")),
        ("encrypt a number", lambda: crypto.encrypt("+85512345678", context="messaging_message.to")),
        ("blind index of a number", lambda: crypto.blind_index("+85512345678")),
    ):
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        print(f"{name:28} {(time.perf_counter() - started) / repeat * 1e6:6.1f} µs")
    print(f"stored size of the body: {len(token)} characters for {len(BODY)} (UTF-8 {len(BODY.encode())} bytes)")


def populate(count: int) -> str:
    from django.utils import timezone

    from apps.accounts.models import ClientOrganization, User
    from apps.accounts.services import client_create
    from apps.messaging.models import Message

    existing = Message.objects.count()
    organization = ClientOrganization.objects.filter(name="Privacy benchmark").first() or client_create(
        user=User.objects.create_user(phone=f"+85512{random.randint(100000, 999999)}"), name="Privacy benchmark"
    )
    now = timezone.now()
    batch: list[Message] = []
    started = time.perf_counter()
    for index in range(existing, count):
        batch.append(
            Message(
                organization=organization,
                to=f"+8551{index:08d}",
                body=BODY,
                encoding="ucs2",
                segments=1,
                status="delivered",
                expires_at=now,
                finished_at=now,
            )
        )
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    if batch:
        Message.objects.bulk_create(batch)
    if count > existing:
        print(f"inserted {count - existing} messages in {time.perf_counter() - started:.1f} s")
    return Message.objects.filter(organization=organization).order_by("-pk")[random.randint(0, 999)].to


def admin_pages(number: str, repeat: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from apps.accounts.models import User
    from apps.core.crypto import blind_index
    from apps.messaging.models import Message

    # No collectstatic here: plain static storage (no manifest to look hashed names up in), as the tests do.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    staff = User.objects.create_user(phone=f"+85512{random.randint(100000, 999999)}", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    for label, query in (("list page (100 rows decrypted)", {}), (f"search {number}", {"q": number})):
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get("/admin/messaging/message/", query)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        print(f"admin {label:36} p50 {statistics.median(samples):6.1f} ms  p99 {percentile(samples, 0.99):6.1f} ms")
    with connection.cursor() as cursor:
        sql, params = Message.objects.filter(to_hash=blind_index(number)).only("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        print(f"{Message.objects.filter(to_hash=blind_index(number)).count()} message(s) to {number} found")
        print("plan of the search:", " / ".join(row[0].strip() for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    arguments = parser.parse_args()
    bench_database_url()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    per_value()
    number = populate(arguments.messages)
    admin_pages(number, arguments.repeat)


if __name__ == "__main__":
    main()
