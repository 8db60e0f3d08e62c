"""What a push is and what became of it: the types every push backend takes and returns."""

import json
from dataclasses import dataclass, field
from enum import StrEnum

# FCM limits: a data payload of at most 4096 bytes, a TTL of at most 28 days.
MAX_DATA_BYTES = 4096
MAX_TTL_SECONDS = 28 * 24 * 3600
# Keys FCM reserves for itself; a message using them is refused as INVALID_ARGUMENT.
RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
RESERVED_DATA_KEY_PREFIXES = ("google", "gcm")


class PushOutcome(StrEnum):
    """What the caller should do next.

    - SENT: FCM accepted the message (it may still never reach the phone; the ack says whether it did).
    - TOKEN_DEAD: the device token will never work again (UNREGISTERED, SENDER_ID_MISMATCH, INVALID_ARGUMENT about
      the token): retire the token, release the lease and re-match at once.
    - RETRYABLE: FCM or the network is struggling (QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL, timeouts, connection
      errors): try again later with backoff, honouring `retry_after_seconds` when given.
    - FAILED: anything else (bad credentials, a payload FCM refuses): retrying the same push will not help.
    """

    SENT = "sent"
    TOKEN_DEAD = "token_dead"  # noqa: S105 - an outcome, not a secret
    RETRYABLE = "retryable"
    FAILED = "failed"


@dataclass(frozen=True)
class PushRequest:
    """One data-only push to one device.

    `data` is sent exactly as given and nothing is added to it. It must stay minimal — the job id and its kind —
    and must NEVER carry the SMS body, the recipient or anything else personal in the clear: FCM payloads pass
    through Google and sit on the device unencrypted. The job's content travels only sealed to the phone's own key
    (`sealed`, apps.delivery.sealed_push); otherwise the phone fetches the job itself over the authenticated API.
    `ttl_seconds` is how long FCM may keep trying to deliver: the time left on the lease (after that the push is
    useless). `collapse_key` lets a newer push for the same job replace one still waiting on FCM's side.
    """

    token: str
    data: dict[str, str]
    ttl_seconds: int
    collapse_key: str | None = None

    def __post_init__(self) -> None:
        # Mistakes here are programming errors in the caller, so they raise instead of becoming a push outcome.
        if not isinstance(self.token, str) or not self.token:
            raise ValueError("A push needs a device token.")
        if not isinstance(self.ttl_seconds, int) or not 0 <= self.ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be an integer from 0 to {MAX_TTL_SECONDS}.")
        if not self.data:
            raise ValueError("A push needs data (the job id and kind).")
        for key, value in self.data.items():
            if not isinstance(key, str) or not isinstance(value, str) or not key:
                raise ValueError("Push data keys must be non-empty strings, and values strings.")
            if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_KEY_PREFIXES):
                raise ValueError(f"{key!r} is a key FCM reserves for itself.")
        if data_bytes(self.data) > MAX_DATA_BYTES:
            raise ValueError(f"Push data exceeds FCM's {MAX_DATA_BYTES} bytes; send ids, never content.")


def data_bytes(data: dict[str, str]) -> int:
    """The size a push's data is held to FCM's limit by: its JSON in UTF-8 (more than FCM's count of keys and
    values, so a payload within it is within FCM's)."""
    return len(json.dumps(data, ensure_ascii=False).encode())


@dataclass(frozen=True)
class PushResult:
    """What happened to one PushRequest.

    `error_code` is FCM's error code when FCM gave one (UNREGISTERED, QUOTA_EXCEEDED, …), else the platform status
    (UNAUTHENTICATED, PERMISSION_DENIED, …) or one of TIMEOUT, CONNECTION_ERROR, AUTH_UNAVAILABLE (the OAuth token
    endpoint could not be reached) and AUTH_FAILED (it refused our credentials); None when sent.
    `latency_seconds` covers the whole call, including firebase-admin's own retries and fetching an access token;
    for a batch it is the batch's duration.
    """

    outcome: PushOutcome
    error_code: str | None = None
    message_id: str | None = None
    latency_seconds: float = 0.0
    retry_after_seconds: float | None = None
    detail: str = field(default="", compare=False)

    @property
    def sent(self) -> bool:
        return self.outcome is PushOutcome.SENT
