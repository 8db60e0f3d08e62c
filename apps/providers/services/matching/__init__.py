"""Matching: which provider's SIM sends a message, with its capacity reserved atomically.

A newcomer reads it in this order:
- `scoring`: a candidate's weight (provider quality x spare load x heartbeat freshness), the weighted draw, and the
  fair-share turn that paces each SIM across the hour.
- `batch`: `providers_match_batch`, the one entry point dispatch calls: sticky sender, then on-net, then
  cross-carrier SIMs, in rounds of picks that share their round trips.
- `reservation`: what reserving a pick means (provider slot, SIM turn, SIM cap units; all or nothing), and its two
  implementations (one PostgreSQL statement per round; conditional UPDATEs elsewhere), with why each must exist.
- `release`: `capacity_release`, when a job ends.
- `sticky`: remembering and forgetting sticky senders.
The cap counters themselves (Redis or database) are `apps.providers.services.caps`.
"""

from apps.providers.services.matching.batch import Assignment, BatchMatch, MatchRequest, providers_match_batch
from apps.providers.services.matching.release import Release, capacities_release, capacity_release
from apps.providers.services.matching.reservation import batch_reservation_statement
from apps.providers.services.matching.sticky import (
    StickyDelivery,
    sticky_sender_remember,
    sticky_senders_prune,
    sticky_senders_remember,
)

__all__ = [
    "Assignment",
    "BatchMatch",
    "MatchRequest",
    "Release",
    "StickyDelivery",
    "batch_reservation_statement",
    "capacities_release",
    "capacity_release",
    "providers_match_batch",
    "sticky_sender_remember",
    "sticky_senders_prune",
    "sticky_senders_remember",
]
