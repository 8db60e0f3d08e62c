"""Money as people read it: riel as Cambodians write them (`៛40,000` in Khmer, `40,000 riel` in English), dollars as
`$10.00`. One place for receipts, statements and the back office, so a figure reads the same everywhere."""

from decimal import Decimal

from django.utils import translation

# Decimal places of each currency's smallest unit (riel are whole; dollars have cents; the ledger counts 10⁻⁶ PPT).
SCALES = {"KHR": 0, "USD": 2, "PPT": 6}


def grouped(amount: int, scale: int) -> str:
    """`amount` smallest units with thousands separators and the currency's places: 4000000, 0 → "4,000,000"."""
    value = Decimal(amount).scaleb(-scale)
    return f"{value:,.{scale}f}"


def riel_text(amount: int, language: str | None = None) -> str:
    """Whole riel in `language` (default: the active one): `៛40,000` in Khmer, `40,000 riel` in English."""
    language = language or translation.get_language() or "km"
    sign = "-" if amount < 0 else ""
    text = grouped(abs(amount), 0)
    return f"{sign}៛{text}" if language.startswith("km") else f"{sign}{text} riel"


def money_text(amount: int, currency: str, language: str | None = None) -> str:
    """`amount` smallest units of `currency` (KHR, USD or PPT) as people write them; other currencies as a bare
    figure."""
    if currency == "KHR":
        return riel_text(amount, language)
    sign = "-" if amount < 0 else ""
    if currency == "USD":
        return f"{sign}${grouped(abs(amount), SCALES[currency])}"
    if currency == "PPT":
        return f"{sign}{grouped(abs(amount), SCALES[currency])} PPT"
    return f"{amount} {currency}"
