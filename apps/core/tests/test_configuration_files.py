"""compose.yaml, the Dockerfile and .env.example agree with the variables the code actually reads."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

pytestmark = pytest.mark.standalone  # files only, and the image build steps in a process of their own

ROOT = Path(settings.BASE_DIR)
# env("X"), env.bool("X", ...), required("X"), os.environ.get("X"), os.environ["X"], os.environ.setdefault("X", ...)
PYTHON_READ = re.compile(
    r"""(?:\benv(?:\.\w+)?|\brequired|os\.environ\.get|os\.environ\.setdefault)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[["']([A-Z][A-Z0-9_]*)["']\]"""
)
SHELL_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def variables_read_by_the_code() -> set[str]:
    names: set[str] = set()
    sources = [*ROOT.glob("peerpower/**/*.py"), *ROOT.glob("apps/**/*.py"), ROOT / "manage.py"]
    for path in sources:
        if "tests" in path.parts:
            continue
        for match in PYTHON_READ.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    names |= set(SHELL_READ.findall((ROOT / "docker/entrypoint.sh").read_text()))
    return names


def variables_documented() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def test_the_scan_finds_what_settings_read():
    # Guards the regular expression itself: these are read in settings, gunicorn config and the entrypoint.
    assert {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "WEB_CONCURRENCY", "WAIT_FOR_SERVICES_TIMEOUT"} <= (
        variables_read_by_the_code()
    )


def test_env_example_documents_exactly_the_variables_read():
    read, documented = variables_read_by_the_code(), variables_documented()
    assert read - documented == set(), "read by the code but missing from .env.example"
    assert documented - read == set(), "documented in .env.example but read nowhere"


def test_every_variable_compose_sets_is_read_by_the_settings():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    read = variables_read_by_the_code()
    ours = {
        name: service for name, service in compose["services"].items() if service.get("image") == "peerpower:latest"
    }
    assert set(ours) == {"migrate", "web", "web-phones", "worker", "worker-high", "beat"}
    for name, service in ours.items():
        unknown = set(service.get("environment", {})) - read
        assert unknown == set(), f"compose service {name} sets variables nothing reads: {unknown}"


def test_every_variable_the_dockerfile_sets_is_read():
    runtime_stage = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1]
    env_block = re.search(r"^ENV (.+?)(?=^\S)", runtime_stage, re.MULTILINE | re.DOTALL).group(1)
    names = set(re.findall(r"([A-Z][A-Z0-9_]*)=", env_block)) - {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    assert names and names <= variables_read_by_the_code()


def test_the_image_build_steps_run(run_python, tmp_path):
    """The Dockerfile collects static files and compiles messages with the development settings (no secrets)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "DJANGO_SETTINGS_MODULE=peerpower.settings.development python manage.py collectstatic" in dockerfile
    result = run_python(
        "manage.py",
        "collectstatic",
        "--no-input",
        settings="peerpower.settings.development",
        env={"STATIC_ROOT": str(tmp_path / "static"), "PEERPOWER_VAR_DIR": str(tmp_path / "var")},
    )
    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in manifest
    assert "admin/css/base.css" in manifest


def test_every_worker_runs_without_celerys_worker_events():
    """Compose's and Kubernetes' workers and the simulator's run as one another: without gossip, mingle and heartbeat
    events (nothing reads them; `inspect ping`, the liveness check, is remote control and stays)."""
    from apps.simulator.processes import WORKER_QUIET_FLAGS

    quiet = {"--without-gossip", "--without-mingle", "--without-heartbeat"}
    assert set(WORKER_QUIET_FLAGS) == quiet
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"].values()
    commands = [service["command"] for service in services if "worker" in service.get("command", [])]
    for document in yaml.safe_load_all((ROOT / "deploy/k8s/worker.yaml").read_text()):
        for container in (document or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            if "worker" in container.get("command", []):
                commands.append(container["command"])
    assert len(commands) == 4  # compose's worker and worker-high, Kubernetes' two pools
    for command in commands:
        assert quiet <= set(command), command
