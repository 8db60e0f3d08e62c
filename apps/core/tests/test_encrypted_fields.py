"""Encrypted model fields prepare a batch of rows (`get_db_prep_save_many`) as they prepare each row: nothing to
hide and expressions stay as they are, the rest decrypts to what `get_db_prep_save` would have stored."""

import pytest
from django.db import connection
from django.db.models import Value

from apps.core import crypto
from apps.messaging.models import IdempotencyKey, Message


@pytest.mark.parametrize(
    ("model", "name", "values"),
    [
        (Message, "body", ["Your code is 482913", "", None, 1042, "លេខកូដ", Value("x")]),
        (Message, "to", ["+85512345678", "", "+85512345678"]),
        (IdempotencyKey, "response_body", [{"id": 1}, "", [], None, 7, "a string, serialised as JSON"]),
    ],
)
def test_a_batch_is_prepared_as_each_value_alone(model, name, values):
    field = model._meta.get_field(name)
    batch = field.get_db_prep_save_many(values, connection)
    alone = [field.get_db_prep_save(value, connection) for value in values]
    assert len(batch) == len(alone)
    for together, single in zip(batch, alone, strict=True):
        if crypto.is_encrypted(single):
            context = field.encryption_context
            assert crypto.decrypt(together, context=context) == crypto.decrypt(single, context=context)
        else:
            assert together == single


@pytest.mark.parametrize(
    ("model", "name", "as_they_are"),
    [(Message, "body", True), (Message, "to", True), (IdempotencyKey, "response_body", False)],
)
def test_strings_skip_the_preparation_only_where_it_would_keep_them(model, name, as_they_are):
    field = model._meta.get_field(name)
    assert field._strings_as_they_are() is as_they_are
    if as_they_are:
        assert field.db_plaintext("+85512345678", connection) == "+85512345678"
    else:
        assert field.db_plaintext("text", connection) == '"text"'


def test_an_expression_is_left_for_the_compiler():
    field = Message._meta.get_field("body")
    expression = Value("")
    assert field.get_db_prep_save_many([expression], connection) == [expression]
