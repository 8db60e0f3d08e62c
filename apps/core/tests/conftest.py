"""Core test fixtures: the API surface is exercised with the messaging tests' client (an organisation, its API key
and API client), and with the content filter reread for every test as there."""

from apps.messaging.tests.conftest import _filter_rereads_rules, api_key, client_api, organization  # noqa: F401
