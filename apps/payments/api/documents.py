"""Receipts, usage and statements for clients: JSON, and the documents people keep (PDF, HTML, CSV) in Khmer or
English. The format comes from `?format=`, a `.pdf`/`.html`/`.csv` suffix or the Accept header; the language from
`?lang=` or Accept-Language. Errors are always JSON."""

from typing import Any

from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import renderers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.pagination import CursorPagination
from apps.core.schema import raises
from apps.payments import errors
from apps.payments.api.serializers import (
    DocumentQuerySerializer,
    ReceiptSerializer,
    StatementSerializer,
    UsageQuerySerializer,
    UsageSerializer,
)
from apps.payments.api.views import TopUpApiView
from apps.payments.documents import (
    LANGUAGES,
    document_html,
    document_pdf,
    receipt_document,
    statement_csv,
    statement_document,
)
from apps.payments.reports import statement_build, usage_range_parse, usage_report
from apps.payments.representation import receipt_output, statement_output
from apps.payments.selectors import receipt_of, receipts_of, topup_organization


class PassThroughRenderer(renderers.BaseRenderer):
    """Bytes or text a view already made (a PDF, an HTML page, a CSV file)."""

    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> Any:
        return data


class PDFRenderer(PassThroughRenderer):
    media_type, format = "application/pdf", "pdf"


class HTMLRenderer(PassThroughRenderer):
    media_type, format, charset = "text/html", "html", "utf-8"


class CSVRenderer(PassThroughRenderer):
    media_type, format, charset = "text/csv", "csv", "utf-8"


PDF_EXAMPLE = OpenApiExample("PDF", value="%PDF-1.3 …", media_type="application/pdf", response_only=True)
HTML_EXAMPLE = OpenApiExample(
    "HTML", value='<!doctype html><html lang="km">…', media_type="text/html", response_only=True
)
MONTH_PARAMETER = OpenApiParameter(
    "month",
    {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$"},
    OpenApiParameter.PATH,
    description="YYYY-MM, not after the current month.",
)
LANG_PARAMETER = OpenApiParameter(
    "lang", str, enum=list(LANGUAGES), description="Khmer or English (default: Accept-Language, then Khmer)."
)
RECEIPT_EXAMPLE = {
    "number": "PP-2026-000001",
    "topup": "top_8f3k2m",
    "organization": 12,
    "organization_name": "Acme Bank",
    "amount": {"amount": 40000, "decimal": "40000"},
    "currency": "KHR",
    "amount_text": "៛40,000",
    "tax": None,
    "ppt": {"amount": 400000000, "decimal": "400.000000"},
    "ppt_per_unit": "0.01",
    "transfer_id": "topup:top_8f3k2m",
    "issued_at": "2026-12-05T02:31:12Z",
    "links": {
        "pdf": "/api/billing/receipts/PP-2026-000001.pdf",
        "html": "/api/billing/receipts/PP-2026-000001.html",
    },
}


class DocumentView(TopUpApiView):
    """A client's billing document. Errors are answered in JSON whatever format was asked for."""

    renderer_classes = [renderers.JSONRenderer, PDFRenderer, HTMLRenderer]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response) and not isinstance(response.data, bytes | str):
            request.accepted_renderer, request.accepted_media_type = renderers.JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @staticmethod
    def language(request: Request, query: dict) -> str:
        if query.get("lang"):
            return query["lang"]
        language = translation.get_language_from_request(request)
        return language if language in LANGUAGES else "km"

    def document(self, request: Request, data: bytes | str, filename: str) -> Response:
        response = Response(data)
        fmt = request.accepted_renderer.format
        disposition = "attachment" if fmt in ("pdf", "csv") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}.{fmt}"'
        return response


def _query(request: Request, serializer_class: type = DocumentQuerySerializer) -> dict:
    query = serializer_class(data=request.query_params)
    if not query.is_valid():
        if "lang" in query.errors:
            raise errors.LanguageUnsupported(details={"allowed": list(LANGUAGES)})
        if {"from", "to"} & set(query.errors):
            raise errors.DateInvalid(details={"format": "YYYY-MM-DD"})
        query.is_valid(raise_exception=True)
    return query.validated_data


class ReceiptPagination(CursorPagination):
    page_size = 30
    ordering = ("-issued_at", "-id")


class ReceiptListView(TopUpApiView):
    pagination_class = ReceiptPagination

    @raises(errors.OrganizationNotFound)
    @extend_schema(
        parameters=[DocumentQuerySerializer],
        responses={200: ReceiptSerializer(many=True)},
        tags=["billing"],
        summary="List your receipts",
        description="One receipt per paid top-up, newest first. Numbers run per year without gaps "
        "(`PP-2026-000001`); a receipt never changes once issued. Each links to its PDF and HTML.",
        examples=[OpenApiExample("A receipt", value=RECEIPT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = _query(request)
        organization = topup_organization(principal=request.user, organization_id=query.get("organization"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(receipts_of(organization=organization), request, view=self)
        return paginator.get_paginated_response([receipt_output(receipt) for receipt in page])


class ReceiptDetailView(DocumentView):
    @raises(errors.OrganizationNotFound, errors.ReceiptNotFound, errors.LanguageUnsupported)
    @extend_schema(
        parameters=[DocumentQuerySerializer, LANG_PARAMETER],
        responses={
            (200, "application/json"): ReceiptSerializer,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "text/html"): OpenApiTypes.STR,
        },
        tags=["billing"],
        summary="A receipt (JSON, PDF or HTML)",
        description="One of your receipts. `?format=pdf` or `.pdf` after the number gives the PDF to keep, "
        "`?format=html` or `.html` a page to print; `?lang=km` or `en` (default: your Accept-Language) chooses "
        "Khmer or English. Riel are written `៛40,000` in Khmer and `40,000 riel` in English, dollars `$10.00`.",
        examples=[
            OpenApiExample("A receipt", value=RECEIPT_EXAMPLE, response_only=True, media_type="application/json"),
            PDF_EXAMPLE,
            HTML_EXAMPLE,
        ],
    )
    def get(self, request: Request, number: str, format: str | None = None) -> Response:
        query = _query(request)
        organization = topup_organization(principal=request.user, organization_id=query.get("organization"))
        receipt = receipt_of(organization=organization, number=number)
        fmt = request.accepted_renderer.format
        if fmt == "json":
            return Response(receipt_output(receipt))
        document = receipt_document(receipt, self.language(request, query))
        data = document_pdf(document) if fmt == "pdf" else document_html(document)
        return self.document(request, data, receipt.number)


@extend_schema(exclude=True)
class ReceiptFileView(ReceiptDetailView):
    """`/api/billing/receipts/{number}.pdf` (and `.html`, `.json`): the same as `?format=`."""


class UsageView(TopUpApiView):
    @raises(errors.OrganizationNotFound, errors.DateInvalid, errors.DateRangeInvalid, errors.DateRangeTooLong)
    @extend_schema(
        parameters=[UsageQuerySerializer],
        responses={200: UsageSerializer},
        tags=["billing"],
        summary="Your usage per day",
        description="From `from` to `to` (YYYY-MM-DD, both included, Phnom Penh days; default the last 30 days; "
        "at most 366 days): per day the messages you sent and their segments, by status, and the PPT held when "
        "messages were accepted, captured when they were delivered and released when they were not. PPT amounts "
        "are in 10⁻⁶ PPT.",
        examples=[
            OpenApiExample(
                "Two days",
                value={
                    "from": "2026-12-01",
                    "to": "2026-12-02",
                    "timezone": "Asia/Phnom_Penh",
                    "days": [
                        {
                            "date": "2026-12-01",
                            "messages": 3,
                            "segments": 4,
                            "by_status": {
                                "delivered": {"messages": 2, "segments": 3},
                                "failed": {"messages": 1, "segments": 1},
                            },
                            "ppt": {"held": 400000, "captured": 300000, "released": 100000},
                        },
                        {
                            "date": "2026-12-02",
                            "messages": 0,
                            "segments": 0,
                            "by_status": {},
                            "ppt": {"held": 0, "captured": 0, "released": 0},
                        },
                    ],
                    "totals": {
                        "messages": 3,
                        "segments": 4,
                        "ppt": {"held": 400000, "captured": 300000, "released": 100000},
                    },
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = _query(request, UsageQuerySerializer)
        organization = topup_organization(principal=request.user, organization_id=query.get("organization"))
        first, last = usage_range_parse(start=request.query_params.get("from"), end=request.query_params.get("to"))
        return Response(usage_report(organization_id=organization.pk, first=first, last=last))


STATEMENT_EXAMPLE = {
    "month": "2026-11",
    "organization": 12,
    "from": "2026-11-01T00:00:00+07:00",
    "to": "2026-12-01T00:00:00+07:00",
    "opening_balance": 0,
    "top_ups": 400000000,
    "charges_captured": 1200000,
    "adjustments": 0,
    "other": 0,
    "closing_balance": 398800000,
    "holds_placed": 1500000,
    "holds_released": 300000,
    "holds_open_at_close": 0,
    "reconciles": True,
}


class StatementView(DocumentView):
    renderer_classes = [renderers.JSONRenderer, PDFRenderer, CSVRenderer]

    @raises(errors.OrganizationNotFound, errors.MonthInvalid, errors.LanguageUnsupported)
    @extend_schema(
        parameters=[MONTH_PARAMETER, DocumentQuerySerializer, LANG_PARAMETER],
        responses={
            (200, "application/json"): StatementSerializer,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        tags=["billing"],
        summary="A monthly statement (JSON, CSV or PDF)",
        description="Your PPT account over a month (`YYYY-MM`, Phnom Penh time): opening balance, top-ups, message "
        "charges captured, adjustments and refunds, other movements, closing balance (in 10⁻⁶ PPT; opening plus "
        "movements is the closing balance), and beside them the holds placed, released and still open. "
        "`?format=csv` or `pdf` (or a `.csv` / `.pdf` suffix) gives the file, in Khmer or English (`?lang=`).",
        examples=[
            OpenApiExample("November", value=STATEMENT_EXAMPLE, response_only=True, media_type="application/json"),
            PDF_EXAMPLE,
            OpenApiExample(
                "CSV",
                value="line,label,amount,ppt\r\nopening_balance,Opening balance,0,0.000000\r\n",
                media_type="text/csv",
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request, month: str, format: str | None = None) -> Response:
        query = _query(request)
        organization = topup_organization(principal=request.user, organization_id=query.get("organization"))
        statement = statement_build(organization_id=organization.pk, month=month)
        fmt = request.accepted_renderer.format
        if fmt == "json":
            return Response(statement_output(statement))
        language = self.language(request, query)
        if fmt == "csv":
            data: bytes | str = statement_csv(statement, language)
        else:
            data = document_pdf(statement_document(statement, organization_name=organization.name, language=language))
        return self.document(request, data, f"statement-{statement.month}")


@extend_schema(exclude=True)
class StatementFileView(StatementView):
    """`/api/billing/statements/{YYYY-MM}.csv` (and `.pdf`, `.json`): the same as `?format=`."""
