"""Money in templates, in the active language: `{{ amount|riel }}` → `៛40,000` (Khmer) or `40,000 riel` (English);
`{{ amount|money:currency }}` for riel or US cents."""

from typing import Any

from django import template

from apps.core.money import money_text, riel_text

register = template.Library()


@register.filter
def riel(amount: Any) -> str:
    return "" if amount in (None, "") else riel_text(int(amount))


@register.filter
def money(amount: Any, currency: str) -> str:
    return "" if amount in (None, "") else money_text(int(amount), currency)
