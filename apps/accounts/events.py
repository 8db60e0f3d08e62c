"""Events accounts publishes for higher apps (apps.core.events): delivery turns them into webhook events."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientApplicationDecided:
    """Staff decided a client's application to leave the sandbox: `status` is approved, changes_requested or
    rejected; `note` is what staff wrote to the client."""

    organization_id: int
    application_id: int
    status: str
    note: str
