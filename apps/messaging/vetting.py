"""The send path's client limits beyond one API key's own: the organisation's plan and the sandbox (docs/sandbox.md).

- A key's per-second rate and daily quota are the key's own values, never above its organisation's plan (staff may
  lower a plan after keys were made with higher values).
- The organisation's daily total across all its keys is bounded by its plan.
- A sandboxed organisation (not yet approved by staff) sends at most CLIENT_SANDBOX_DAILY_CAP messages a day, and only
  to its members' own numbers (`sandbox_recipient_not_verified`).

The daily windows are counted in the same round trip as the key's counters (sending's `_check_client`).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import ApiKey, ClientOrganization
from apps.accounts.selectors import sandbox_number_is_verified
from apps.accounts.services import plan_limits
from apps.core.counters import Count, counter_give_back
from apps.core.errors import DomainError
from apps.core.ratelimit import Window
from apps.messaging.errors import OrganizationQuotaExceeded, SandboxDailyCapReached, SandboxRecipientNotVerified


def key_rate_per_second(api_key: ApiKey) -> int:
    limit = plan_limits(api_key.organization).key_rate_per_second
    return min(api_key.rate_per_second or limit, limit)


def key_rate_per_day(api_key: ApiKey) -> int:
    limit = plan_limits(api_key.organization).key_rate_per_day
    return min(api_key.rate_per_day or limit, limit)


def day_window(*, key: str, limit: int) -> Window:
    """A daily window from midnight to midnight, Asia/Phnom_Penh, named by `key` and the date."""
    now = timezone.localtime()
    day_end = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(
        key=f"{key}:{now.date().isoformat()}", limit=limit, seconds_left=int((day_end - now).total_seconds()) + 1
    )


@dataclass
class OrganizationLimits:
    """The organisation's daily windows for one request of `amount` messages: its plan's total, and the sandbox cap
    while it is sandboxed. `counts()` go into the caller's round trip; `check()` reads the values back."""

    organization: ClientOrganization
    amount: int

    def __post_init__(self) -> None:
        pk = self.organization.pk
        self.windows: list[tuple[Window, type[DomainError]]] = [
            (
                day_window(
                    key=f"messages:org-quota:{pk}", limit=plan_limits(self.organization).organization_rate_per_day
                ),
                OrganizationQuotaExceeded,
            )
        ]
        if self.organization.is_sandboxed:
            self.windows.append(
                (
                    day_window(key=f"messages:sandbox:{pk}", limit=settings.CLIENT_SANDBOX_DAILY_CAP),
                    SandboxDailyCapReached,
                )
            )

    def counts(self) -> list[Count]:
        return [window.count(self.amount) for window, _error in self.windows]

    def check(self, values: list[int]) -> None:
        """Raise the first window's error that `values` (its counts' results, in order) went over."""
        for (window, error), used in zip(self.windows, values, strict=True):
            if used > window.limit:
                raise error(retry_after=window.seconds_left)

    def give_back(self) -> None:
        for window, _error in self.windows:
            counter_give_back(window.key, self.amount)


def organization_limits(*, organization: ClientOrganization, count: int, trusted: bool) -> OrganizationLimits | None:
    """The organisation's daily windows for a request of `count` messages; none for PeerPower's own messages."""
    if trusted or organization.is_system:
        return None
    return OrganizationLimits(organization=organization, amount=count)


def sandbox_refuse_recipient(*, organization: ClientOrganization, phone: str) -> None:
    """A sandboxed organisation may send only to its members' own numbers (403 `sandbox_recipient_not_verified`)."""
    if organization.is_sandboxed and not sandbox_number_is_verified(organization=organization, phone=phone):
        raise SandboxRecipientNotVerified(details={"to": phone})
