"""Recognising a recipient's request to stop, in the replies that provider phones will forward.

The whole reply must be a stop keyword (case, spaces, punctuation and invisible characters ignored), as carriers'
own STOP handling works: "STOP", "Stop.", "ឈប់" and "ឈប់ផ្ញើ" opt out; "stop by our shop at 5" does not. A missed
request costs the person one more reply; a false one would silently cut them off from their bank's codes.
"""

import re
import unicodedata

from apps.messaging.filtering.text import normalize

STOP_KEYWORDS = frozenset(
    {
        # English, and what carriers and aggregators treat as the same request.
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt out",
        "stop sms",
        "stop messages",
        # Khmer: "stop", "stop sending", "stop sending messages", "stop receiving", "cease", "don't send".
        "ឈប់",
        "ឈប់ផ្ញើ",
        "ឈប់ផ្ញើសារ",
        "ឈប់ផ្ញើសារមក",
        "ឈប់ទទួល",
        "ឈប់ទទួលសារ",
        "បញ្ឈប់",
        "កុំផ្ញើ",
        "កុំផ្ញើសារ",
        "កុំផ្ញើមកទៀត",
        # Khmer typed in Latin letters.
        "chhob",
        "chhop",
    }
)
_IGNORED = re.compile(r"[\s\u17d4-\u17da]+")  # spaces and Khmer punctuation (។ ៕ ៖ …)


def _key(text: str) -> str:
    text = "".join(char for char in normalize(text) if not unicodedata.category(char).startswith("P"))
    return _IGNORED.sub("", text)


_STOP_KEYS = frozenset(_key(keyword) for keyword in STOP_KEYWORDS)


def is_stop_message(text: str) -> bool:
    """True when a reply asks to receive no more messages (English or Khmer)."""
    return bool(text) and len(text) <= 64 and _key(text) in _STOP_KEYS
