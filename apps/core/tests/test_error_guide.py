"""docs/errors.md (and its Khmer version, docs/errors.km.md) lists every error code the API can return, with the
status the code gives it: each domain error class's code (every app's), and every code the API schema documents
(apps.core.schema); no listed code is unknown."""

import re

import pytest
from django.conf import settings
from django.urls import get_resolver

from apps.core.api import DRF_MESSAGES, PUBLIC_CODES
from apps.core.errors import DomainError

ROW = re.compile(r"^\| (\d{3}) \| `([a-z0-9_]+)` \| (all|app|internal) \| .+ \|$", re.MULTILINE)
# Answered outside the exception handler, before or around the views (apps.core.views, DRF's field codes).
OUTSIDE_THE_HANDLER = {"nul_character", "null_characters_not_allowed", "bad_request", "server_error"}


def subclasses(cls: type) -> list[type]:
    return [sub for child in cls.__subclasses__() for sub in (child, *subclasses(child))]


@pytest.fixture(scope="module", params=["errors.md", "errors.km.md"])
def listed(request) -> dict[str, int]:
    rows = ROW.findall((settings.BASE_DIR / "docs" / request.param).read_text())
    codes = [code for _, code, _ in rows]
    assert len(codes) == len(set(codes)), "a code is listed twice"
    return {code: int(status) for status, code, _ in rows}


@pytest.fixture(scope="module")
def domain_errors() -> dict[str, int]:
    get_resolver().url_patterns  # noqa: B018 - imports every view, and so every app's errors
    return {error.code: error.status_code for error in [DomainError, *subclasses(DomainError)]}


@pytest.fixture
def documented(openapi) -> dict[str, int]:
    codes = {}
    for operations in openapi["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                for code in re.findall(r"^- `([a-z0-9_]+)`", response.get("description", ""), re.MULTILINE):
                    codes[code] = int(status)
    return codes


def test_every_domain_error_is_listed_with_its_status(listed, domain_errors):
    assert {code: listed.get(code) for code in domain_errors} == domain_errors


def test_every_code_the_schema_documents_is_listed_with_its_status(listed, documented):
    assert {code: listed.get(code) for code in documented} == documented


def test_every_listed_code_exists(listed, domain_errors, documented):
    handler_codes = {PUBLIC_CODES.get(code, code) for code in DRF_MESSAGES}
    unknown = set(listed) - set(domain_errors) - set(documented) - handler_codes - OUTSIDE_THE_HANDLER
    assert not unknown
