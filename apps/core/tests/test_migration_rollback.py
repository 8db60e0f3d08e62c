"""docs/deployment.md's rule for rolling back a migration: every operation of the project's migrations can be
reversed by Django (data migrations give their reverse), or the migration's docstring says that it cannot be undone
and how to go back instead."""

import sys

from django.db.migrations.loader import MigrationLoader


def test_every_migration_can_be_undone_or_says_it_cannot():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    silent = []
    for (app, name), migration in loader.disk_migrations.items():
        module = type(migration).__module__
        if not module.startswith("apps.") or all(operation.reversible for operation in migration.operations):
            continue
        if "cannot be undone" not in (sys.modules[module].__doc__ or ""):
            silent.append(f"{app}.{name}")
    assert not silent, f"irreversible without saying so: {silent}"
