"""Receipts and statements as people read them: HTML and PDF, in Khmer or English.

Both formats print the same lines (`receipt_lines`, `statement_lines`), so they cannot disagree. Khmer needs complex
text shaping (stacked consonants, vowels before their consonant): the PDF is shaped by HarfBuzz (fpdf2 with
uharfbuzz) in Noto Sans Khmer, which also covers Latin, installed from PyPI (`fontpkg-noto-sans-khmer`, OFL).
"""

import csv
import functools
import io
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from apps.core.money import grouped, money_text
from apps.payments.models import Receipt
from apps.payments.receipts import BASIS_POINTS, BILLING_TZ
from apps.payments.reports import Statement
from apps.tokens.selectors import amount_decimal

LANGUAGES = ("en", "km")
PPT_SCALE = 6


# fontTools narrates every instancing and subsetting step at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)
WEIGHTS = {"": 400, "B": 700}


@functools.cache
def _fonts() -> dict[str, str]:
    """The packaged variable font cut once per process into static regular and bold files (instancing takes seconds;
    a PDF must not): fpdf2 then only subsets them."""
    import fontpkg_noto_sans_khmer
    from fontTools.ttLib import TTFont
    from fontTools.varLib.instancer import instantiateVariableFont

    source = fontpkg_noto_sans_khmer.ROOT / "files" / "NotoSansKhmer[wdth,wght].ttf"
    folder = Path(tempfile.mkdtemp(prefix="peerpower-fonts-"))
    paths = {}
    for style, weight in WEIGHTS.items():
        font = instantiateVariableFont(TTFont(source), {"wght": weight, "wdth": 100})
        paths[style] = str(folder / f"NotoSansKhmer-{weight}.ttf")
        font.save(paths[style])
    return paths


def money(amount: int, currency: str, language: str) -> str:
    """Riel as Cambodians write them (`៛40,000` in Khmer, `40,000 riel` in English); dollars as `$10.00`."""
    return money_text(amount, currency, language)


def ppt(amount: int) -> str:
    """PPT with its 6 places and separators: 10500000 → "10.500000 PPT"."""
    return f"{grouped(amount, PPT_SCALE)} PPT"


def local_time(moment: datetime) -> str:
    return f"{moment.astimezone(BILLING_TZ):%Y-%m-%d %H:%M} (UTC+7)"


@dataclass(frozen=True, slots=True)
class Document:
    """What a receipt or a statement prints: a title, its reference, label/value lines, then an optional table."""

    title: str
    reference: str
    lines: list[tuple[str, str]]
    table_header: list[str]
    table: list[list[str]]
    footer: str
    language: str


def receipt_document(receipt: Receipt, language: str) -> Document:
    with translation.override(language):
        lines = [
            (_("Receipt number"), receipt.number),
            (_("Date"), local_time(receipt.issued_at)),
            (_("Customer"), receipt.organization_name),
            (_("Top-up"), receipt.topup.public_id),
            (_("Amount paid"), money(receipt.amount, receipt.currency, language)),
        ]
        if receipt.tax_name:
            rate = Decimal(receipt.tax_rate_bp) / (BASIS_POINTS // 100)
            label = _("of which %(tax)s (%(rate)s%%)") % {"tax": receipt.tax_name, "rate": f"{rate.normalize():f}"}
            lines.append((label, money(receipt.tax_amount, receipt.currency, language)))
        lines += [
            (_("PPT issued"), ppt(receipt.ppt_amount)),
            (_("Exchange rate"), f"1 {receipt.currency} = {receipt.ppt_per_unit.normalize():f} PPT"),
            (_("Ledger transfer"), receipt.transfer_id),
        ]
        return Document(
            title=_("Receipt"),
            reference=receipt.number,
            lines=lines,
            table_header=[],
            table=[],
            footer=_("Paid through Baray. This receipt is issued once and never changed."),
            language=language,
        )


def document_html(document: Document) -> str:
    return render_to_string("payments/document.html", {"document": document})


def document_pdf(document: Document) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"{document.title} {document.reference}")
    pdf.set_creator("PeerPower")
    for style, path in _fonts().items():
        pdf.add_font("khmer", style, path)
    pdf.set_text_shaping(True)
    pdf.add_page()
    pdf.set_font("khmer", "B", 11)
    pdf.cell(0, 8, "PeerPower", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("khmer", "B", 18)
    pdf.cell(0, 12, f"{document.title} {document.reference}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for label, value in document.lines:
        pdf.set_font("khmer", "", 10)
        pdf.cell(70, 8, label)
        pdf.set_font("khmer", "B", 10)
        pdf.cell(0, 8, value, new_x="LMARGIN", new_y="NEXT")
    if document.table_header:
        pdf.ln(4)
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(document.table_header)
        pdf.set_font("khmer", "B", 9)
        for heading in document.table_header:
            pdf.cell(width, 8, heading, border="B")
        pdf.ln()
        pdf.set_font("khmer", "", 9)
        for row in document.table:
            for value in row:
                pdf.cell(width, 7, value)
            pdf.ln()
    pdf.ln(6)
    pdf.set_font("khmer", "", 8)
    pdf.multi_cell(0, 5, document.footer)
    return bytes(pdf.output())


def statement_rows(statement: Statement, language: str) -> list[tuple[str, str, int]]:
    """The statement's lines: (key, label, amount in 10⁻⁶ PPT), in reading order. Keys name the CSV's rows."""
    with translation.override(language):
        return [
            ("opening_balance", _("Opening balance"), statement.opening),
            ("top_ups", _("Top-ups"), statement.top_ups),
            ("charges_captured", _("Message charges captured"), -statement.charges_captured),
            ("adjustments", _("Adjustments and refunds"), statement.adjustments),
            ("other", _("Other movements"), statement.other),
            ("closing_balance", _("Closing balance"), statement.closing),
            ("holds_placed", _("Holds placed (not yet money moved)"), statement.holds_placed),
            ("holds_released", _("Holds released"), statement.holds_released),
            ("holds_open_at_close", _("Holds still open at the close"), statement.holds_open_at_close),
        ]


def statement_document(statement: Statement, *, organization_name: str, language: str) -> Document:
    last_day = statement.until.astimezone(BILLING_TZ) - timedelta(days=1)
    with translation.override(language):
        lines = [
            (_("Customer"), organization_name),
            (_("Period"), f"{statement.since.astimezone(BILLING_TZ):%Y-%m-%d} – {last_day:%Y-%m-%d} (UTC+7)"),
        ]
        lines += [(label, ppt(amount)) for _key, label, amount in statement_rows(statement, language)]
        return Document(
            title=_("Statement"),
            reference=statement.month,
            lines=lines,
            table_header=[],
            table=[],
            footer=_("Amounts in PPT. Opening balance plus the movements of the month equals the closing balance."),
            language=language,
        )


def statement_csv(statement: Statement, language: str) -> str:
    """One row per line: key, label (in the language), amount in 10⁻⁶ PPT, the same in PPT."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "label", "amount", "ppt"])
    for key, label, amount in statement_rows(statement, language):
        writer.writerow([key, label, amount, amount_decimal(amount, PPT_SCALE)])
    return out.getvalue()
