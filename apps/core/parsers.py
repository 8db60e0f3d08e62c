"""The API's JSON parser: DRF's, behind a cheap check of how deeply the body nests.

CPython's C JSON decoder recurses once per `[` or `{`, guarded only by the interpreter's recursion limit. py_ecc
(imported through eth-account) raises that limit to 100,000, and a ~200 KB body of 100,000 brackets then overflows the
C stack and kills the worker with SIGSEGV before any exception can be raised. apps.core.apps puts the limit back; this
parser refuses an over-deep body before the decoder sees it, whatever the limit is. No API body nests more than a
few levels, so `API_JSON_MAX_DEPTH` (32 by default) leaves plenty of room.
"""

import codecs
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from apps.core.errors import ValidationFailed

_BRACKET = re.compile(r"[\[\]{}]")
_DEPTH_CHANGE = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonTooDeep(ValidationFailed):
    code = "json_too_deep"
    default_message = _("The request body nests arrays or objects too deeply.")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether `text` opens more than `limit` arrays or objects inside one another (brackets inside strings do not
    count). Linear, and done by C string methods: a body with no more brackets than the limit (a single send) is not
    scanned at all; a 1,000-message bulk send is scanned in about a millisecond."""
    if text.count("[") + text.count("{") <= limit:
        return False
    if "\\" in text:
        # Escapes inside strings: drop escaped backslashes, then escaped quotes, so that every quote left delimits
        # a string (outside strings, valid JSON has no backslash).
        text = text.replace("\\\\", "").replace('\\"', "")
    outside_strings = "".join(text.split('"')[0::2])
    brackets = _BRACKET.findall(outside_strings)
    return max(accumulate(map(_DEPTH_CHANGE.__getitem__, brackets)), default=0) > limit


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing (400 `json_too_deep`) a body nested deeper than `API_JSON_MAX_DEPTH` before the
    decoder runs. It is the API's default parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: Mapping | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.decode(stream.read() if stream is not None else b"", encoding)
        except ValueError as exc:  # undecodable bytes
            raise ParseError(f"JSON parse error - {exc}") from None
        limit = settings.API_JSON_MAX_DEPTH
        if json_depth_exceeds(text, limit):
            raise JsonTooDeep(details={"max_depth": limit})
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
