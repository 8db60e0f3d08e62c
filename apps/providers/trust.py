"""Which phones a message may be offered to: its route's trust requirement, as matching applies it.

Most messages may go to any eligible phone. Two kinds may not: PeerPower's own sign-in and SIM-ownership codes and
clients' `sensitive` messages go only to the trusted pool (providers staff mark `trusted`: the company's and vetted
partners' phones), and a message the content filter reads as a one-time code goes only to providers whose
staff-set `trust_level` reaches PROVIDER_CODE_MIN_TRUST_LEVEL, or to the trusted pool (which carries PeerPower's own
codes, so it may carry clients'). A stranger's phone that is asked to send a code sees the number and the code, and
could use it first.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    """A message's trust requirement. The default asks for nothing."""

    trusted_only: bool = False
    min_trust_level: int = 0

    @property
    def restricted(self) -> bool:
        return self.trusted_only or self.min_trust_level > 0

    def admits(self, candidate: Any) -> bool:
        """Whether a matching candidate (`apps.providers.selectors.Candidate`) may take a message on this route."""
        if candidate.provider_trusted:
            return True
        return not self.trusted_only and candidate.provider_trust_level >= self.min_trust_level


OPEN = Route()
