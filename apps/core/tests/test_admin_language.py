"""The back office in Khmer or English: staff switch language from the admin header (Django's `set_language`),
labels, choices and actions follow, dates carry Khmer month names and riel read as Cambodians write them."""

from datetime import date

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import formats, translation

from apps.accounts.models import User
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("+85512000019", "pw-for-language-test"))
    return client


def _switch(client, language: str, back_to: str):
    return client.post(reverse("set_language"), {"language": language, "next": back_to})


def test_staff_switch_the_back_office_between_khmer_and_english(staff_client):
    index = reverse("admin:index")
    page = staff_client.get(index).content.decode()  # LANGUAGE_CODE: Khmer until staff choose
    assert 'id="language-switcher"' in page and reverse("set_language") in page
    assert '<option value="km" selected>ខ្មែរ</option>' in page and '<option value="en">English</option>' in page
    assert "ប្រតិបត្តិការ PeerPower" in page and "ការិយាល័យគ្រប់គ្រង" in page

    answer = _switch(staff_client, "en", index)
    assert answer.status_code == 302 and answer["Location"] == index
    assert staff_client.cookies["django_language"].value == "en"
    page = staff_client.get(index).content.decode()
    assert "PeerPower operations" in page and '<option value="en" selected>English</option>' in page

    providers = reverse("admin:providers_provider_changelist")
    _switch(staff_client, "km", providers)
    page = staff_client.get(providers).content.decode()
    # Column labels (field verbose names), a filter title, an action and a choice, all in Khmer.
    assert "ភាពទំនេរ" in page and "ប្រតិបត្តិករ" in page
    assert "ហាមឃាត់អ្នកផ្ដល់សេវាដែលបានជ្រើសរើស" in page and "កំពុងរង់ចាំការអនុម័ត" in page
    assert "Ban selected providers" not in page


def test_an_action_message_reaches_staff_in_their_language(staff_client):
    provider = provider_with_sim()
    providers = reverse("admin:providers_provider_changelist")
    for language, expected in (("en", "Suspended 1 provider(s)."), ("km", "បានផ្អាកអ្នកផ្ដល់សេវា 1 នាក់។")):
        _switch(staff_client, language, providers)
        if language == "km":
            provider_approve = {"action": "approve", "_selected_action": [provider.pk]}
            staff_client.post(providers, provider_approve, follow=True)
        page = staff_client.post(providers, {"action": "suspend", "_selected_action": [provider.pk]}, follow=True)
        assert expected in page.content.decode()


def test_khmer_dates_and_numbers():
    day = date(2026, 12, 5)
    with translation.override("km"):
        assert formats.date_format(day) == "5 ធ្នូ 2026"
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == "05/12/2026"
        assert formats.number_format(1234567.5, decimal_pos=1, force_grouping=True) == "1,234,567.5"
    with translation.override("en"):
        assert formats.date_format(day) == "Dec. 5, 2026"


@pytest.mark.parametrize(
    ("language", "riel", "dollars"),
    [("km", "៛40,000", "$10.50"), ("en", "40,000 riel", "$10.50")],
)
def test_riel_in_templates_read_as_on_receipts(language, riel, dollars):
    from apps.payments.documents import money

    template = Template("{% load money %}{{ amount|riel }} {{ cents|money:'USD' }}")
    with translation.override(language):
        assert template.render(Context({"amount": 40000, "cents": 1050})) == f"{riel} {dollars}"
    assert money(40000, "KHR", language) == riel  # the receipts' own wording: one formatter for both
