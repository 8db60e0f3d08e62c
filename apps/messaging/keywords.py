"""Recognising a recipient's request to stop, in the replies that provider phones forward.

The whole reply must be a stop keyword (case, spaces, punctuation and invisible characters ignored), as carriers'
own STOP handling works: "STOP", "Stop.", "ឈប់" and "ឈប់ផ្ញើ" opt out; "stop by our shop at 5" does not. A missed
request costs the person one more reply; a false one would silently cut them off from their bank's codes.

The keyword also says from whom: "STOP" stops the client whose message was answered; "STOP ALL" (ឈប់ទាំងអស់)
stops every client of the network. A client may add keywords of its own (its brand's "STOP ABA", say), which stop it.
"""

import re
import unicodedata
from collections.abc import Collection

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.messaging.filtering.text import normalize

STOP_KEYWORDS = frozenset(
    {
        # English, and what carriers and aggregators treat as the same request.
        "stop",
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
# Stop every client of the network, not only the one whose message was answered.
STOP_ALL_KEYWORDS = frozenset({"stopall", "stop all", "unsubscribe all", "ឈប់ទាំងអស់", "ឈប់ផ្ញើទាំងអស់"})
_IGNORED = re.compile(r"[\s\u17d4-\u17da]+")  # spaces and Khmer punctuation (។ ៕ ៖ …)


def _key(text: str) -> str:
    text = "".join(char for char in normalize(text) if not unicodedata.category(char).startswith("P"))
    return _IGNORED.sub("", text)


_STOP_KEYS = frozenset(_key(keyword) for keyword in STOP_KEYWORDS)
_STOP_ALL_KEYS = frozenset(_key(keyword) for keyword in STOP_ALL_KEYWORDS)


class StopScope(models.TextChoices):
    CLIENT = "client", _("The client whose message was answered")
    ALL = "all", _("Every client")


def stop_scope(text: str, *, client_keywords: Collection[str] = ()) -> StopScope | None:
    """Whom a reply asks to stop hearing from, or None when it is not a stop request."""
    if not text or len(text) > 64:
        return None
    key = _key(text)
    if key in _STOP_ALL_KEYS:
        return StopScope.ALL
    if key in _STOP_KEYS or any(key == _key(keyword) for keyword in client_keywords if keyword.strip()):
        return StopScope.CLIENT
    return None


def is_stop_message(text: str) -> bool:
    """True when a reply asks to receive no more messages (English or Khmer), from one client or all."""
    return stop_scope(text) is not None
