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
        (Message, "body", ["Your code is 482913", "", None, 1042, "លេខកូដ"]),
        (Message, "to", ["+85512345678", "", "+85512345678"]),
        (IdempotencyKey, "response_body", [{"id": 1}, "", [], None, 7]),
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


def test_an_expression_is_left_for_the_compiler():
    field = Message._meta.get_field("body")
    expression = Value("")
    assert field.get_db_prep_save_many([expression], connection) == [expression]
