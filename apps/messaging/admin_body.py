"""How the back office shows a message body: codes masked for staff without the content permission, and the terms
the content filter matched highlighted, so a moderator sees at once why a message was held."""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

CONTENT_PERMISSION = "messaging.view_message_content"
# A run of 4 to 8 digits (Latin or Khmer) standing alone: one-time passwords, PINs, card and account tails.
CODE = re.compile(r"(?<![0-9\u17e0-\u17e9])[0-9\u17e0-\u17e9]{4,8}(?![0-9\u17e0-\u17e9])")
MASK = "\u2022"


def mask_codes(text: str) -> str:
    """`text` with every code-like run of digits replaced by as many bullets."""
    return CODE.sub(lambda match: MASK * len(match.group()), text)


def matched_terms(filter_reasons: list[dict]) -> list[str]:
    """The terms and domains the filter's reasons name (`matches`), longest first (so the longer wins a highlight)."""
    terms = {str(match) for reason in filter_reasons for match in reason.get("matches", ()) if str(match).strip()}
    return sorted(terms, key=len, reverse=True)


def body_html(body: str, *, filter_reasons: list[dict], can_view_content: bool) -> SafeString:
    """The body as HTML: masked unless `can_view_content`, matched terms in <mark>, line breaks kept."""
    shown = body if can_view_content else mask_codes(body)
    terms = matched_terms(filter_reasons)
    if not terms:
        return mark_safe(escape(shown).replace("\n", "<br>"))  # noqa: S308 - escaped just now
    pattern = re.compile("|".join(re.escape(term) for term in terms), re.IGNORECASE)
    parts, last = [], 0
    for match in pattern.finditer(shown):
        parts += [escape(shown[last : match.start()]), f"<mark>{escape(match.group())}</mark>"]
        last = match.end()
    parts.append(escape(shown[last:]))
    return mark_safe("".join(parts).replace("\n", "<br>"))  # noqa: S308 - every piece escaped above
