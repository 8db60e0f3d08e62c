"""deploy/monitoring: every metric the alert rules and the Grafana dashboard use is one the code exports (names from
a live /metrics scrape after exercising the code), every alert links to a runbook that exists, and the dashboard
uses the data source that compose provisions."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from apps.core.metrics import live_collectors_expire
from apps.messaging.services import MessageInput, message_cancel, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

ROOT = Path(settings.BASE_DIR)
MONITORING = ROOT / "deploy" / "monitoring"
RULE_FILES = sorted((MONITORING / "rules").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
SUFFIXES = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_count", "_sum", "_created"]}
# A metric name or a recording rule's name (level:metric:operations); strings and label matchers are removed first.
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "and", "or", "unless", "on", "ignoring", "group_left", "avg_over_time", "time",
    "histogram_quantile", "topk", "max", "min", "avg", "count", "without", "offset", "bool", "le", "s", "m", "h", "d",
}  # fmt: skip


def rules() -> list[dict]:
    groups = [group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    expressions = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            expressions += [target["expr"] for target in panel.get("targets", [])]
    return expressions


def names_in(expression: str) -> set[str]:
    expression = re.sub(r'"[^"]*"', "", expression)  # label values
    expression = re.sub(r"\{[^}]*\}", "", expression)  # label matchers
    expression = re.sub(r"\[[^\]]*\]", "", expression)  # range windows
    expression = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", "", expression)  # labels
    expression = re.sub(r"\b\d+(\.\d+)?([eE][-+]?\d+)?\b", "", expression)
    return set(NAME.findall(expression)) - PROMQL_WORDS


def exported_names(client) -> set[str]:
    live_collectors_expire()
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, [])}
        names |= {sample.name for sample in family.samples}
    return names


@pytest.fixture
def exercised(organization, django_capture_on_commit_callbacks):
    """A message through submit, dispatch and cancellation, and the chain's gas figure loaded (it exists only where
    the chain is on), so that every family the code defines is registered and most have samples."""
    from apps.tokens.chain import gas, supply  # noqa: F401 - their gauges exist where the chain is on

    provider_with_sim(Carrier.CELLCARD)
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Hi"))
    dispatch(message)
    with django_capture_on_commit_callbacks(execute=True):
        message_cancel(message=message)


def test_the_name_scanner_finds_names_and_skips_promql():
    expression = (
        'sum by (carrier) (rate(peerpower_x_total{status=~"a|b"}[1h])) / on (carrier) level:peerpower_y:r1h > 0.5'
    )
    assert names_in(expression) == {"peerpower_x_total", "level:peerpower_y:r1h"}


def test_every_metric_the_rules_and_dashboard_use_is_exported(client, exercised):
    assert RULE_FILES and DASHBOARDS
    exported = exported_names(client)
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    expressions = [rule["expr"] for rule in rules()] + dashboard_expressions()
    used = set().union(*(names_in(expression) for expression in expressions))
    assert {"peerpower_queue_oldest_age_seconds", "peerpower_messages_finished_total"} <= used  # the scan works
    unknown = used - exported - recorded - {"up"}  # `up` is Prometheus's own, per target
    assert unknown == set(), f"used by the rules or the dashboard but not exported: {sorted(unknown)}"


def test_every_alert_links_to_a_runbook_that_exists():
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) >= 10
    for alert in alerts:
        runbook = alert["annotations"].get("runbook_url", "")
        assert runbook.startswith("docs/runbooks/"), alert["alert"]
        assert (ROOT / runbook).is_file(), f"{alert['alert']}: {runbook} is missing"
        text = (ROOT / runbook).read_text()
        assert alert["alert"] in text, f"{runbook} does not name {alert['alert']}"
        for section in ("## What it means", "## How to confirm", "## What to do"):
            assert section in text, f"{runbook} lacks {section}"


def test_the_alert_unit_tests_evaluate_recording_rules_first():
    # promtool evaluates rule groups in a random order at each step unless a test lists them; an alert reading a
    # ratio recorded in the same step then sees the previous step's value, and the test passes only sometimes.
    order = [group["name"] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]
    recording = [group["name"] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
                 if all("record" in rule for rule in group["rules"])]  # fmt: skip
    for path in sorted((MONITORING / "tests").glob("*.yml")):
        listed = yaml.safe_load(path.read_text()).get("group_eval_order", [])
        assert sorted(listed) == sorted(order), f"{path.name}: group_eval_order must list every rule group"
        assert listed[: len(recording)] == [name for name in listed if name in recording], path.name


def test_the_dashboard_uses_the_provisioned_data_source():
    provisioned = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {source["uid"] for source in provisioned["datasources"]}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])
                assert panel["targets"], (path.name, panel["title"])


def test_compose_wires_prometheus_and_grafana_to_these_files():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    mounted = {
        volume.split(":")[0].removeprefix("./")
        for name in ("prometheus", "grafana")
        for volume in compose["services"][name]["volumes"]
    }
    assert {
        "deploy/monitoring/prometheus.yml",
        "deploy/monitoring/rules",
        "deploy/monitoring/grafana/provisioning",
        "deploy/monitoring/grafana/dashboards",
    } <= mounted
    scrape = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["web:8000"]
    assert "monitoring" in compose["services"]["web"]["networks"]


def test_runbook_links_resolve():
    runbooks = ROOT / "docs" / "runbooks"
    for page in runbooks.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            assert target.startswith("http") or (runbooks / target).exists(), f"{page.name}: {target}"
