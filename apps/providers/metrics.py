"""Provider capacity on /metrics: providers online and SIMs ready for work, per carrier (never per provider).

Read when scraped with one grouped query over SIMs (cached a few seconds, see `CachedCollector`).
"""

from collections.abc import Iterator

from django.db.models import Count, Q
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
        found = {row["carrier"]: row for row in rows}
        for carrier in Carrier.values:
            row = found.get(carrier, {})
            online.add_metric([carrier], row.get("providers", 0))
            matchable.add_metric([carrier], row.get("matchable", 0))
        yield online
        yield matchable
