"""Production: secrets and hosts are required, HTTPS everywhere, JSON logs.

`manage.py check --deploy` passes with no warnings under these settings.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from peerpower.settings import base
from peerpower.settings.base import *  # noqa: F403
from peerpower.settings.base import (
    CELERY_BROKER_URL,
    CELERY_RESULT_BACKEND,
    CHAIN_HOT_WALLET_KEY,
    CHAIN_HOT_WALLET_KEY_FILE,
    CHAIN_RPC_URL,
    DATABASES,
    PUSH_BACKEND,
    env,
)
from peerpower.settings.safety import (
    NON_PRODUCTION_KEY_ID_PREFIXES,
    literal_secrets,
    plaintext_databases,
    plaintext_redis,
)


def required(name: str) -> str:
    """A production secret or address: no default, and an empty value counts as missing."""
    value = env(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable (production settings have no default).")
    return value


DEBUG = False
SECRET_KEY = required("SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in required("ALLOWED_HOSTS").split(",") if host.strip()]
# Rate limits, locks and the broker need a store every machine shares.
REDIS_URL = required("REDIS_URL")
# The console sender writes codes to the log: production must name a real one.
OTP_SENDER = required("OTP_SENDER")
if OTP_SENDER == "console":
    raise ImproperlyConfigured("OTP_SENDER=console writes codes to the log; choose a real sender in production.")
OTP_FALLBACK_SENDER = env("OTP_FALLBACK_SENDER", default="")
if OTP_FALLBACK_SENDER == "console":
    raise ImproperlyConfigured("OTP_FALLBACK_SENDER=console writes codes to the log; choose a real sender.")
# Jobs must reach phones: the log backend only writes pushes to the log.
if PUSH_BACKEND == "log":
    raise ImproperlyConfigured("PUSH_BACKEND=log only logs pushes; use fcm (or a real backend) in production.")
if PUSH_BACKEND == "fcm":
    FCM_CREDENTIALS_FILE = required("FCM_CREDENTIALS_FILE")
# Top-ups: Baray's merchant keys.
BARAY_API_KEY = required("BARAY_API_KEY")
BARAY_SECRET_KEY = required("BARAY_SECRET_KEY")
BARAY_IV = required("BARAY_IV")
# Payouts: the airtime aggregator's client credentials and PayWay's merchant id and key (checked by incentives.E001).
AIRTIME_CLIENT_ID = required("AIRTIME_CLIENT_ID")
AIRTIME_CLIENT_SECRET = required("AIRTIME_CLIENT_SECRET")
PAYWAY_MERCHANT_ID = required("PAYWAY_MERCHANT_ID")
PAYWAY_API_KEY = required("PAYWAY_API_KEY")
PAYOUTS_REQUIRE_REAL_CREDENTIALS = True
# Encryption at rest: real keys, never the development or test ones.
FIELD_ENCRYPTION_KEYS = [key for key in required("FIELD_ENCRYPTION_KEYS").split(",") if key.strip()]
if any(key.strip().startswith(NON_PRODUCTION_KEY_ID_PREFIXES) for key in FIELD_ENCRYPTION_KEYS):
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a development or test key id (dev…, test…).")
BLIND_INDEX_KEY = required("BLIND_INDEX_KEY")
if len(BLIND_INDEX_KEY) < 32:
    raise ImproperlyConfigured("BLIND_INDEX_KEY must be at least 32 characters of random data.")
# With the chain on, the hot wallet and the contract must be named: no development key, no deployment on first use.
CHAIN_DEPLOY_IF_MISSING = False
if CHAIN_RPC_URL:
    if not (CHAIN_HOT_WALLET_KEY or CHAIN_HOT_WALLET_KEY_FILE):
        raise ImproperlyConfigured(
            "Set CHAIN_HOT_WALLET_KEY_FILE (or CHAIN_HOT_WALLET_KEY): production has no default."
        )
    CHAIN_TOKEN_ADDRESS = required("CHAIN_TOKEN_ADDRESS")

# Staff sign in to the admin with their password and a TOTP code (django-otp); lockouts after failures (django-axes).
ADMIN_OTP_REQUIRED = env.bool("ADMIN_OTP_REQUIRED", default=True)
# TLS ends at the load balancer, which tells us the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# /health is probed over plain HTTP by the container runtime and load balancer.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DEMO_DATA_ALLOWED = False

# In transit: the database and Redis, when on another machine, are reached over TLS only.
_plaintext = plaintext_databases(DATABASES) + plaintext_redis(
    {"REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": CELERY_BROKER_URL, "CELERY_RESULT_BACKEND": CELERY_RESULT_BACKEND}
)
if _plaintext:
    raise ImproperlyConfigured("Production requires TLS to remote stores:\n" + "\n".join(_plaintext))
# Secrets come from the environment (or files it names), never from the settings files production loads.
_written = literal_secrets([Path(base.__file__), Path(__file__)])
if _written:
    raise ImproperlyConfigured("Secrets must come from the environment, not settings files:\n" + "\n".join(_written))
