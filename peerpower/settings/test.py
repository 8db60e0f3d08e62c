"""Tests: the same stores as the mode under test (SQLite or PostgreSQL by DATABASE_URL, Redis by REDIS_URL), with
fast password hashing and files kept apart from a developer's own `var/`."""

from peerpower.settings.base import *  # noqa: F403
from peerpower.settings.base import CACHES, DATABASES, LOGGING, REDIS_URL, VAR_DIR, env

DEBUG = False
SECRET_KEY = "test-only-secret-key-with-enough-length-and-characters-0123456789"  # noqa: S105 - test settings only
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOG_FORMAT = "console"

TEST_VAR_DIR = VAR_DIR / "test"
TEST_VAR_DIR.mkdir(parents=True, exist_ok=True)
if not REDIS_URL:
    CACHES["default"]["LOCATION"] = str(TEST_VAR_DIR / "cache")
CELERY_BROKER_URL = (
    env("CELERY_BROKER_URL", default="") or REDIS_URL or f"sqla+sqlite:///{TEST_VAR_DIR / 'broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = (
    env("CELERY_RESULT_BACKEND", default="") or REDIS_URL or f"db+sqlite:///{TEST_VAR_DIR / 'results.sqlite3'}"
)
# A second alias on the same database, so the replica router can be exercised without a replica server.
DATABASES["replica_test"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
DEMO_DATA_ALLOWED = True
LOGGING["handlers"]["stdout"]["formatter"] = LOG_FORMAT
# Tests do not run collectstatic, so there is no manifest to look hashed names up in.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Sent codes are kept in apps.accounts.otp.MemoryOtpSender.outbox, where tests read them.
OTP_SENDER = "memory"
OTP_FALLBACK_SENDER = "memory"
# Tests send to runs of made-up neighbouring numbers: the pumping rule's own tests lower this again.
MESSAGE_PUMPING_ADJACENT = 10_000
# Test messages are often codes ("Your code is 1234") sent to providers nobody graded: any phone may carry them, as
# in development. The route's own tests (apps/messaging/tests/test_trusted_route.py) use the production default.
PROVIDER_CODE_MIN_TRUST_LEVEL = 0
# Tests that push choose a backend themselves (the FCM ones point firebase-admin at the local fake).
PUSH_BACKEND = "log"
# Webhook tests post to a receiver on 127.0.0.1 over plain http; the SSRF tests switch the guard back on.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
WEBHOOK_REQUIRE_HTTPS = False
# Top-up tests point the Baray client at the local fake (apps/payments/tests/conftest.py); these are its keys.
BARAY_API_URL = "http://127.0.0.1:9"  # nothing listens: a test that forgets the fake fails loudly
BARAY_API_KEY = "pk_dev_peerpower-test"
BARAY_SECRET_KEY = "dGVzdC1vbmx5LWJhcmF5LXNlY3JldC1rZXktMzItYnk="  # noqa: S105 - test-only key
BARAY_IV = "dGVzdC1vbmx5LWl2LTE2Yg=="
BARAY_TIMEOUT_SECONDS = 2.0
# Deliveries settle inside the reporting request, right after its commit: tests read rewards, captures and reputation
# right after a report. The settle task and its signal have their own tests (apps/delivery/tests/test_settling.py).
DELIVERY_SETTLE_LINGER_MS = -1
# Every test's rows roll back: prices and ledger account ids are read each time, never remembered across tests.
BILLING_CACHE_SECONDS = 0
# Hourly figures written at each commit, so a test reads them at once (test_rollup covers the batched flush).
ROLLUP_FLUSH_SECONDS = 0
# A conversion recorded in one test must not be remembered as absent from another test's send.
MESSAGE_PUMPING_LOCAL_CACHE_SECONDS = 0
# A snapshot read in one test must not be reused by the next (test_admission covers the per-process reuse).
ADMISSION_LOCAL_CACHE_SECONDS = 0
# Payout tests point the airtime and PayWay clients at the local fakes (apps/incentives/tests/conftest.py).
AIRTIME_API_URL = AIRTIME_AUTH_URL = "http://127.0.0.1:9"
AIRTIME_CLIENT_ID = "test-airtime-client"
AIRTIME_CLIENT_SECRET = "test-airtime-secret"  # noqa: S105 - test-only
AIRTIME_TIMEOUT_SECONDS = 2.0
PAYWAY_API_URL = "http://127.0.0.1:9"
PAYWAY_MERCHANT_ID = "ec_test_peerpower"
PAYWAY_API_KEY = "test-payway-api-key"
PAYWAY_TIMEOUT_SECONDS = 2.0
# New organisations are approved on creation, so other features' tests can send; the vetting tests turn it on.
CLIENT_VETTING_REQUIRED = False
# Encryption at rest with test-only keys (key ids starting with "test" are refused in production).
FIELD_ENCRYPTION_KEYS = ["test1=dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDE="]
BLIND_INDEX_KEY = "test-only-blind-index-key"
