"""The guides under docs/ are right about the API: every curl command calls an operation that exists, with a body the
operation's schema accepts; every `METHOD /api/…` they name exists; their links resolve; the README links each
guide; and the Khmer quickstart runs the same code as the English one."""

import json
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.tests.test_api_reference import check_against_schema

GUIDES = ["quickstart.md", "quickstart.km.md", "webhooks.md", "idempotency.md", "segments.md", "errors.md",
          "rate-limits.md", "provider-protocol.md", "billing.md", "billing.km.md", "payouts.md",
          "earnings.md", "earnings.km.md", "sandbox.md", "sandbox.km.md",
          "privacy.md", "privacy.km.md", "privacy-requests.md", "privacy-requests.km.md"]  # fmt: skip
# Operators' documents, checked the same way (links resolve, the operations they name exist).
GUIDES += ["deployment.md", "scaling.md", "troubleshooting.md", "backups.md", "backoffice.md", "content-filter.md"]
CODE_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
NAMED_OPERATION = re.compile(r"`(GET|POST|PATCH|PUT|DELETE) (/api/[^ `?]*)")


def docs() -> Path:
    return settings.BASE_DIR / "docs"


@pytest.fixture
def schema(openapi) -> dict:
    return openapi


def operation(schema: dict, method: str, path: str) -> dict | None:
    """The schema's operation for a concrete or templated path (`/api/clients/7/api-keys`, `/api/webhooks/{id}`)."""
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    return None


def curl_commands(text: str) -> list[list[str]]:
    commands = []
    for language, block in CODE_BLOCK.findall(text):
        if language != "sh":
            continue
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [shlex.split(line, comments=True) for line in joined.splitlines() if line.startswith("curl ")]
    return commands


@pytest.mark.parametrize("guide", GUIDES)
def test_every_curl_command_calls_an_operation_with_a_body_it_accepts(schema, guide):
    components = schema["components"]["schemas"]
    for words in curl_commands((docs() / guide).read_text()):
        method = words[words.index("-X") + 1] if "-X" in words else "GET"
        [url] = [word for word in words if word.startswith("$PEERPOWER_URL/")]
        found = operation(schema, method, url.removeprefix("$PEERPOWER_URL"))
        assert found is not None, f"{guide}: {method} {url}"
        if "-d" in words:
            body = json.loads(words[words.index("-d") + 1])
            request_schema = found["requestBody"]["content"]["application/json"]["schema"]
            assert not check_against_schema(body, request_schema, components), f"{guide}: {method} {url} {body}"


@pytest.mark.parametrize("guide", GUIDES)
def test_every_named_operation_exists(schema, guide):
    missing = [
        f"{method} {path}"
        for method, path in NAMED_OPERATION.findall((docs() / guide).read_text())
        if operation(schema, method, path) is None
    ]
    assert not missing, f"{guide}: {missing}"


@pytest.mark.parametrize("guide", GUIDES)
def test_links_resolve(guide):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (docs() / guide).read_text()):
        if not target.startswith("http"):
            assert (docs() / target).exists(), f"{guide}: {target}"


def test_the_readme_links_every_guide():
    readme = (settings.BASE_DIR / "README.md").read_text()
    assert [guide for guide in GUIDES if f"(docs/{guide})" not in readme] == []
    assert sorted(path.name for path in docs().glob("*.md")) == sorted(GUIDES)


def test_the_khmer_quickstart_runs_the_same_code():
    def code(name: str) -> list[str]:
        # Comments are translated; the code is not.
        blocks = CODE_BLOCK.findall((docs() / name).read_text())
        return [re.sub(r"\s+#.*$", "", block, flags=re.MULTILINE) for _, block in blocks]

    assert code("quickstart.km.md") == code("quickstart.md")
