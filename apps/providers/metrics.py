"""Provider capacity on /metrics: providers online, SIMs ready for work and SIMs cooling down after a carrier block,
per carrier (never per provider).

Read when scraped with two grouped queries over SIMs (cached a few seconds, see `CachedCollector`).
"""

from collections.abc import Iterator

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from apps.core.metrics import CachedCollector
from apps.providers.choices import Availability, Carrier, ProviderStatus


class ProviderCapacityCollector(CachedCollector):
    def read(self) -> Iterator[GaugeMetricFamily]:
        from apps.providers.models import Sim

        online = GaugeMetricFamily(
            "peerpower_providers_online",
            "Active providers online (or busy) with an active SIM on the carrier; a provider with SIMs on two "
            "carriers counts on each.",
            labels=["carrier"],
        )
        matchable = GaugeMetricFamily(
            "peerpower_sims_matchable",
            "SIMs that can take a job now (online, under caps), by carrier.",
            labels=["carrier"],
        )
        rows = (
            Sim.objects.filter(active=True, provider__status=ProviderStatus.ACTIVE)
            .exclude(provider__availability=Availability.OFFLINE)
            .values("carrier")
            .annotate(providers=Count("provider", distinct=True), matchable=Count("id", filter=Q(matchable=True)))
            .order_by()
        )
        cooling = GaugeMetricFamily(
            "peerpower_sims_cooling_down",
            "Active SIMs resting after a carrier block (limit_exceeded, network_reject, repeated generic_failure), by "
            "carrier: many at once is a carrier-wide pattern.",
            labels=["carrier"],
        )
        found = {row["carrier"]: row for row in rows}
        resting = dict(
            Sim.objects.filter(active=True, cooldown_until__gt=timezone.now())
            .values("carrier")
            .annotate(count=Count("id"))
            .order_by()
            .values_list("carrier", "count")
        )
        for carrier in Carrier.values:
            row = found.get(carrier, {})
            online.add_metric([carrier], row.get("providers", 0))
            matchable.add_metric([carrier], row.get("matchable", 0))
            cooling.add_metric([carrier], resting.get(carrier, 0))
        yield online
        yield matchable
        yield cooling
