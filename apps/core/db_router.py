"""Primary/replica routing with read-your-writes.

Reads go to a replica (chosen at random) unless this request or task has already written, or a transaction is
open on the primary: then they go to the primary, so a client never misses its own write to replication lag.
Writes and migrations always go to the primary. The request middleware and Celery's task_prerun reset the flag.
"""

import random
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from apps.core.context import wrote_to_primary_var


class PrimaryReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str:
        replicas = settings.DATABASE_REPLICAS
        if not replicas or wrote_to_primary_var.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return random.choice(replicas)

    def db_for_write(self, model: type, **hints: Any) -> str:
        wrote_to_primary_var.set(True)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # Replicas hold the same data as the primary, so objects from either may be related.
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
