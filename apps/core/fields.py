"""Model fields that keep personal data encrypted in the database (apps.core.crypto) and find it by a blind index.

Code reads and writes plain strings: a value is encrypted on its way to the database and decrypted on its way
back. Encrypted columns cannot be searched (each value has a nonce of its own, and a fresh salt per value or per
batch of rows): only `isnull` and `= ''` are allowed, and a value looked up by equality has a `BlindIndexField`
beside it. An `EncryptedLookupCharField` compiles `=` and `IN` against that index itself, for values looked up in
many places (phone numbers).
"""

import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import FieldError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In

from apps.core import crypto


class EmptyOnlyExact(Exact):
    """`= ''` on an encrypted column (an erased value, a "not empty" constraint); any other value would compare
    with ciphertext and never match, so it is refused rather than silently finding nothing."""

    def __init__(self, lhs: Any, rhs: Any) -> None:
        if rhs != "" and not hasattr(rhs, "resolve_expression"):
            raise FieldError("An encrypted field can only be compared with '': look it up by its blind index.")
        super().__init__(lhs, rhs)


class EncryptedMixin:
    """Encrypt on save, decrypt on load; the column is `text` whatever the field's max_length (which still
    validates the plaintext)."""

    allowed_lookups = frozenset({"isnull", "exact"})

    @property
    def encryption_context(self) -> str:
        # The table and column: a value moved to another column, or another table, does not decrypt.
        return f"{self.model._meta.db_table}.{self.column}"

    def db_type(self, connection: Any) -> str:
        return connection.data_types["TextField"]

    def cast_db_type(self, connection: Any) -> str:
        return self.db_type(connection)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in self.allowed_lookups:
            raise FieldError(
                f"{self.model.__name__}.{self.name} is encrypted: look it up by its blind index, not '{lookup_name}'."
            )
        return EmptyOnlyExact if lookup_name == "exact" else super().get_lookup(lookup_name)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # A value written before the column was encrypted is read as it is, until the migration converts it.
        if crypto.is_encrypted(value):
            return crypto.decrypt(value, context=self.encryption_context)
        return value

    def db_plaintext(self, value: Any, connection: Any) -> Any:
        """What of `value` is encrypted on save (a non-empty string), or what is stored as it is."""
        value = super().get_db_prep_save(value, connection)
        if value is None or value == "" or hasattr(value, "as_sql"):
            # Nothing to hide (an erased body is stored as ""), or an expression: bulk_update's CASE compiles its
            # values through this method again (for_save), so they are encrypted there.
            return value
        return str(value)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        value = self.db_plaintext(value, connection)
        return crypto.encrypt(value, context=self.encryption_context) if isinstance(value, str) and value else value

    def _strings_as_they_are(self) -> bool:
        """Whether `db_plaintext` gives any `str` back as it is: a CharField's or TextField's own preparation (a
        subclass that serialises, like EncryptedJSONField, does not)."""
        kind = type(self)
        return (
            kind.get_prep_value in (models.CharField.get_prep_value, models.TextField.get_prep_value)
            and kind.to_python in (models.CharField.to_python, models.TextField.to_python)
            and kind.get_db_prep_value is models.Field.get_db_prep_value
            and kind.get_db_prep_save is EncryptedMixin.get_db_prep_save
        )

    def get_db_prep_save_many(self, values: Sequence[Any], connection: Any) -> list[Any]:
        """`[self.get_db_prep_save(value, connection) for value in values]` for rows inserted together, encrypted as
        one batch (apps.core.crypto.encrypt_many: the subkey derived once, a nonce per value)."""
        if self._strings_as_they_are():  # a str is its own plaintext: skip the field's generic preparation per value
            prepared = [value if type(value) is str else self.db_plaintext(value, connection) for value in values]
        else:
            prepared = [self.db_plaintext(value, connection) for value in values]
        positions = [position for position, value in enumerate(prepared) if isinstance(value, str) and value]
        tokens = crypto.encrypt_many([prepared[position] for position in positions], context=self.encryption_context)
        for position, token in zip(positions, tokens, strict=True):
            prepared[position] = token
        return prepared


class EncryptedTextField(EncryptedMixin, models.TextField):
    """A TextField stored encrypted."""


class EncryptedCharField(EncryptedMixin, models.CharField):
    """A CharField (max_length checks the plaintext) stored encrypted in a `text` column."""


def _index_column(lhs: Any) -> Col:
    """The blind index column beside the encrypted column `lhs` (same table alias, so joins keep working)."""
    field = getattr(lhs, "target", None)
    if not isinstance(lhs, Col) or not isinstance(field, EncryptedLookupCharField):
        raise FieldError("An encrypted field is looked up by equality only as a plain column.")
    index = field.index_field
    return Col(lhs.alias, index, index)


class BlindIndexExact(Exact):
    """`field = value` on an EncryptedLookupCharField: the blind index column compared with the value's blind index.
    `= ''` (an empty or erased value) still compares the column itself, as EmptyOnlyExact does."""

    def __init__(self, lhs: Any, rhs: Any) -> None:
        if hasattr(rhs, "resolve_expression"):
            raise FieldError("An encrypted field can only be compared with a value, not an expression.")
        if rhs != "" and rhs is not None:
            lhs, rhs = _index_column(lhs), crypto.blind_index(str(rhs))
        super().__init__(lhs, rhs)


class BlindIndexIn(In):
    """`field IN (values)` on an EncryptedLookupCharField, through the blind index column."""

    def __init__(self, lhs: Any, rhs: Any) -> None:
        if hasattr(rhs, "resolve_expression"):
            raise FieldError("An encrypted field can only be compared with values, not a subquery.")
        super().__init__(_index_column(lhs), [crypto.blind_index(str(value)) for value in rhs if value])


class EncryptedLookupCharField(EncryptedCharField):
    """An EncryptedCharField that code still finds by equality — `filter(phone=e164)`, `phone__in=[...]`,
    `user__phone=...`, Django's own `get_by_natural_key` — because those lookups are compiled against its blind
    index, the BlindIndexField named `<name>_hash` on the same model. Values must be normalised (E.164) before
    they are looked up, exactly as before they were stored. Anything but `=`, `IN` and `isnull` is refused.

    Used where equality lookups are spread through the code and Django itself (a user's phone is its username);
    elsewhere the explicit `<name>_hash=blind_index(value)` reads more plainly."""

    allowed_lookups = frozenset({"isnull", "exact", "in"})

    @property
    def index_field(self) -> "BlindIndexField":
        index = self.model._meta.get_field(f"{self.name}_hash")
        if not isinstance(index, BlindIndexField) or index.source != self.name:
            raise FieldError(f"{self.model.__name__}.{self.name}_hash must be BlindIndexField(source={self.name!r}).")
        return index

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "exact":
            return BlindIndexExact
        if lookup_name == "in":
            return BlindIndexIn
        return super().get_lookup(lookup_name)


class BlindIndexField(models.CharField):
    """The blind index (apps.core.crypto.blind_index) of the field named `source`, set whenever the row is saved or
    bulk-created.

    An empty source keeps the index it had: retention erases a message's recipient (by a queryset update) and keeps
    only this hash, which must survive any later save of the row.
    """

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", crypto.BLIND_INDEX_CHARS)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key, value in (("max_length", crypto.BLIND_INDEX_CHARS), ("editable", False), ("blank", True)):
            if kwargs.get(key) == value:
                kwargs.pop(key)
        if kwargs.get("default") == "":
            kwargs.pop("default")
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = getattr(model_instance, self.source)
        if value:
            setattr(model_instance, self.attname, crypto.blind_index(value))
        return getattr(model_instance, self.attname)


class EncryptedJSONField(EncryptedTextField):
    """JSON (a dict, list, string or number) stored encrypted: serialised, then encrypted. Not queryable."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        return None if value is None else json.loads(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        return value

    def db_plaintext(self, value: Any, connection: Any) -> Any:
        if value is None or hasattr(value, "as_sql"):
            return value
        return json.dumps(value, cls=DjangoJSONEncoder)  # never empty: "" is stored as '""'
