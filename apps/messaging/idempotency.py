"""Idempotency-Key for client requests: a retried request gets the first response; a different request with the
same key gets 409. Concurrent duplicates create one message: the key row is inserted in the same transaction as
the messages, so the second insert waits for the first to commit and then replays its response.
"""

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import ClientOrganization
from apps.core.compiled import CompiledSelect
from apps.messaging.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from apps.messaging.models import IdempotencyKey

# 1 to 255 printable ASCII characters (a UUID, an order number): the schema states the same pattern.
IDEMPOTENCY_KEY_PATTERN = r"^[ -~]{1,255}$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    organization: ClientOrganization,
    key: str | None,
    fingerprint: str,
    call: Callable[[], tuple[int, Any]],
) -> tuple[int, Any]:
    """Run `call` (returning status and JSON body) once per (client, key); replay its result for the same request.

    Without a key, just run it. Errors raised by `call` are not remembered: the request can be retried.
    """
    if key is None:
        return call()
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise IdempotencyKeyInvalid()
    cutoff = timezone.now() - timedelta(hours=settings.MESSAGE_IDEMPOTENCY_HOURS)
    # One look-up whatever the row's age (the key is unique per client, so no ordering is needed): a fresh row is
    # replayed; an expired one is replaced, and only then is a DELETE sent — not on every new key.
    existing = _stored(organization=organization, key=key)
    if existing is not None and existing.created_at >= cutoff:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            if existing is not None:
                IdempotencyKey.objects.filter(pk=existing.pk, created_at__lt=cutoff).delete()
            status, body = call()
            IdempotencyKey.objects.create(
                organization=organization,
                key=key,
                request_hash=fingerprint,
                response_status=status,
                response_body=body,
            )
    except IntegrityError:
        # Someone else with the same key committed first (a concurrent retry): answer with theirs.
        existing = _stored(organization=organization, key=key)
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return status, body


def _stored(*, organization: ClientOrganization, key: str) -> IdempotencyKey | None:
    """The client's row for this key, if any (at most one: the pair is unique)."""
    rows = _STORED.run(organization.pk, key)
    return rows[0] if rows else None


# Built once per process on PostgreSQL (apps.core.compiled): every send with an Idempotency-Key looks its key up.
_STORED = CompiledSelect(
    lambda organization_id, key: IdempotencyKey.objects.filter(organization_id=organization_id, key=key)[:1]
)


def _replay(existing: IdempotencyKey, fingerprint: str) -> tuple[int, Any]:
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return existing.response_status, existing.response_body


def idempotency_keys_prune(*, now: datetime | None = None) -> int:
    """Forget keys older than MESSAGE_IDEMPOTENCY_HOURS (their answers name the recipient)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.MESSAGE_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
