"""Idempotency-Key for client requests: a retried request gets the first response; a different request with the
same key gets 409. Concurrent duplicates create one message: the key's row is unique per client and is written in
the same commit as the messages, so the second writer waits for the first to commit, fails on the unique key (its
own writes rolled back with it) and replays the first one's answer.

A single send (`idempotent_call(..., answer=...)`) on PostgreSQL in autocommit writes the key's row IN the one
statement that inserts the message — and books its hold, when it has a price (`apps.messaging.charging`,
`client_hold_create_with_row`), or checks its recipient, when it has none (the guarded INSERT,
`apps.messaging.inserting.messages_insert`): a look-up, then that statement — two round trips, where a transaction
around the send and the key's INSERT cost five for a free message (look-up, BEGIN, the message, the key, COMMIT) and
eight for a held one (with SAVEPOINT, the hold, RELEASE; benchmarks/send_cpu.py counts them). The answer's body is
written by the application before the statement, from the unsaved message; only its `id` is known after the INSERT,
so the row keeps the body with `"id": null` and the message's id in a column of its own (`message_id`), put back in
place when the answer is read (`_answer`). The first answer is that same rebuilt row, so a retry's is identical by
construction. The body cannot be completed in SQL instead: it is encrypted at rest.

Why not claim the key first (INSERT … ON CONFLICT DO NOTHING in autocommit, then the send, then the answer)? It costs
a round trip more (claim, send, answer; the claim cannot replace the look-up, which must come before the client's
limits are counted), concurrent duplicates would have to wait for an answer that is not there yet (a lock or polling
where the unique key now makes them wait for free), and a process killed between the claim and the answer leaves a
claimed key with no answer, which retries must detect and repair. One statement has no in-between.

The single send's API key, when this process held it, is verified in the round trip that counts its limits
(apps.core.lean): a stored answer is given only after it is verified (`before_replay`), and a new request's send
verifies it before writing anything — so a new key costs no round trip for it of its own either.

A send that does not take the one-statement path (a message the content filter rejected and stores, whose 422 does
not name the message's id at the top; a caller's transaction; SQLite) runs in a transaction that also inserts the
key's row, the complete answer in it (`_store` in apps.messaging.services.sending asks for it: `key_remember`). A
bulk request, which answers for many messages, keeps the transaction around the whole call. Errors raised by the
send (4xx, 402) are remembered by none: nothing was written, the request can be retried.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.models import ClientOrganization
from apps.core.compiled import CompiledSelect
from apps.messaging.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from apps.messaging.models import IdempotencyKey, Message

# 1 to 255 printable ASCII characters (a UUID, an order number): the schema states the same pattern.
IDEMPOTENCY_KEY_PATTERN = r"^[ -~]{1,255}$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

# (status, JSON body) of a request's answer.
Answer = tuple[int, Any]


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    organization: ClientOrganization,
    key: str | None,
    fingerprint: str,
    call: Callable[[], Answer],
    answer: Callable[[Message], Answer] | None = None,
    before_replay: Callable[[], None] = lambda: None,
) -> Answer:
    """Run `call` (returning status and JSON body) once per (client, key); replay its result for the same request.

    Without a key, just run it. Errors raised by `call` are not remembered: the request can be retried.
    `answer`: for a call that stores one message (a single send), the answer for that message — given then, the
    key's row is written by the statement or transaction that stores the message, not in a transaction around
    `call` (see the module's docstring). `before_replay`: called before a stored answer is given (it may refuse).
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
        before_replay()
        return _replay(existing, fingerprint)
    try:
        if answer is not None and not transaction.get_connection().in_atomic_block:
            if existing is not None:
                _expired_delete(existing, cutoff)  # autocommit: a concurrent replacement deletes nothing
            return _call_remembering(organization, key, fingerprint, call, answer)
        with transaction.atomic():
            if existing is not None:
                _expired_delete(existing, cutoff)
            status, body = call()
            IdempotencyKey.objects.create(
                organization=organization, key=key, request_hash=fingerprint, response_status=status, response_body=body
            )
    except IntegrityError:
        # Someone else with the same key committed first (a concurrent retry): answer with theirs.
        existing = _stored(organization=organization, key=key)
        if existing is None:
            raise
        before_replay()
        return _replay(existing, fingerprint)
    return status, body


@dataclass(slots=True)
class _Pending:
    """A key to remember with the message the call stores, and, once written, the row as written."""

    organization_id: int
    key: str
    fingerprint: str
    answer: Callable[[Message], Answer]
    written: IdempotencyKey | None = field(default=None)


_PENDING: ContextVar[_Pending | None] = ContextVar("idempotency_pending", default=None)


def _call_remembering(
    organization: ClientOrganization,
    key: str,
    fingerprint: str,
    call: Callable[[], Answer],
    answer: Callable[[Message], Answer],
) -> Answer:
    """Run `call` with the key pending: the statement or transaction that stores its message writes the key's row
    (`key_row_with_message`, `key_remember`). The answer is the row as written, as a retry will read it."""
    pending = _Pending(organization_id=organization.pk, key=key, fingerprint=fingerprint, answer=answer)
    token = _PENDING.set(pending)
    try:
        result = call()
    finally:
        _PENDING.reset(token)
    if pending.written is None:
        # The call stored no message with the key (it answered without storing one): remember its answer now.
        status, body = result
        IdempotencyKey.objects.create(
            organization_id=organization.pk,
            key=key,
            request_hash=fingerprint,
            response_status=status,
            response_body=body,
        )
        return result
    return _answer(pending.written)


def _untaken() -> _Pending | None:
    """The key the current send must store with its one message, if any and not yet written: a send stores one
    message, and any other write of the call is not the one the key answers for."""
    pending = _PENDING.get()
    return pending if pending is not None and pending.written is None else None


@dataclass(frozen=True, slots=True)
class KeyRow:
    """The pending key's row for the statement that inserts its message: a data-modifying CTE (`sql`) reading the
    inserted message's id from `held_row`, its parameters, and the row as it will read back."""

    sql: str
    params: dict[str, Any]
    row: IdempotencyKey


def key_row_with_message(message: Message) -> KeyRow | None:
    """For the statement that inserts `message` (unsaved) with its hold, the pending key's row with the answer; None
    when no key is pending. A key taken before raises IntegrityError in that statement, which then writes nothing.
    Call `key_written` once the statement has inserted the message."""
    pending = _untaken()
    if pending is None:
        return None
    status, body = pending.answer(message)
    if not (isinstance(body, dict) and "id" in body and body["id"] is None):
        raise RuntimeError("an answer written with its message names the message's id at the top: `id`")
    row = IdempotencyKey(
        organization_id=pending.organization_id,
        key=pending.key,
        request_hash=pending.fingerprint,
        response_status=status,
        response_body=body,
        created_at=timezone.now(),
    )
    params = {
        "k_org": row.organization_id,
        "k_key": row.key,
        "k_hash": row.request_hash,
        "k_status": row.response_status,
        "k_body": IdempotencyKey._meta.get_field("response_body").get_db_prep_save(body, connection),
        "k_at": row.created_at,
    }
    return KeyRow(sql=_KEY_WITH_MESSAGE, params=params, row=row)


# Spliced into apps.tokens' one-statement hold (`HeldRow.companion`), or after a free message's guarded INSERT named
# `held_row` (apps.messaging.inserting): it inserts only with the message (and its hold).
# Kept short: psycopg parses a statement's text once per process only up to 4,096 characters (its query cache), and
# the hold's statement with the message's columns is about 3,800 already — past the cap, each send would parse it
# again (~0.1 ms of CPU). The parameters need no casts: the columns type them.
_KEY_WITH_MESSAGE = """, remembered AS (
INSERT INTO messaging_idempotencykey (organization_id, key, request_hash, response_status, response_body, created_at,
message_id) SELECT %(k_org)s, %(k_key)s, %(k_hash)s, %(k_status)s, %(k_body)s, %(k_at)s, id FROM held_row)"""


def key_written(key_row: KeyRow, message: Message) -> None:
    """The statement carrying `key_row` inserted `message`: the key is remembered, naming it."""
    pending = _untaken()
    if pending is not None:
        key_row.row.message_id = message.pk
        pending.written = key_row.row


def key_remember(message: Message) -> None:
    """Inside the transaction that stored `message`: insert the pending key's row, if any, with the complete answer.
    A key taken before raises IntegrityError, which rolls that transaction back."""
    pending = _untaken()
    if pending is None:
        return
    status, body = pending.answer(message)
    pending.written = IdempotencyKey.objects.create(
        organization_id=pending.organization_id,
        key=pending.key,
        request_hash=pending.fingerprint,
        response_status=status,
        response_body=body,
    )


def key_answer() -> Answer | None:
    """The current send's answer when its key's row was written with its message (the row as written, as
    `idempotent_call` gives it and a retry reads it), else None: the call need not build its own, which would be
    dropped."""
    pending = _PENDING.get()
    return _answer(pending.written) if pending is not None and pending.written is not None else None


def key_pending() -> bool:
    """Whether the current send has a key to store with its message (`_store` then writes it in its transaction
    unless the one statement writes it)."""
    return _untaken() is not None


def key_taken(error: IntegrityError) -> bool:
    """Whether `error` is the client's key found taken (PostgreSQL names the constraint a statement violated)."""
    diagnostic = getattr(error.__cause__, "diag", None)
    return getattr(diagnostic, "constraint_name", None) == _UNIQUE


_UNIQUE = "idempotency_key_unique_per_client"


def _expired_delete(existing: IdempotencyKey, cutoff: datetime) -> None:
    IdempotencyKey.objects.filter(pk=existing.pk, created_at__lt=cutoff).delete()


def _stored(*, organization: ClientOrganization, key: str) -> IdempotencyKey | None:
    """The client's row for this key, if any (at most one: the pair is unique)."""
    rows = _STORED.run(organization.pk, key)
    return rows[0] if rows else None


# Built once per process on PostgreSQL (apps.core.compiled): every send with an Idempotency-Key looks its key up.
_STORED = CompiledSelect(
    lambda organization_id, key: IdempotencyKey.objects.filter(organization_id=organization_id, key=key)[:1]
)


def _answer(row: IdempotencyKey) -> Answer:
    """The stored answer: its body, with the message's id put back in place when the row keeps it apart."""
    body = row.response_body
    if row.message_id is not None:
        body = {**body, "id": row.message_id}  # the key exists already: it keeps its place
    return row.response_status, body


def _replay(existing: IdempotencyKey, fingerprint: str) -> Answer:
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return _answer(existing)


def idempotency_keys_prune(*, now: datetime | None = None) -> int:
    """Forget keys older than MESSAGE_IDEMPOTENCY_HOURS (their answers name the recipient)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.MESSAGE_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
