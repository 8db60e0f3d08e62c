"""Every message of the project reaches Khmer staff and users in Khmer: `makemessages` over the sources finds no
string without a translation (none empty, none fuzzy), and the compiled catalog the server loads says the same
as the `.po` file. Run on a copy of the sources, so the repository's catalog is never rewritten."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CATALOG = Path("locale/km/LC_MESSAGES")
# What `makemessages` reads (as README.md's command does, without .venv, clients, benchmarks and built files).
SOURCES = ("apps", "peerpower", "templates", "scripts")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "static", "staticfiles", "node_modules")


@pytest.fixture
def extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Khmer catalog as `makemessages -l km --no-obsolete` leaves it after a run over today's sources."""
    root = Path(settings.BASE_DIR)
    for name in SOURCES:
        if (root / name).is_dir():
            shutil.copytree(root / name, tmp_path / name, ignore=SKIPPED)
    (tmp_path / CATALOG).mkdir(parents=True)
    shutil.copy(root / CATALOG / "django.po", tmp_path / CATALOG / "django.po")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(settings, "LOCALE_PATHS", [tmp_path / "locale"])
    call_command("makemessages", locale=["km"], no_obsolete=True, verbosity=0)
    return tmp_path / CATALOG / "django.po"


def _msgids(po: Path, *flags: str) -> list[str]:
    listed = subprocess.run(["msgattrib", *flags, "--no-wrap", str(po)], capture_output=True, text=True, check=True)
    return [line[len('msgid "') : -1] for line in listed.stdout.splitlines() if line.startswith('msgid "')][1:]


def test_makemessages_finds_nothing_untranslated(extracted: Path) -> None:
    before = (Path(settings.BASE_DIR) / CATALOG / "django.po").read_bytes()
    assert _msgids(extracted, "--untranslated") == []
    assert _msgids(extracted, "--only-fuzzy") == []
    assert (Path(settings.BASE_DIR) / CATALOG / "django.po").read_bytes() == before  # the copy was worked on


def test_the_compiled_catalog_matches_the_po_file(tmp_path: Path) -> None:
    """The server reads `django.mo`: a `.po` edited without `compilemessages` would not reach anyone."""
    root = Path(settings.BASE_DIR)
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(root / CATALOG / "django.po")], check=True)
    with (root / CATALOG / "django.mo").open("rb") as committed, fresh.open("rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(compiled)._catalog
