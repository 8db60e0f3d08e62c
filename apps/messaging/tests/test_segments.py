"""Segment counts as the provider's Android phone will split the message."""

import pytest

from apps.messaging.choices import Encoding
from apps.messaging.segments import count_segments, grapheme_clusters, split_parts

KA = "ក"  # one Khmer consonant: one UTF-16 code unit, its own grapheme cluster
EMOJI = "😀"  # outside the BMP: a surrogate pair, 2 units


def test_plain_english_is_gsm7():
    count = count_segments("Your PeerPower code is 482913. Do not share it.")
    assert (count.encoding, count.segments, count.units) == (Encoding.GSM7, 1, 47)


def test_gsm7_basic_accents_and_greek_stay_gsm7():
    count = count_segments("Café à Zürich: Δ Ω £5 ¥ @ ¿¡ §")
    assert count.encoding == Encoding.GSM7
    assert count.units == len("Café à Zürich: Δ Ω £5 ¥ @ ¿¡ §")


@pytest.mark.parametrize("char", list("^{}\\[~]|€\f"))
def test_extension_characters_count_two_septets(char):
    count = count_segments(f"a{char}b")
    assert (count.encoding, count.units) == (Encoding.GSM7, 4)


def test_one_character_outside_gsm_makes_everything_ucs2():
    # A curly apostrophe from a word processor is not in GSM 03.38.
    count = count_segments("Don’t share your code")
    assert (count.encoding, count.units, count.segments) == (Encoding.UCS2, 21, 1)


def test_khmer_is_ucs2():
    body = "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ 482913"
    count = count_segments(body)
    assert (count.encoding, count.units, count.segments) == (Encoding.UCS2, len(body), 1)


def test_emoji_counts_two_units():
    count = count_segments(f"OK {EMOJI}")
    assert (count.encoding, count.units) == (Encoding.UCS2, 5)


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 153 * 2, 2),
        ("a" * (153 * 2 + 1), 3),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),  # 162 septets
        (KA * 70, 1),
        (KA * 71, 2),
        (KA * 67 * 2, 2),
        (KA * (67 * 2 + 1), 3),
        (EMOJI * 35, 1),  # 70 units
        (EMOJI * 36, 2),  # 72 units, 33 emoji per part
    ],
)
def test_boundaries(body, segments):
    assert count_segments(body).segments == segments


def test_escape_pair_is_never_split_across_parts():
    # 306 septets would fit two parts of 153, but the € would straddle them: Android moves it to the next part.
    body = "a" * 152 + "€" + "a" * 152
    assert count_segments(body).units == 306
    parts = split_parts(body)
    assert [len(part) for part in parts] == [152, 152, 1]
    assert parts[1].startswith("€")
    assert count_segments(body).segments == 3


def test_escape_pair_that_fits_exactly_stays():
    body = "a" * 151 + "€" + "a" * 153
    assert [len(part) for part in split_parts(body)] == [152, 153]


def test_surrogate_pair_is_never_split_across_parts():
    body = "a" * 66 + EMOJI + "a" * 66  # 134 units: two full parts if the emoji could be cut
    parts = split_parts(body)
    assert count_segments(body).units == 134
    assert [part.encode("utf-16-le").__len__() // 2 for part in parts] == [66, 67, 1]
    assert all(part.encode("utf-16", "strict") for part in parts)  # every part is valid on its own
    assert count_segments(body).segments == 3


def test_khmer_vowel_stays_with_its_consonant():
    # Unit 67 is the consonant ក, unit 68 its vowel sign ា: the part ends before the consonant instead.
    body = KA * 66 + "កា" + KA * 60
    parts = split_parts(body)
    assert [len(part) for part in parts] == [66, 62]
    assert parts[1].startswith("កា")


def test_parts_rejoin_to_the_original():
    body = ("សួស្តី! " + EMOJI + " ការណាត់ជួបរបស់អ្នកនៅថ្ងៃស្អែក។ ") * 8
    assert "".join(split_parts(body)) == body
    assert all(len(part.encode("utf-16-le")) // 2 <= 67 for part in split_parts(body))


def test_a_cluster_longer_than_a_part_is_cut_where_the_part_is_full():
    body = "a" + "\u0301" * 80  # one letter with 80 combining accents: one grapheme of 81 units
    assert [len(part) for part in split_parts(body)] == [67, 14]


def test_grapheme_clusters_keep_emoji_sequences_and_flags_whole():
    assert grapheme_clusters("🇰🇭🇰🇭👍🏽👨\u200d👩\u200d👧x") == ["🇰🇭", "🇰🇭", "👍🏽", "👨\u200d👩\u200d👧", "x"]
    assert grapheme_clusters("\r\n") == ["\r\n"]


def test_empty_text_is_one_empty_sms():
    assert count_segments("").segments == 1


def test_units_are_counted_as_character_by_character():
    # GSM-7: one septet each, two for an extension character; UCS-2: one code unit each, two beyond the BMP (a lone
    # surrogate, which validation refuses before counting, is one).
    import random

    from apps.messaging.segments import GSM7_EXTENSION

    rng = random.Random(7)
    alphabet = "abc 1€[]{}|~^\\\fក្ខ😀\U0001f1f0\ud83d\udc00"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        count = count_segments(text)
        if count.encoding == "gsm7":
            expected = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        else:
            expected = sum(2 if ord(char) > 0xFFFF else 1 for char in text)
        assert count.units == expected, repr(text)
