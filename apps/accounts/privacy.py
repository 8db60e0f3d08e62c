"""Export and erasure of one person's data, gathered from every app that keeps a part.

Accounts is the lowest app a person's data lives in, so it owns the orchestration (`apps.accounts.services.privacy`)
and this registry; every app above it (providers, tokens, messaging, incentives) registers a `PrivacyPart` in its
`ready()`: the JSON files it adds to an export, what stops an erasure (money in flight), how it erases its own
rows, through its own services, and what of the person its audit entries may hold (`audit_subject`: the objects
entries are about, and the personal values to redact from them; read before anything is erased). Accounts' own
part (profile, sessions, memberships, audit entries) is applied last, after the parts above it, because they may
still need the phone number (the deny-list of banned numbers); the audit log is redacted after that.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Exporter = Callable[[Any], dict[str, Any]]  # user -> {"file.json": JSON-able data}
Blockers = Callable[[Any], list[str]]  # user -> reasons the erasure must wait ([] when none)
Eraser = Callable[[Any, Any], None]  # (user, actor) -> None; runs inside the erasure's transaction


@dataclass(frozen=True)
class AuditSubject:
    """What of one person an app's audit entries may hold: the entries' targets ({"app.model": [ids]}) and the
    personal values (numbers, names, account numbers) that the erasure replaces by keyed hashes in them."""

    targets: dict[str, list[Any]] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)


AuditSubjectOf = Callable[[Any], AuditSubject]  # user -> AuditSubject


@dataclass(frozen=True)
class PrivacyPart:
    name: str
    export: Exporter | None = None
    blockers: Blockers | None = None
    erase: Eraser | None = None
    audit_subject: AuditSubjectOf | None = None


PARTS: dict[str, PrivacyPart] = {}


def privacy_part(part: PrivacyPart) -> PrivacyPart:
    """Register an app's part (call it from the app's `ready()`); registering the same name again replaces it."""
    PARTS[part.name] = part
    return part


def parts_highest_first() -> Iterable[PrivacyPart]:
    """Apps start lowest first, so the registration order reversed erases the higher apps' rows first."""
    return reversed(list(PARTS.values()))
