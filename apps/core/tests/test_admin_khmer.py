"""Django's own back-office strings reach Khmer staff in Khmer. Django's bundled `km` catalogues leave about half of
the admin's strings in English; `locale_django/km/` (in LOCALE_PATHS) supplies the rest (docs/backoffice.md).

Every message of Django's English catalogues for the admin (templates and Python, and its JavaScript catalogue as
the admin's own `jsi18n` view serves it), auth (forms, password validators), contenttypes, sessions and the form,
model and pagination messages of `django/conf` must translate to something else under `km`. A Django upgrade that
adds a string fails here until it is translated."""

import ast
import importlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import django
import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from apps.accounts.models import User

DJANGO = Path(django.__file__).parent

# Strings that read the same in Khmer: placeholders and punctuation only, units and protocol names, and one
# technical term the project's own catalogue keeps in Latin letters (`salt`, as in `apps.accounts.models`).
SAME_IN_KHMER = {
    "%(class_name)s %(instance)s",
    "%s GB",
    "%s KB",
    "%s MB",
    "%s PB",
    "%s TB",
    ", ",
    ":",
    ":?.!",
    "IPv4",
    "IPv6",
    "URL",
    "String to return when truncating text\x04%(truncated_text)s…",
    "…",
    "salt",
}
# Never shown in the back office: language names (the language menu names Khmer and English in their own language,
# from LANGUAGES) and Django's "install worked" page, shown only by a project with no URLs.
NOT_SHOWN_FROM = ("conf/global_settings.py", "views/templates/default_urlconf.html")

CATALOGUES = [
    "contrib/admin/locale/en/LC_MESSAGES/django.po",
    "contrib/auth/locale/en/LC_MESSAGES/django.po",
    "contrib/contenttypes/locale/en/LC_MESSAGES/django.po",
    "contrib/sessions/locale/en/LC_MESSAGES/django.po",
    "conf/locale/en/LC_MESSAGES/django.po",
]


def _entries(po: Path) -> list[tuple[str, str | None]]:
    """(key, plural) of each entry of a .po file: the key is `context\\x04msgid` as gettext stores it; plural is
    the msgid_plural, if any. Entries only ever used from the places in NOT_SHOWN_FROM are left out."""
    found = []
    for block in po.read_text().split("\n\n"):
        fields: dict[str, str] = {}
        places: list[str] = []
        current = ""
        for line in block.splitlines():
            if line.startswith("#:"):
                places += line[2:].split()
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
            elif line.startswith("msg"):
                current, _, text = line.partition(" ")
                fields[current] = ast.literal_eval(text)
        if not fields.get("msgid") or block.lstrip().startswith("#~"):
            continue
        if places and all(place.startswith(NOT_SHOWN_FROM) for place in places):
            continue
        context = fields["msgctxt"] + "\x04" if "msgctxt" in fields else ""
        found.append((context + fields["msgid"], fields.get("msgid_plural")))
    return found


def _khmer(key: str, plural: str | None) -> str:
    context, _, msgid = key.rpartition("\x04")
    if plural is not None:
        return translation.npgettext(context, msgid, plural, 2) if context else translation.ngettext(msgid, plural, 2)
    return translation.pgettext(context, msgid) if context else translation.gettext(msgid)


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_every_django_admin_string_has_khmer(catalogue):
    entries = _entries(DJANGO / catalogue)
    assert len(entries) > 5  # the catalogue was read
    with translation.override("km"):
        untranslated = [
            key
            for key, plural in entries
            if key not in SAME_IN_KHMER and _khmer(key, plural) in (key.rpartition("\x04")[2], plural)
        ]
    assert untranslated == []


# Third-party apps with pages in the back office. They ship no Khmer (nor an English catalogue to read msgids from):
# the test extracts their messages from the installed code with makemessages, as their maintainers would.
THIRD_PARTY = ("django_celery_beat", "axes", "django_otp", "rest_framework_simplejwt")


def test_every_string_of_the_third_party_admin_apps_has_khmer(tmp_path, monkeypatch):
    for name in THIRD_PARTY:
        package = Path(importlib.import_module(name).__file__).parent
        skipped = shutil.ignore_patterns("tests", "migrations", "locale", "static", "__pycache__", "*.pyc")
        shutil.copytree(package, tmp_path / name, ignore=skipped)
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["en"], verbosity=0)
    entries = _entries(tmp_path / "locale/en/LC_MESSAGES/django.po")
    assert len(entries) > 150  # every app's messages were found
    with translation.override("km"):
        untranslated = [key for key, plural in entries if _khmer(key, plural) in (key.rpartition("\x04")[2], plural)]
    # Names that read the same in Khmer: a JWT claim, an HTTP header, an AMQP term and cron's own name.
    assert sorted(untranslated) == ["Exchange", "HTTP Accept", "crontab", "jti"]


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("+85512000031", "pw-for-khmer-admin-test"))
    client.cookies["django_language"] = "km"
    return client


def test_the_admin_javascript_catalogue_is_served_in_khmer(staff_client):
    """The actions bar, calendar and clock read their strings from the admin's `jsi18n` view."""
    script = staff_client.get(reverse("admin:jsi18n")).content.decode()
    catalogue = json.loads(re.search(r"const newcatalog = (\{.*?\});\n", script, re.DOTALL).group(1))
    entries = _entries(DJANGO / "contrib/admin/locale/en/LC_MESSAGES/djangojs.po")
    untranslated = [key for key, plural in entries if key not in catalogue]
    assert untranslated == []
    same = [key for key, plural in entries if catalogue[key] in (key.rpartition("\x04")[2], plural, [plural])]
    assert same == []
    assert catalogue["%(sel)s of %(cnt)s selected"] == ["បានជ្រើសរើស %(sel)s ក្នុងចំណោម %(cnt)s"]
    assert catalogue["January"] == "មករា"


class _VisibleText(HTMLParser):
    """The text a reader sees or hears: text outside <script> and <style>, and titles, labels, placeholders and
    button values."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        values = dict(attrs)
        for name in ("title", "aria-label", "placeholder", "alt"):
            if values.get(name):
                self.texts.append(values[name])
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(values["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def _english_phrases() -> set[str]:
    """The admin's and auth's English messages with any placeholder cut out: the fixed words around it."""
    phrases = set()
    for catalogue in CATALOGUES[:2]:
        for key, _plural in _entries(DJANGO / catalogue):
            for part in re.split(r"%\(\w+\)[sd]|%[sd]|\{\w*\}|<[^>]+>", key.rpartition("\x04")[2]):
                part = part.strip(" .:,;“”\"'()-—")
                if len(part) > 3 and part not in SAME_IN_KHMER:
                    phrases.add(part)
    return phrases


def _english_on(page: str, phrases: set[str]) -> list[str]:
    parser = _VisibleText()
    parser.feed(page)
    # A one-word phrase ("Filter", "History") is English only as a whole text; a longer one anywhere in a text.
    found = set()
    for text in parser.texts:
        found |= {phrase for phrase in phrases if (phrase == text if " " not in phrase else phrase in text)}
    return sorted(found)


def test_a_khmer_change_list_shows_no_english_admin_phrase(staff_client):
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory
    from apps.messaging.services import MessageInput, message_submit

    organization = client_create(user=UserFactory(), name="Angkor Coffee")
    for to in ("+85512345678", "+85512345679"):
        message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="សួស្ដី"))
    phrases = _english_phrases()
    user = User.objects.get(phone="+85512000031")
    messages = reverse("admin:messaging_message_changelist")
    # The change list (filters, date hierarchy, actions, result count), with the filters' counts shown and a search
    # that finds nothing; a user's change form, their set-password form and history; the password change form; the
    # add form.
    pages = [
        messages,
        f"{messages}?_facets=1&q=%2B85599",
        reverse("admin:accounts_user_change", args=[user.pk]),
        reverse("admin:auth_user_password_change", args=[user.pk]),
        reverse("admin:accounts_user_history", args=[user.pk]),
        reverse("admin:password_change"),
        reverse("admin:accounts_user_add"),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert _english_on(response.content.decode(), phrases) == [], url

    # The same check finds Django's English on the English page.
    staff_client.cookies["django_language"] = "en"
    english = _english_on(staff_client.get(f"{messages}?_facets=1").content.decode(), phrases)
    assert {"Hide counts", "View site", "Filter", "Run the selected action"} <= set(english)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_django_overrides_match_their_po_files(tmp_path, domain):
    """The server reads the `.mo` files: a `.po` edited without `compilemessages` would reach no one."""
    import gettext
    import subprocess

    from django.conf import settings

    folder = Path(settings.BASE_DIR) / "locale_django/km/LC_MESSAGES"
    fresh = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(folder / f"{domain}.po")], check=True)
    with (folder / f"{domain}.mo").open("rb") as committed, fresh.open("rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(compiled)._catalog


def test_the_totp_device_model_reads_in_khmer(staff_client):
    """django-otp names its model and fields in English without gettext: apps.accounts.admin_config gives them
    gettext's; every help text and the model's name read in Khmer, and the English stays django-otp's own."""
    from django.utils import translation
    from django_otp.plugins.otp_totp.models import TOTPDevice

    khmer = re.compile("[\u1780-\u17ff]")
    fields = [field for field in TOTPDevice._meta.concrete_fields if field.help_text]
    assert len(fields) >= 12
    with translation.override("km"):
        assert khmer.search(str(TOTPDevice._meta.verbose_name))
        assert [field.name for field in fields if not khmer.search(str(field.help_text))] == []
    with translation.override("en"):
        assert str(TOTPDevice._meta.get_field("step").help_text) == "The time step in seconds."
    page = staff_client.get(reverse("admin:otp_totp_totpdevice_add")).content.decode()
    assert "ជំហានពេលវេលា គិតជាវិនាទី។" in page and "The time step in seconds." not in page


def test_the_periodic_task_columns_read_in_khmer():
    """django-celery-beat's admin names two columns after Python names: translated (apps.accounts.admin_config)."""
    from django.contrib import admin
    from django.contrib.admin.utils import label_for_field
    from django.utils import translation
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    khmer = re.compile("[\u1780-\u17ff]")
    with translation.override("km"):
        labels = [
            label_for_field("crontab_translation", PeriodicTask, admin.site._registry[PeriodicTask]),
            label_for_field("human_readable", CrontabSchedule, admin.site._registry[CrontabSchedule]),
        ]
    assert all(khmer.search(str(label)) for label in labels), labels
