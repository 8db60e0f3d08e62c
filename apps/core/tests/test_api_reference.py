"""The API reference is complete: every operation of the generated schema has a summary, a description, examples of
its request and success bodies that agree with their schemas, and its error responses (each status listing its
codes, with an example of each), derived from the code (apps.core.schema). Sections come in the readers' order."""

import json
import re
from typing import Any

import pytest
from django.conf import settings
from jsonschema import Draft202012Validator

KHMER = re.compile(r"[\u1780-\u17ff]")
# Operations whose bodies carry message text, in their request or their answer: examples show Khmer and English.
MESSAGE_TEXT_OPERATIONS = {
    "messages_send_create": "request",
    "messages_bulk_create": "request",
    "jobs_retrieve": "200",
    "jobs_ack_create": "200",
}
# What a client integrates with: examples written for readers, not generated from the schema.
CLIENT_TAGS = {"messages", "bulk", "webhooks", "verify"}
GENERATED = "Generated from the schema"


@pytest.fixture
def schema(openapi) -> dict:
    return openapi


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable` as JSON Schema."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def check_against_schema(value: Any, schema: dict, components: dict) -> list[str]:
    document = {"allOf": [json_schema(schema)], "components": {"schemas": json_schema(components)}}
    return [error.message for error in Draft202012Validator(document).iter_errors(value)]


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [f"{m} {p}" for m, p, op in operations(schema) if not op.get("summary") or not op.get("description")]
    assert not missing


def test_every_body_has_an_example_that_matches_its_schema(schema):
    components = schema["components"]["schemas"]
    problems = []
    for method, path, op in operations(schema):
        bodies = [("request", op.get("requestBody", {}))]
        bodies += [(status, response) for status, response in op["responses"].items() if status != "default"]
        for where, body in bodies:
            for media in body.get("content", {}).values():
                examples = media.get("examples", {})
                if not examples:
                    problems.append(f"{method} {path} {where}: no example")
                for name, example in examples.items():
                    for error in check_against_schema(example["value"], media["schema"], components):
                        problems.append(f"{method} {path} {where} {name}: {error}")
    assert not problems, "\n".join(problems)


def test_client_operations_have_written_examples(schema):
    generated = [
        f"{method} {path} {where}"
        for method, path, op in operations(schema)
        if set(op.get("tags", [])) & CLIENT_TAGS
        for where, body in [("request", op.get("requestBody", {})), *op["responses"].items()]
        if where == "request" or where < "300"
        for media in body.get("content", {}).values()
        if any(example.get("summary") == GENERATED for example in media.get("examples", {}).values())
    ]
    assert not generated


@pytest.mark.parametrize(("operation_id", "where"), sorted(MESSAGE_TEXT_OPERATIONS.items()))
def test_message_text_examples_are_in_khmer_and_english(schema, operation_id, where):
    [op] = [op for _, _, op in operations(schema) if op["operationId"] == operation_id]
    body = op["requestBody"] if where == "request" else op["responses"][where]
    bodies = [
        text
        for example in body["content"]["application/json"]["examples"].values()
        for text in re.findall(r'"body": "([^"]*)"', json.dumps(example["value"], ensure_ascii=False))
    ]
    assert any(KHMER.search(body) for body in bodies)
    assert any(body.isascii() for body in bodies)


def test_every_operation_documents_its_errors(schema):
    problems = []
    for method, path, op in operations(schema):
        errors = {status: response for status, response in op["responses"].items() if status[0] in "45"}
        if not errors:
            problems.append(f"{method} {path}: no error response")
        if "default" not in op["responses"]:
            problems.append(f"{method} {path}: no default (the one error shape)")
        for status, response in errors.items():
            content = response["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorOutput"}
            codes = {example["value"]["code"] for example in content["examples"].values()}
            listed = set(re.findall(r"^- `([a-z0-9_]+)`: .+$", response["description"], re.MULTILINE))
            if not codes or codes != listed:
                problems.append(f"{method} {path} {status}: examples {codes} but description lists {listed}")
    assert not problems, "\n".join(problems)


def test_errors_follow_what_the_operation_takes(schema):
    for method, path, op in operations(schema):
        responses = op["responses"]
        if op.get("security") and {} not in op["security"]:
            assert "401" in responses, f"{method} {path}"
        if "requestBody" in op:
            assert {"400", "413", "415"} <= set(responses), f"{method} {path}"
        if "{" in path:
            assert "404" in responses, f"{method} {path}"


def test_declared_domain_errors_reach_the_schema(schema):
    send = schema["paths"]["/api/messages/send"]["post"]["responses"]
    assert "`body_too_many_segments`" in send["400"]["description"]
    assert "`recipient_opted_out`" in send["422"]["description"]
    assert "`daily_quota_exceeded`" in send["429"]["description"]
    assert "`api_key_revoked`" in send["401"]["description"]
    assert send["429"]["content"]["application/json"]["examples"]["DailyQuotaExceeded"]["value"]["details"] == {
        "retry_after": 30
    }


def test_sections_come_in_the_readers_order(schema):
    names = [tag["name"] for tag in schema["tags"]]
    assert names == [tag["name"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]
    assert names[:2] == ["messages", "bulk"] and names[-1] == "audit"
    assert all(tag.get("description") for tag in schema["tags"])
    used = {tag for _, _, op in operations(schema) for tag in op.get("tags", [])}
    assert used <= set(names), used - set(names)
