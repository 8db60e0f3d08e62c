"""Unresponsive phones: no new work for a phone that let an offer end unacknowledged, until it is heard from again.

A phone taken offline without warning (battery pulled, no signal, app killed) keeps a fresh-looking heartbeat for
PROVIDER_HEARTBEAT_INTERVAL x PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS seconds, and every offer it lets expire gives
its slot back, so it looks the least loaded provider and matching prefers it: a message can spend all its attempts
on silent phones. So the first offer that ends unacknowledged (its acknowledgement window passed and the job was
given to another phone, or its lease ended still offered) marks the provider `unresponsive_since`; its SIMs leave
`matchable` and the matching query checks the column too (already joined: no extra query per match).

Anything the phone says clears it at once: a heartbeat (`provider_heartbeat`), an acknowledgement, a report or a
pull (`provider_heard_from`). A live phone that missed one acknowledgement (a late push) is back on its next request,
at most one heartbeat interval later. The expired offers do not count against the phone's load or reputation: only
an acknowledged job left unanswered costs reputation.
"""

from datetime import datetime
from typing import Any

from django.db import transaction

from apps.providers.models import Provider, Sim
from apps.providers.services.availability import sync_matchable
from apps.providers.wakeup import wake_up


@transaction.atomic(savepoint=False)
def providers_mark_unresponsive(*, provider_ids: list[int], now: datetime) -> int:
    """An offer to each of these providers ended unacknowledged: no new work for them until they are heard from.
    Returns how many were newly marked. Runs in the caller's transaction (the job's end); two statements.

    Not audited: a machine state the phone clears by its next request; the job's end reason records each missed
    acknowledgement, and staff see the mark in the provider admin.
    """
    if not provider_ids:
        return 0
    # Marked once: the first missed acknowledgement's time stays (staff read how long the phone has been silent).
    marked = Provider.objects.filter(pk__in=provider_ids, unresponsive_since__isnull=True).update(
        unresponsive_since=now
    )
    Sim.objects.filter(provider_id__in=provider_ids, matchable=True).update(matchable=False)
    # Ask the phones to speak (the wake-up push, as for a phone the sweep marked offline): a live phone that only
    # missed one push, or whose acknowledgement an outage refused, heartbeats at once and is offered work again;
    # a silent one stays marked.
    ids = list(provider_ids)
    transaction.on_commit(lambda: wake_up(ids))
    return marked


def provider_heard_from(*, provider: Provider | None = None, user: Any = None) -> bool:
    """The provider's phone spoke (an acknowledgement, a report, a pull): if it was marked unresponsive, it is
    offered work again at once. Returns whether it was marked.

    With `provider` loaded by the caller (as reports and acknowledgements load it with their job), the usual case —
    not marked — costs no query; with only `user` it is one conditional UPDATE that matches nothing then.
    Not audited: see `providers_mark_unresponsive`.
    """
    if provider is not None and provider.unresponsive_since is None:
        return False
    rows = Provider.objects.filter(unresponsive_since__isnull=False)
    rows = rows.filter(pk=provider.pk) if provider is not None else rows.filter(user=user)
    # One statement on its own (no savepoint around it): the pull's usual case is this UPDATE matching nothing.
    if not rows.update(unresponsive_since=None):
        return False
    with transaction.atomic():
        current = Provider.objects.get(pk=provider.pk) if provider is not None else Provider.objects.get(user=user)
        sync_matchable(current)
    if provider is not None:
        provider.unresponsive_since = None
    return True
