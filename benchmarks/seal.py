"""What sealing a job's push costs the push task, per push: the job's JSON (the acknowledgement's fields, its body
opened as the acknowledgement opens it) and its HPKE seal to the phone's key (apps.delivery.sealed_push), in µs, for
a one-segment Khmer text, a ten-segment one, and a one-segment sealed (trusted-route) body, whose opening (Fernet) is
part of the cost. In memory: no database, no FCM (the query that reads a batch's content is one per batch and
counted in the end-to-end run).

    .venv/bin/python benchmarks/seal.py [--rounds 20000]
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.test")

import django  # noqa: E402

django.setup()


from apps.delivery.sealed_push import job_content, seal  # noqa: E402
from apps.messaging.models import Job, Message  # noqa: E402
from apps.messaging.sealing import seal as seal_at_rest  # noqa: E402
from benchmarks.common import seal_key_random  # noqa: E402


def a_job(body: str, segments: int) -> Job:
    message = Message(pk=5012, to="+85512345678", body=body, encoding="ucs2", segments=segments)
    return Job(
        pk=90211,
        message=message,
        status="offered",
        deadline=datetime(2026, 12, 5, 3, 20, tzinfo=UTC),
        trace_token="tr_4f1c9a7e2b6d4e0f9a3c",  # noqa: S106 - an example job's token
    )


def per_push_us(job: Job, seal_key: str, rounds: int) -> tuple[float, float, int]:
    """µs per push for the JSON alone and for JSON + seal; the sealed field's length."""
    start = time.perf_counter()
    for _ in range(rounds):
        job_content(job)
    content_us = (time.perf_counter() - start) / rounds * 1e6
    start = time.perf_counter()
    for _ in range(rounds):
        sealed = seal(job_content(job), seal_key=seal_key, job_id=job.pk)
    total_us = (time.perf_counter() - start) / rounds * 1e6
    return content_us, total_us, len(sealed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds
    seal_key = seal_key_random()
    khmer = "លេខកូដផ្ទៀងផ្ទាត់ Angkor Coffee របស់អ្នកគឺ 482913។ កុំប្រាប់អ្នកដទៃ។"
    cases = {
        "1 segment, Khmer": a_job(khmer, 1),
        "10 segments, Khmer": a_job(("ក" * 67) * 10, 10),
        "1 segment, sealed at rest": a_job(seal_at_rest(khmer), 1),
    }
    print(f"{'job':28} {'JSON µs':>8} {'JSON+seal µs':>13} {'seal alone µs':>14} {'sealed bytes':>13}")
    for name, job in cases.items():
        per_push_us(job, seal_key, rounds // 10)  # warm up
        content_us, total_us, length = per_push_us(job, seal_key, rounds)
        print(f"{name:28} {content_us:8.1f} {total_us:13.1f} {total_us - content_us:14.1f} {length:13}")


if __name__ == "__main__":
    main()
