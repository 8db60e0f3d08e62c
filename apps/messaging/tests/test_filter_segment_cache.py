"""The content filter keeps the Khmer runs it segmented: templated messages repeat them, and segmenting is its
costliest step. Kept per compiled filter, bounded, and read exactly as segmented."""

from apps.messaging.filtering.engine import (
    KEPT_NUMBER_MAX_LENGTH,
    SEGMENTED_RUN_MAX_LENGTH,
    SEGMENTED_RUNS_KEPT,
    ContentFilter,
)
from apps.messaging.filtering.khmer import KhmerSegmenter

# "Your verification code is 482913. It expires in 5 minutes."
OTP = "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ {code}។ វានឹងផុតកំណត់ក្នុងរយៈពេល ៥ នាទី។"


def _counting_filter() -> tuple[ContentFilter, list[str]]:
    segmenter = KhmerSegmenter(["លេខកូដ", "ផ្ទៀងផ្ទាត់", "របស់", "អ្នក", "គឺ", "នាទី"])
    runs: list[str] = []

    def segment(run: str) -> list[str]:
        runs.append(run)
        return segmenter.segment(run)

    return ContentFilter(terms=[], domains=[], khmer_segment=segment), runs


def test_a_run_seen_before_is_not_segmented_again_and_reads_the_same():
    content_filter, runs = _counting_filter()
    first = content_filter.analyse(OTP.format(code="482913"))
    segmented = len(runs)
    second = content_filter.analyse(OTP.format(code="731055"))
    assert len(runs) == segmented  # the same words around a new code
    assert [t for t in first.tokens if not t.isdigit()] == [t for t in second.tokens if not t.isdigit()]
    assert first.tokens[:4] == ("លេខកូដ", "ផ្ទៀងផ្ទាត់", "របស់", "អ្នក")


def test_a_code_is_not_kept_a_small_number_is_and_both_read_as_written():
    content_filter, _ = _counting_filter()
    analysis = content_filter.analyse(OTP.format(code="482913") + " 15 ok 15")
    assert "482913" in analysis.tokens and analysis.tokens.count("15") == 2
    assert "482913" not in content_filter._segmented  # a code seldom comes back
    assert "15" in content_filter._segmented and len("482913") > KEPT_NUMBER_MAX_LENGTH >= len("15")


def test_new_rules_start_with_nothing_kept():
    content_filter, runs = _counting_filter()
    content_filter.analyse(OTP.format(code="1"))
    recompiled, again = _counting_filter()
    recompiled.analyse(OTP.format(code="1"))
    assert again == runs


def test_what_is_kept_is_bounded_in_number_and_length():
    content_filter, runs = _counting_filter()
    khmer_letters = [chr(code) for code in range(0x1780, 0x17A3)]  # consonants and independent vowels
    distinct = (a + b + c for a in khmer_letters for b in khmer_letters for c in khmer_letters)
    for _, run in zip(range(SEGMENTED_RUNS_KEPT + 10), distinct, strict=False):
        content_filter.analyse(run)
        assert len(content_filter._segmented) <= SEGMENTED_RUNS_KEPT
    long_run = "ក" * (SEGMENTED_RUN_MAX_LENGTH + 1)
    content_filter.analyse(long_run)
    content_filter.analyse(long_run)
    assert runs.count(long_run) == 2
