"""Settings load in each mode; production refuses to start without its secrets and passes check --deploy."""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from apps.delivery.fcm_fake import write_service_account

STORES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
# Production pushes through FCM, whose service-account file the system checks read.
FCM_CREDENTIALS_FILE = Path(settings.TEST_VAR_DIR) / "production-fcm-service-account.json"
PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "api.peerpower.example",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "OTP_SENDER": "apps.accounts.otp.MemoryOtpSender",
    "FCM_CREDENTIALS_FILE": str(FCM_CREDENTIALS_FILE),
    "BARAY_API_KEY": "pk_prod_settings-test",
    "BARAY_SECRET_KEY": "c2V0dGluZ3MtdGVzdC1vbmx5LWtleS0zMi1ieXRlcyE=",
    "BARAY_IV": "c2V0dGluZ3MtdGVzdC1pdg==",
    "AIRTIME_CLIENT_ID": "settings-test-airtime",
    "AIRTIME_CLIENT_SECRET": "settings-test-airtime-secret",
    "PAYWAY_MERCHANT_ID": "ec_settings_test",
    "PAYWAY_API_KEY": "settings-test-payway-key",
    "FIELD_ENCRYPTION_KEYS": "k1=c2V0dGluZ3MtdGVzdC1vbmx5LWZpZWxkLWtleS0wMDE=",
    "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
}


# Each test gives the processes it starts the stores it means to test (none: the embedded default), whichever the
# test run itself uses: the outcome is the same in CI's SQLite and PostgreSQL runs, which run this module once.
pytestmark = pytest.mark.standalone


@pytest.fixture(autouse=True)
def _no_inherited_stores(monkeypatch) -> None:
    for name in STORES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True, scope="module")
def _fcm_credentials_file() -> None:
    write_service_account(
        FCM_CREDENTIALS_FILE, token_uri="https://oauth2.googleapis.com/token", project_id="peerpower-settings-test"
    )


@pytest.mark.parametrize(
    ("module", "env", "expected_debug"),
    [
        ("peerpower.settings.development", {}, "True"),
        ("peerpower.settings.test", {}, "False"),
        ("peerpower.settings.production", PRODUCTION_ENV, "False"),
    ],
)
def test_each_mode_loads(run_python, module, env, expected_debug):
    result = run_python(
        "-c",
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.DEBUG, settings.AUTH_USER_MODEL)",
        settings=module,
        env={"DEBUG": None, **env},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected_debug, "accounts.User"]


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "REDIS_URL",
        "OTP_SENDER",
        "FCM_CREDENTIALS_FILE",
        "BARAY_API_KEY",
        "BARAY_SECRET_KEY",
        "BARAY_IV",
        "AIRTIME_CLIENT_ID",
        "AIRTIME_CLIENT_SECRET",
        "PAYWAY_MERCHANT_ID",
        "PAYWAY_API_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
    ],
)
def test_production_requires_its_secrets(run_python, missing):
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != missing}
    result = run_python("manage.py", "check", settings="peerpower.settings.production", env={missing: None, **env})
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_production_refuses_the_console_otp_sender(run_python):
    result = run_python(
        "manage.py", "check", settings="peerpower.settings.production", env={**PRODUCTION_ENV, "OTP_SENDER": "console"}
    )
    assert result.returncode != 0
    assert "OTP_SENDER=console" in result.stderr


def test_production_refuses_the_log_push_backend(run_python):
    result = run_python(
        "manage.py", "check", settings="peerpower.settings.production", env={**PRODUCTION_ENV, "PUSH_BACKEND": "log"}
    )
    assert result.returncode != 0
    assert "PUSH_BACKEND=log" in result.stderr


def test_a_missing_fcm_credentials_file_fails_the_system_check(run_python, tmp_path):
    env = {**PRODUCTION_ENV, "FCM_CREDENTIALS_FILE": str(tmp_path / "not-there.json")}
    result = run_python("manage.py", "check", settings="peerpower.settings.production", env=env)
    assert result.returncode != 0
    assert "delivery.E002" in result.stderr


def test_an_unknown_otp_sender_fails_the_system_check(run_python):
    result = run_python(
        "manage.py",
        "check",
        settings="peerpower.settings.production",
        env={**PRODUCTION_ENV, "OTP_SENDER": "apps.nowhere.Sender"},
    )
    assert result.returncode != 0
    assert "accounts.E001" in result.stderr


def test_production_passes_check_deploy_without_warnings(run_python):
    result = run_python(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        settings="peerpower.settings.production",
        env=PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_settings_fail_check_deploy(run_python):
    # The check is real: the development settings (DEBUG, no HSTS) must not pass it.
    result = run_python(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", settings="peerpower.settings.development"
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout  # DEBUG in deployment


def test_database_url_selects_postgresql_with_pool(run_python):
    result = run_python(
        "-c",
        "import django; django.setup(); from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['ENGINE'], d['OPTIONS']['pool']['max_size'], d['CONN_HEALTH_CHECKS'], d['CONN_MAX_AGE'])",
        env={"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/peerpower", "DATABASE_POOL_MAX_SIZE": "7"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["apps.core.postgresql", "7", "True", "0"]


def test_replica_urls_add_replica_aliases(run_python):
    result = run_python(
        "-c",
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.DATABASE_REPLICAS, settings.DATABASES['replica_1']['HOST'])",
        env={"DATABASE_REPLICA_URLS": "postgres://u@replica-a:5432/pp,postgres://u@replica-b:5432/pp"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['replica_0', 'replica_1'] replica-b"


def test_without_redis_cache_and_broker_are_shared_files(run_python):
    result = run_python(
        "-c",
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.CACHES['default']['BACKEND'], settings.CELERY_BROKER_URL.split(':')[0])",
        env={"REDIS_URL": "", "CELERY_BROKER_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["apps.core.cache.SharedFileCache", "sqla+sqlite"]


def test_redis_url_configures_cache_and_broker(run_python):
    result = run_python(
        "-c",
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.CACHES['default']['BACKEND'], settings.CELERY_BROKER_URL)",
        env={"REDIS_URL": "redis://127.0.0.1:6379/3", "CELERY_BROKER_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["apps.core.cache.RedisCache", "redis://127.0.0.1:6379/3"]


SHOW_STORES = (
    "from django.conf import settings\n"
    "print(settings.VAR_DIR, settings.DATABASES['default']['NAME'], settings.CELERY_BROKER_URL, sep='\\n')\n"
)


@pytest.mark.parametrize(
    ("given", "database"),
    [
        # The README's simulator command: the runtime files, the database among them, go to the folder given.
        ({"PEERPOWER_VAR_DIR": "{tmp}/sim"}, "{tmp}/sim/db.sqlite3"),
        # A database given in the environment too is still used.
        ({"PEERPOWER_VAR_DIR": "{tmp}/sim", "DATABASE_URL": "sqlite:///{tmp}/other.sqlite3"}, "{tmp}/other.sqlite3"),
        # Without PEERPOWER_VAR_DIR in the environment, .env's stores apply (relative to the working folder).
        ({}, "var/db.sqlite3"),
    ],
)
def test_a_var_dir_given_in_the_environment_takes_the_stores_of_the_env_file_with_it(tmp_path, given, database):
    # A checkout whose .env was copied from .env.example, as the README says to do.
    project = tmp_path / "project"
    shutil.copytree(Path(settings.BASE_DIR) / "peerpower", project / "peerpower")
    shutil.copy(Path(settings.BASE_DIR) / ".env.example", project / ".env")
    env = {key: value for key, value in os.environ.items() if key not in STORES and key != "PEERPOWER_VAR_DIR"}
    env |= {key: value.format(tmp=tmp_path) for key, value in given.items()}
    env |= {"DJANGO_SETTINGS_MODULE": "peerpower.settings.development", "PYTHONPATH": str(project)}
    result = subprocess.run(
        [sys.executable, "-c", SHOW_STORES], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    var_dir, name, broker = result.stdout.split()
    assert str(name) == database.format(tmp=tmp_path)
    if given.get("PEERPOWER_VAR_DIR"):
        assert var_dir == f"{tmp_path}/sim"
        assert broker == f"sqla+sqlite:///{tmp_path}/sim/broker.sqlite3"  # not the .env's Redis, had it one


LOAD_SETTINGS = "import django; django.setup(); print('loaded')"


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        (
            {"DATABASE_URL": "postgres://pp:pw@db.internal:5432/pp"},
            "Database 'default' at db.internal is reached without TLS (sslmode=prefer)",
        ),
        (
            {"DATABASE_URL": "postgres://pp:pw@db.internal:5432/pp?sslmode=prefer"},
            "Database 'default' at db.internal is reached without TLS (sslmode=prefer)",
        ),
        (
            {"DATABASE_REPLICA_URLS": "postgres://pp:pw@replica.internal:5432/pp?sslmode=disable"},
            "Database 'replica_0' at replica.internal is reached without TLS (sslmode=disable)",
        ),
        ({"REDIS_URL": "redis://cache.internal:6379/0"}, "REDIS_URL reaches Redis at cache.internal without TLS"),
        (
            {"CELERY_BROKER_URL": "redis://broker.internal:6379/1"},
            "CELERY_BROKER_URL reaches Redis at broker.internal without TLS",
        ),
    ],
)
def test_production_refuses_plain_text_connections_to_other_machines(run_python, given, refusal):
    result = run_python("-c", LOAD_SETTINGS, settings="peerpower.settings.production", env={**PRODUCTION_ENV, **given})
    assert result.returncode != 0
    assert "Production requires TLS to remote stores" in result.stderr
    assert refusal in result.stderr


@pytest.mark.parametrize(
    "given",
    [
        {"DATABASE_URL": "postgres://pp:pw@db.internal:5432/pp?sslmode=verify-full"},
        {"DATABASE_URL": "postgres://pp:pw@db.internal:5432/pp?sslmode=require"},
        {"DATABASE_URL": "postgres://pp:pw@db.internal:5432/pp?sslmode=verify-ca"},
        {"DATABASE_URL": "postgres://pp@%2Fvar%2Frun%2Fpostgresql/pp"},  # a Unix socket
        {"REDIS_URL": "rediss://cache.internal:6380/0", "CELERY_BROKER_URL": "rediss://cache.internal:6380/1"},
        {"REDIS_URL": "redis://localhost:6379/0"},
    ],
)
def test_production_accepts_tls_and_local_connections(run_python, given):
    result = run_python("-c", LOAD_SETTINGS, settings="peerpower.settings.production", env={**PRODUCTION_ENV, **given})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ('BARAY_SECRET_KEY = "c2VjcmV0LXdyaXR0ZW4taW4tdGhlLWZpbGU="', "BARAY_SECRET_KEY is written in the file"),
        ('METRICS_TOKEN = env("METRICS_TOKEN", default="scrape-me")', "METRICS_TOKEN is written in the file"),
        ('CHAIN_HOT_WALLET_KEY = "0x" + "00" * 31 + "01"', "CHAIN_HOT_WALLET_KEY is written in the file"),
        ('ANALYTICS_URL = "postgres://reader:hunter2@analytics:5432/pp"', "a URL with a password"),
    ],
)
def test_production_refuses_secrets_written_in_its_settings_files(tmp_path, line, refusal):
    # A copy of the project's settings with one secret written into production.py.
    project = tmp_path / "project"
    shutil.copytree(Path(settings.BASE_DIR) / "peerpower", project / "peerpower")
    production = project / "peerpower" / "settings" / "production.py"
    production.write_text(production.read_text() + f"\n{line}\n")
    env = {key: value for key, value in os.environ.items() if key not in STORES} | PRODUCTION_ENV
    env |= {"DJANGO_SETTINGS_MODULE": "peerpower.settings.production", "PYTHONPATH": str(project)}
    result = subprocess.run(
        [sys.executable, "-c", "import peerpower.settings.production"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Secrets must come from the environment, not settings files" in result.stderr
    assert f"production.py:{len(production.read_text().splitlines())}: {refusal}" in result.stderr


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        (
            {"FIELD_ENCRYPTION_KEYS": "dev1=ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtMDE="},
            "FIELD_ENCRYPTION_KEYS holds a development or test key id",
        ),
        ({"BLIND_INDEX_KEY": "short"}, "BLIND_INDEX_KEY must be at least 32 characters"),
    ],
)
def test_production_refuses_non_production_encryption_keys(run_python, given, refusal):
    result = run_python("-c", LOAD_SETTINGS, settings="peerpower.settings.production", env={**PRODUCTION_ENV, **given})
    assert result.returncode != 0
    assert refusal in result.stderr
