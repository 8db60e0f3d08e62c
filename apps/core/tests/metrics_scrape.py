"""Reading /metrics in tests: the samples of a scrape, by name and labels."""

from prometheus_client.parser import text_string_to_metric_families

from apps.core.metrics import live_collectors_expire


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample on /metrics (live collectors read afresh), keyed by sample name and its labels."""
    live_collectors_expire()
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """One sample's value; 0 for a labelled counter that was never incremented (not on /metrics yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
