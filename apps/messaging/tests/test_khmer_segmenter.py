"""Khmer word segmentation by dictionary maximal matching, and the text normalisation in front of it."""

import json
import random
import re
import unicodedata
from pathlib import Path

import pytest

from apps.messaging.filtering.khmer import KhmerSegmenter, base_khmer_words, khmer_clusters
from apps.messaging.filtering.text import _TRANSLATION, MASK, _unmask, extract_links, iter_runs, normalize


def test_clusters_keep_subscripts_and_vowels_with_their_consonant():
    assert khmer_clusters("ស្ត្រី") == ["ស្ត្រី"]
    assert khmer_clusters("កម្ពុជា") == ["ក", "ម្ពុ", "ជា"]
    assert khmer_clusters("ភ្លាមៗ") == ["ភ្លា", "មៗ"]


def test_shipped_word_list_is_loaded():
    words = base_khmer_words()
    assert len(words) > 7000
    assert {"បោះឆ្នោត", "ធនាគារ", "លេខកូដ", "ទូរស័ព្ទ"} <= words


def test_longest_reading_wins():
    segmenter = KhmerSegmenter(["ការ", "ងារ", "ការងារ", "ល្អ"])
    assert segmenter.segment("ការងារល្អ") == ["ការងារ", "ល្អ"]


def test_unknown_clusters_are_merged_into_one_token():
    segmenter = KhmerSegmenter(["សួស្តី"])
    assert segmenter.segment("សួស្តីសុខាដារា") == ["សួស្តី", "សុខាដារា"]


def test_a_reading_that_leaves_nothing_unknown_wins():
    # កខគឃ + ង and កខ + គឃង are both two tokens; only the second knows every cluster.
    segmenter = KhmerSegmenter(["កខគឃ", "កខ", "គឃង"])
    assert segmenter.segment("កខគឃង") == ["កខ", "គឃង"]


def test_equally_short_readings_prefer_the_weighted_term():
    words = ["ប្រាក់", "ប្រាក់កម្ចី", "រហ័ស", "កម្ចីរហ័ស"]
    plain = KhmerSegmenter(words, {"ប្រាក់កម្ចី": 5})
    weighted = KhmerSegmenter(words, {"ប្រាក់កម្ចី": 5, "កម្ចីរហ័ស": 30})
    assert plain.segment("ប្រាក់កម្ចីរហ័ស") == ["ប្រាក់កម្ចី", "រហ័ស"]
    assert weighted.segment("ប្រាក់កម្ចីរហ័ស") == ["ប្រាក់", "កម្ចីរហ័ស"]


def test_vote_is_one_word_not_lottery():
    segmenter = KhmerSegmenter(base_khmer_words())
    assert "ឆ្នោត" not in segmenter.segment("សូមអញ្ជើញទៅបោះឆ្នោត")
    assert "ឆ្នោត" in segmenter.segment("ទិញឆ្នោតថ្ងៃនេះ")


def test_normalize_removes_invisible_characters_and_unifies_spellings():
    assert normalize("កាស\u200bីណូ") == "កាសីណូ"
    assert normalize("សួស្ដី") == normalize("សួស្តី")  # subscript DA typed for subscript TA
    assert normalize("លេខ ១២៣") == "លេខ 123"
    assert normalize("CАSINO") == "casino"  # the А is Cyrillic


def test_links_are_taken_out_before_words_and_stop_at_khmer_text():
    links, rest = extract_links(normalize("ចុចលើ bit.ly/3xYz សូមអរគុណ https://ABA-verify.xyz/login?x=1។"))
    assert [(link.text, link.host) for link in links] == [
        ("bit.ly/3xyz", "bit.ly"),
        ("https://aba-verify.xyz/login?x=1", "aba-verify.xyz"),
    ]
    assert "bit" not in rest and "សូមអរគុណ" in rest


@pytest.mark.parametrize(
    "text",
    [
        "ចុចacleda-update.infoហើយបញ្ចូលលេខកាត",  # Khmer has no spaces: the link glued to the words around it
        "ចុច\u200bacleda-update.info\u200bហើយ\u200bបញ្ចូល\u200bលេខកាត",  # zero-width spaces, dropped by normalize
    ],
)
def test_a_host_glued_to_khmer_text_is_a_link(text):
    links, rest = extract_links(normalize(text))
    assert [link.host for link in links] == ["acleda-update.info"]
    assert "acleda" not in rest and "ចុច" in rest and "ហើយ" in rest


@pytest.mark.parametrize("text", ["résumé.com", "see report.pdf_final", "caféaba.com"])
def test_a_host_inside_a_latin_word_is_not_a_link(text):
    assert extract_links(normalize(text))[0] == []


def test_ip_links_need_a_path_or_port_and_versions_are_not_links():
    links, _ = extract_links("open 10.0.0.1/pay or 10.0.0.2:8080 — app version 1.2.3.4 now")
    assert [link.host for link in links] == ["10.0.0.1", "10.0.0.2"]
    assert all(link.is_ip_address for link in links)


def test_a_www_link_is_read_whatever_follows_the_dot():
    # "www." then a digit: no letter after a dot for the pre-scan's first form, no domain the last form reads.
    links, rest = extract_links("bet now at www.168bet/join today")
    assert [link.text for link in links] == ["www.168bet/join"]
    assert "join" not in rest


def test_runs_split_khmer_from_latin_and_read_leetspeak():
    assert iter_runs("abaគណនី c4sino 2025 ok") == [
        (False, "aba"),
        (True, "គណនី"),
        (False, "casino"),
        (False, "2025"),
        (False, "ok"),
    ]


@pytest.mark.parametrize(
    "tld",
    (
        "support help vip top xyz click link shop site online live info cc icu buzz rest sbs cfd monster bond quest "
        "lol pw mobi space website cloud"
    ).split(),
)
def test_links_on_the_top_level_domains_scam_sites_favour_are_read(tld):
    links, rest = extract_links(normalize(f"ផ្ទៀងផ្ទាត់នៅ wing-kh.{tld}/pin ភ្លាម"))
    assert [link.host for link in links] == [f"wing-kh.{tld}"]
    assert tld not in rest


def _normalize_by_translation(text: str) -> str:
    # `normalize` as it read before it replaced only the characters it finds: `str.translate` over every character.
    text = unicodedata.normalize("NFC", text).lower().translate(_TRANSLATION)
    text = re.sub(r"\s*\u17d7", "", text)
    # The masked digits of numbers as `normalize` reads them (their own test is below).
    return _unmask(text.replace("\u17d2\u178a", "\u17d2\u178f"))


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("1234-xxx-89", "1234-•••-89"),
        ("012xxx789", "012•••789"),
        ("010 XXX 781", "010 ••• 781"),
        ("023 900 xxx", "023 900 •••"),
        ("012 4xx xxx", "012 4•• •••"),
        ("លេខ០៨៩xxx៦៥", "លេខ089•••65"),
        ("xxxx1234", "••••1234"),
        ("XXX videos", "xxx videos"),
        ("xxx 18+", "xxx 18+"),
        ("sex xxx", "sex xxx"),
        ("2AB-xxxx", "2ab-xxxx"),
    ],
)
def test_the_masked_digits_of_a_number_are_read_as_masks(text, read):
    assert MASK == "•"
    assert normalize(text) == read


def test_normalize_replaces_exactly_what_a_translation_by_the_table_would():
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    texts = [
        json.loads(line)["text"] for name in ("messages.jsonl", "written.jsonl") for line in (corpus / name).open()
    ]
    every = "".join(chr(code) for code in _TRANSLATION)
    texts += [every, every.upper(), "", "plain ascii", "ក\u200b\u200b១\u00adА", "lone \udc80 surrogate ៩"]
    texts += ["".join(random.Random(seed).choices(every + "abcកខ១ ", k=40)) for seed in range(200)]
    for text in texts:
        assert normalize(text) == _normalize_by_translation(text), text
