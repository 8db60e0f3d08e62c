"""Re-encrypt every encrypted column under the current key (the first of FIELD_ENCRYPTION_KEYS), in batches.

Run after putting a new key first in FIELD_ENCRYPTION_KEYS on every process; the old key stays listed until this
has finished (values under it are read meanwhile), then it can be removed. Safe to stop and run again: rows
already under the current key are skipped.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.core import crypto
from apps.core.encrypted_rows import models_with_encrypted_fields, reencrypt_batches


class Command(BaseCommand):
    help = "Re-encrypt encrypted columns under the current key, in batches (key rotation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows read (and locked) per transaction.")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        current = crypto.current_key_id()
        for model in models_with_encrypted_fields():
            rewritten = sum(reencrypt_batches(model, batch_size=batch_size))
            self.stdout.write(f"{model._meta.label}: {rewritten} row(s) re-encrypted under key {current!r}")
