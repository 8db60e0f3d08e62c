"""The apps' layers (pyproject.toml, `[tool.importlinter]`): each app imports only those below it, so the test
suite fails the moment a lower app imports a higher one — at module level or inside a function."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_no_app_imports_an_app_above_it():
    # The real command, as CI and a developer run it; no cache, so a change made a moment ago is always seen.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_every_app_has_its_place_in_the_layers():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["type"] == "layers"]
    layered = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    apps = {f"apps.{path.parent.name}" for path in (ROOT / "apps").glob("*/apps.py")}
    assert apps == layered, "a new app needs its place in [tool.importlinter] layers"


def test_the_back_office_is_in_the_top_layer():
    # It reads every app (through their selectors) for the dashboard and analytics; nothing may depend on it.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["type"] == "layers"]
    assert "apps.backoffice" in {name.strip() for name in contract["layers"][0].split("|")}
