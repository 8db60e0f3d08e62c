"""Core test fixtures: the API surface is exercised with the messaging tests' client (an organisation, its API key
and API client), and with the content filter reread for every test as there; `openapi` is the generated schema."""

import json

import pytest
from django.core.management import call_command

from apps.messaging.tests.conftest import _filter_rereads_rules, api_key, client_api, organization  # noqa: F401


@pytest.fixture(scope="session")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The OpenAPI schema as `manage.py spectacular` writes it (JSON), generated once per run."""
    output = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(output))
    return json.loads(output.read_text())
