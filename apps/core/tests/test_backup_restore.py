"""The restore drill: a populated database backed up with scripts/backup and restored with scripts/restore into a
new database holds every row, and its ledger passes `ledger_check`. A damaged backup is refused.

Runs on PostgreSQL only (the scripts use pg_dump / pg_restore); CI's PostgreSQL pass runs it.
"""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from apps.accounts.services import api_key_create, client_create
from apps.accounts.tests.factories import UserFactory
from apps.messaging.services import MessageInput, message_submit
from apps.providers.tests.factories import ProviderFactory
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

pytestmark = [
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="backups are pg_dump archives"
    ),
    pytest.mark.django_db(transaction=True),
]
ROOT = Path(settings.BASE_DIR)


def database_url(name: str) -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{quote(db['USER'], safe='')}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def server() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        autocommit=True,
    )


def row_counts(name: str) -> dict[str, int]:
    with psycopg.connect(database_url(name).replace("postgres://", "postgresql://", 1)) as conn:
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}  # noqa: S608


def run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def backup_env(tmp_path) -> dict[str, str]:
    key_file = tmp_path / "backup.key"
    key_file.write_text("drill passphrase, not a production one\n")
    return {
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "BACKUP_KEY_FILE": str(key_file),
        "BACKUP_DIR": str(tmp_path / "backups"),
    }


@pytest.fixture
def restored_name() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restored"
    with server() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield name
    with server() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate() -> None:
    """Two client organisations with messages, a provider, and ledger transfers of each kind."""
    issuance = platform_account(PlatformAccount.ISSUANCE)
    revenue = platform_account(PlatformAccount.REVENUE)
    provider_account = account_open(provider=ProviderFactory())
    for index, name in enumerate(("Acme Bank", "Mekong Telecom")):
        organization = client_create(user=UserFactory(), name=name)
        key, _ = api_key_create(organization=organization, actor=None, name="server")
        for number in range(3):
            message_submit(
                organization=organization,
                api_key=key,
                data=MessageInput(to=f"012 345 6{index}{number}", body=f"Your {name} code is 48291{number}"),
            )
        account = account_open(organization=organization)
        spec = TransferSpec
        results = transfers_create(
            [
                spec(f"top-up:drill:{index}", 5_000_000, issuance.pk, account.pk, reason=Reason.TOP_UP),
                spec(f"hold:drill:{index}", 1_000_000, account.pk, revenue.pk, pending=True),
                spec(f"post:drill:{index}", 600_000, post_pending_id=f"hold:drill:{index}"),
                spec(f"reward:drill:{index}", 400_000, revenue.pk, provider_account.pk),
            ]
        )
        assert results == ["ok"] * 4


def test_a_backup_restores_into_a_new_database_with_every_row_and_a_sound_ledger(backup_env, restored_name, run_python):
    populate()
    source = row_counts(connection.settings_dict["NAME"])
    assert source["messaging_message"] == 6 and source["tokens_transfer"] >= 8

    backup = run("backup", env=backup_env)
    assert backup.returncode == 0, backup.stderr
    archive = Path(backup.stdout.strip().splitlines()[-1])
    assert Path(f"{archive}.sha256").exists()
    assert b"Acme Bank" not in archive.read_bytes()  # encrypted, not just compressed

    restore = run("restore", str(archive), restored_name, env=backup_env)
    assert restore.returncode == 0, restore.stderr
    assert row_counts(restored_name) == source

    check = run_python("manage.py", "ledger_check", env={"DATABASE_URL": database_url(restored_name)})
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ledger sound" in check.stdout

    # The restored database now holds tables: restoring over it again needs --force.
    again = run("restore", str(archive), restored_name, env=backup_env)
    assert again.returncode == 4
    assert "refusing to overwrite" in again.stderr


def test_rotation_keeps_the_newest_backup_and_a_damaged_or_wrongly_keyed_one_restores_nothing(
    backup_env, restored_name
):
    def exists(name: str) -> bool:
        with server() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None

    archives = []
    for _ in range(2):
        result = run("backup", env={**backup_env, "BACKUP_KEEP": "1"})
        assert result.returncode == 0, result.stderr
        archives.append(Path(result.stdout.strip().splitlines()[-1]))
    kept = sorted(path.name for path in Path(backup_env["BACKUP_DIR"]).iterdir())
    assert kept == [archives[1].name, f"{archives[1].name}.sha256"]

    wrong_key = run(
        "restore", str(archives[1]), restored_name, env={**backup_env, "BACKUP_KEY_FILE": "", "BACKUP_KEY": "another"}
    )
    assert wrong_key.returncode != 0
    assert not exists(restored_name)  # the database made for it is dropped again

    data = bytearray(archives[1].read_bytes())
    data[len(data) // 2] ^= 0x01
    archives[1].write_bytes(bytes(data))
    tampered = run("restore", str(archives[1]), restored_name, env=backup_env)
    assert tampered.returncode == 3
    assert "checksum mismatch" in tampered.stderr
    assert not exists(restored_name)
