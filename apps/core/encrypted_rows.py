"""Rewriting encrypted columns in bounded batches: the migrations that encrypt existing rows, and key rotation
(`manage.py encryption_rotate`). Each batch is its own short transaction, so the site keeps running beside it; a
row is rewritten only if a column of it is plain text or under another key than the current one, so a run that
stopped half-way is simply started again."""

from collections.abc import Iterator

from django.apps import apps as global_apps
from django.db import connections, models, router, transaction

from apps.core import crypto
from apps.core.fields import BlindIndexField, EncryptedMixin


def encrypted_fields(model: type[models.Model]) -> list[models.Field]:
    return [field for field in model._meta.concrete_fields if isinstance(field, EncryptedMixin)]


def blind_index_fields(model: type[models.Model]) -> list[BlindIndexField]:
    return [field for field in model._meta.concrete_fields if isinstance(field, BlindIndexField)]


def models_with_encrypted_fields(app_registry: object = global_apps) -> list[type[models.Model]]:
    """Every concrete model with an encrypted column (proxies share their table: left out)."""
    return [
        model
        for model in app_registry.get_models()
        if not model._meta.proxy and not model._meta.abstract and encrypted_fields(model)
    ]


def _stale(value: object, current: str) -> bool:
    if value is None or value == "":
        return False
    return not crypto.is_encrypted(value) or crypto.key_id_of(str(value)) != current


def _stale_pks(model: type[models.Model], after: object, batch_size: int) -> tuple[list, object]:
    """Primary keys of the next `batch_size` rows after `after` whose stored values need rewriting, and the last
    primary key looked at. Read raw, past the fields' decryption, to see the stored key id."""
    database = router.db_for_write(model)
    connection = connections[database]
    quote = connection.ops.quote_name
    columns = [field.column for field in encrypted_fields(model)]
    pk = model._meta.pk.column
    where = f"WHERE {quote(pk)} > %s " if after is not None else ""
    sql = (
        f"SELECT {quote(pk)}, {', '.join(quote(c) for c in columns)} FROM {quote(model._meta.db_table)} "  # noqa: S608
        f"{where}ORDER BY {quote(pk)} LIMIT %s"
    )
    current = crypto.current_key_id()
    with connection.cursor() as cursor:
        cursor.execute(sql, [after, batch_size] if after is not None else [batch_size])
        rows = cursor.fetchall()
    if not rows:
        return [], None
    return [row[0] for row in rows if any(_stale(value, current) for value in row[1:])], rows[-1][0]


def reencrypt_batches(model: type[models.Model], *, batch_size: int = 500) -> Iterator[int]:
    """Rewrite the model's encrypted columns under the current key (and its blind indexes from the plaintext), one
    batch at a time; yields how many rows each batch rewrote."""
    fields = encrypted_fields(model)
    indexes = blind_index_fields(model)
    names = [field.name for field in fields] + [field.name for field in indexes]
    after = None
    while True:
        pks, last = _stale_pks(model, after, batch_size)
        if last is None:
            return
        after = last
        if not pks:
            yield 0
            continue
        with transaction.atomic(using=router.db_for_write(model)):
            rows = list(model._base_manager.select_for_update().filter(pk__in=pks).only("pk", *names))
            for row in rows:
                for index in indexes:
                    source = getattr(row, index.source)
                    if source:
                        setattr(row, index.attname, crypto.blind_index(source))
            # bulk_update writes through get_db_prep_save: every value is encrypted again, under the current key.
            model._base_manager.bulk_update(rows, names)
        yield len(rows)


def encrypt_existing_rows(app_label: str, model_name: str):  # noqa: ANN201 - a RunPython callable
    """A migration's RunPython function that encrypts the rows written before the columns were encrypted."""

    def run(apps: object, schema_editor: object) -> None:
        model = apps.get_model(app_label, model_name)
        for _ in reencrypt_batches(model):
            pass

    return run


def decrypt_existing_rows(app_label: str, model_name: str, *, batch_size: int = 500):  # noqa: ANN201 - RunPython
    """The reverse of `encrypt_existing_rows`: writes the model's encrypted columns back as plain text, in batches
    (for a migration that is unapplied; the column types go back after it). Blind indexes are left as they are."""

    def run(apps: object, schema_editor: object) -> None:
        model = apps.get_model(app_label, model_name)
        connection = connections[router.db_for_write(model)]
        quote = connection.ops.quote_name
        table, pk = model._meta.db_table, model._meta.pk.column
        columns = [field.column for field in encrypted_fields(model)]
        select = f"SELECT {quote(pk)}, {', '.join(quote(c) for c in columns)} FROM {quote(table)} "  # noqa: S608
        after = None
        while True:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                where = f"WHERE {quote(pk)} > %s " if after is not None else ""
                cursor.execute(
                    f"{select}{where}ORDER BY {quote(pk)} LIMIT %s",
                    [*([after] if after is not None else []), batch_size],
                )
                rows = cursor.fetchall()
                if not rows:
                    return
                for row_pk, *values in rows:
                    for column, value in zip(columns, values, strict=True):
                        if crypto.is_encrypted(value):
                            plain = crypto.decrypt(value, context=f"{table}.{column}")
                            cursor.execute(
                                f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk)} = %s",  # noqa: S608
                                [plain, row_pk],
                            )
                after = rows[-1][0]

    return run
