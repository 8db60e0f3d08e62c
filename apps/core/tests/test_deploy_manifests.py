"""deploy/k8s agrees with the code: probes ask endpoints that exist, commands are ones manage.py and Celery have,
and every setting the config map and secret template give is one the code reads. (Their schema is checked offline
by `kubernetes-validate` in .ci/run.)"""

from pathlib import Path

import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

from apps.core.tests.test_configuration_files import variables_read_by_the_code

K8S = Path(settings.BASE_DIR) / "deploy" / "k8s"


def documents() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def containers() -> list[dict]:
    found = []
    for doc in documents():
        if doc["kind"] in {"Deployment", "Job"}:
            found += doc["spec"]["template"]["spec"]["containers"]
    return found


def test_the_workloads_are_all_there():
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in documents()}
    assert {
        ("Deployment", "web-phones"),
        ("Deployment", "web-clients"),
        ("Deployment", "worker-high"),
        ("Deployment", "worker-default"),
        ("Deployment", "beat"),
        ("Job", "migrate"),
        ("ConfigMap", "peerpower-config"),
        ("Secret", "peerpower-secrets"),
    } <= kinds


def test_probes_ask_endpoints_that_exist():
    paths = set()
    for container in containers():
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "httpGet" in container.get(probe, {}):
                paths.add(container[probe]["httpGet"]["path"])
    assert paths == {"/health", "/ready"}
    for path in paths:
        resolve(path)  # raises Resolver404 for a path the URLconf does not serve


def test_commands_are_ones_that_exist():
    for container in containers():
        command = [part for part in container.get("command", []) if part != "/app/docker/entrypoint.sh"]
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in get_commands(), command
        elif command:
            assert command[:3] == ["celery", "-A", "peerpower"] and command[3] in {"worker", "beat"}, command


def test_every_variable_given_is_read_by_the_code():
    read = variables_read_by_the_code()
    for doc in documents():
        given = set(doc.get("data", {})) | set(doc.get("stringData", {}))
        if doc["kind"] == "ConfigMap" or doc["metadata"]["name"] == "peerpower-secrets":
            assert given and given - read == set(), (doc["metadata"]["name"], given - read)
    for container in containers():
        assert {variable["name"] for variable in container.get("env", [])} <= read
