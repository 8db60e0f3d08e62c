"""The guides under docs/ are right about the API: every curl command calls an operation that exists, with a body the
operation's schema accepts; every `METHOD /api/…` they name exists; their links resolve; the README links each
guide; and a Khmer guide runs the same code as its English version and links the other Khmer guides."""

import json
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.tests.test_api_reference import check_against_schema

GUIDES = ["quickstart.md", "quickstart.km.md", "webhooks.md", "webhooks.km.md", "idempotency.md",
          "idempotency.km.md", "segments.md", "segments.km.md", "errors.md", "errors.km.md", "rate-limits.md",
          "rate-limits.km.md", "provider-protocol.md", "billing.md", "billing.km.md", "payouts.md",
          "earnings.md", "earnings.km.md", "sandbox.md", "sandbox.km.md",
          "privacy.md", "privacy.km.md", "privacy-requests.md", "privacy-requests.km.md"]  # fmt: skip
# Operators' documents, checked the same way (links resolve, the operations they name exist).
GUIDES += ["deployment.md", "scaling.md", "troubleshooting.md", "backups.md", "backoffice.md", "content-filter.md"]
KHMER = [guide for guide in GUIDES if guide.endswith(".km.md")]
# Khmer guides whose code blocks are the English guide's byte for byte; the quickstart's translate their comments.
SAME_CODE = ["webhooks.km.md", "idempotency.km.md", "segments.km.md", "errors.km.md", "rate-limits.km.md"]
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


def english(khmer: str) -> str:
    return khmer.removesuffix(".km.md") + ".md"


def code_blocks(guide: str, *, without_comments: bool = False) -> list[str]:
    blocks = [f"```{language}\n{block}```" for language, block in CODE_BLOCK.findall((docs() / guide).read_text())]
    if without_comments:
        return [re.sub(r"\s+#.*$", "", block, flags=re.MULTILINE) for block in blocks]
    return blocks


def test_the_khmer_quickstart_runs_the_same_code():
    # Its comments are translated; the code is not.
    assert code_blocks("quickstart.km.md", without_comments=True) == code_blocks("quickstart.md", without_comments=True)


@pytest.mark.parametrize("guide", SAME_CODE)
def test_a_khmer_guide_has_the_english_guides_code_blocks(guide):
    assert code_blocks(guide) == code_blocks(english(guide))


@pytest.mark.parametrize("guide", KHMER)
def test_a_khmer_guide_and_its_english_version_link_each_other(guide):
    assert f"[English]({english(guide)})" in (docs() / guide).read_text()
    assert f"[ភាសាខ្មែរ]({guide})" in (docs() / english(guide)).read_text()
    assert f"(docs/{english(guide)}) · [ភាសាខ្មែរ](docs/{guide})" in (settings.BASE_DIR / "README.md").read_text()


@pytest.mark.parametrize("guide", KHMER)
def test_a_khmer_guide_links_the_khmer_version_of_another_guide(guide):
    text = (docs() / guide).read_text().replace(f"[English]({english(guide)})", "")
    english_only = [
        target for target in re.findall(r"\]\(([\w-]+)\.md[)#]", text) if (docs() / f"{target}.km.md").exists()
    ]
    assert not english_only, f"{guide} links the English {english_only}"
