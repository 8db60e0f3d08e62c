"""/health and /ready, and wait_for_services, against real and unreachable dependencies."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import override_settings

READY_IN_SUBPROCESS = (
    "import django, json; django.setup(); from django.test import Client;"
    "r = Client().get('/ready'); print('RESULT', r.status_code, r.content.decode())"
)


def test_health_is_ok_without_io(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_every_check(client):
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database:default", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_ready_names_unreachable_primary_database(run_python, closed_port):
    result = run_python(
        "-c", READY_IN_SUBPROCESS, env={"DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port}/peerpower"}
    )
    assert result.returncode == 0, result.stderr
    assert "RESULT " in result.stdout, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    _, status, body = line.split(" ", 2)
    body = json.loads(body)
    assert status == "503"
    assert body["failed"] == ["database:default"]
    assert body["checks"]["database:default"]["ok"] is False
    assert "OperationalError" in body["checks"]["database:default"]["error"]


def close_connection_and_pool(connection):
    # On PostgreSQL a pool keeps the settings it was opened with; drop it so the next connection uses new ones.
    connection.close()
    if connection.settings_dict.get("OPTIONS", {}).get("pool"):
        connection.close_pool()


@pytest.mark.django_db(databases=["default", "replica_test"], transaction=True)
def test_ready_names_unreachable_replica(client, closed_port):
    replica = connections["replica_test"]
    saved = dict(replica.settings_dict)
    close_connection_and_pool(replica)
    if replica.vendor == "sqlite":
        replica.settings_dict["NAME"] = "/nonexistent-directory/replica.sqlite3"
    else:
        replica.settings_dict["PORT"] = closed_port
    try:
        with override_settings(DATABASE_REPLICAS=["replica_test"]):
            response = client.get("/ready")
    finally:
        close_connection_and_pool(replica)
        replica.settings_dict.clear()
        replica.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["failed"] == ["database:replica_test"]


@pytest.mark.django_db
def test_ready_names_unreachable_redis(client, closed_port):
    broken_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    with override_settings(CACHES=broken_cache, CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/1"):
        response = client.get("/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["cache", "broker"]
    assert "ConnectionError" in body["checks"]["cache"]["error"]


@pytest.mark.django_db
def test_wait_for_services_succeeds_when_everything_answers(capsys):
    call_command("wait_for_services", "--timeout", "10")
    output = capsys.readouterr().out
    assert "database:default: ready" in output
    assert "broker: ready" in output


@pytest.mark.django_db
def test_wait_for_services_backs_off_then_gives_up(capsys, closed_port):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/1"):
        with pytest.raises(CommandError, match=r"broker is still unavailable after 1\.5s"):
            call_command("wait_for_services", "--timeout", "1.5", "--initial-delay", "0.2")
    waits = [line for line in capsys.readouterr().out.splitlines() if line.startswith("waiting for broker")]
    assert len(waits) >= 2
    assert "next try in 0.2s" in waits[0]
    assert "next try in 0.4s" in waits[1]  # the delay doubles
