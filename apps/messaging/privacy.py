"""Messaging's part of a person's data export (see apps.accounts.privacy): the jobs a provider's phones sent.

Only the jobs' own facts: recipients and bodies are the clients' and their recipients' data, not the provider's.
Jobs are kept on erasure (they are what rewards and charges were booked for), under the provider's opaque id.
"""

from typing import Any

from apps.accounts.privacy import PrivacyPart, privacy_part
from apps.messaging.models import Job


def _export(user: Any) -> dict[str, Any]:
    jobs = (
        Job.objects.filter(provider__user=user)
        .order_by("offered_at")
        .values("id", "message_id", "sim_id", "status", "attempt", "offered_at", "accepted_at", "sent_at",
                "finished_at", "end_reason")
    )  # fmt: skip
    return {"jobs.json": list(jobs.iterator(chunk_size=2000))}


def register() -> None:
    privacy_part(PrivacyPart(name="messaging", export=_export))
