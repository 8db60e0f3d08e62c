"""docs/segments.md's worked examples (and the Khmer guide's, the same table) are what the code counts: each row's text
(a Python string expression) has the row's encoding, units and segments; and the limits it states are the code's."""

import ast
import re

import pytest
from django.conf import settings

from apps.messaging.segments import GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, count_segments

GUIDES = ["segments.md", "segments.km.md"]
ROW = re.compile(r"^\| `(.+)` \| (gsm7|ucs2) \| (\d+) \| (\d+) \|", re.MULTILINE)


def guide(name: str = "segments.md") -> str:
    return (settings.BASE_DIR / "docs" / name).read_text()


def text_of(expression: str) -> str:
    """`"a" * 152 + "€"`: string literals, repeated by an integer and joined; nothing else is evaluated."""
    total = ""
    for term in expression.split(" + "):
        literal, _, times = term.partition(" * ")
        total += ast.literal_eval(literal) * (int(times) if times else 1)
    return total


ROWS = [(name, *row) for name in GUIDES for row in ROW.findall(guide(name))]


@pytest.mark.parametrize("name", GUIDES)
def test_the_guide_has_worked_examples_in_both_encodings(name):
    rows = [row for row in ROWS if row[0] == name]
    assert {encoding for _, _, encoding, _, _ in rows} == {"gsm7", "ucs2"}
    assert len(rows) >= 10


@pytest.mark.parametrize(("name", "expression", "encoding", "units", "segments"), ROWS)
def test_each_worked_example_is_what_the_code_counts(name, expression, encoding, units, segments):
    count = count_segments(text_of(expression))
    assert (count.encoding, count.units, count.segments) == (encoding, int(units), int(segments))


def test_the_limits_are_the_codes():
    text = guide()
    assert f"| {GSM7_SINGLE} characters | {GSM7_PART} characters |" in text
    assert f"| {UCS2_SINGLE} units | {UCS2_PART} units |" in text
    assert f"at most {settings.MESSAGE_MAX_SEGMENTS} segments" in text
