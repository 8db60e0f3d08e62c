"""Development: the embedded default (SQLite, shared file cache, SQLite broker), readable logs, demo data allowed."""

from peerpower.settings.base import *  # noqa: F403
from peerpower.settings.base import CELERY_BEAT_SCHEDULE, CHAIN_BEAT_SCHEDULE, LOGGING, REST_FRAMEWORK, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="development-only-insecure-key-never-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOGGING["handlers"]["stdout"]["formatter"] = LOG_FORMAT
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
    "rest_framework.renderers.JSONRenderer",
    "rest_framework.renderers.BrowsableAPIRenderer",
]
# The demo superuser command refuses to run outside development.
DEMO_DATA_ALLOWED = True
# Development keys say so, so they are never mistaken for production ones.
API_KEY_PREFIX = env("API_KEY_PREFIX", default="pp_test_")
# No Firebase account needed: pushes are only logged, except under `scripts/run` (`manage.py runstack`), which runs
# the local FCM fake and points web and worker at it (PUSH_BACKEND=fcm, FCM_ENDPOINT, ...) for pushes over the wire.
PUSH_BACKEND = env("PUSH_BACKEND", default="log")
# The local demo's phones are nobody's graded providers: one-time codes go to any of them (production: 50).
PROVIDER_CODE_MIN_TRUST_LEVEL = env.int("PROVIDER_CODE_MIN_TRUST_LEVEL", default=0)
# The local demo's webhook receivers run on this machine, over plain http.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=True)
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=False)
# Top-ups go to the local Baray fake that `scripts/run` starts (`manage.py baray_fake`), with development-only keys.
BARAY_API_URL = env("BARAY_API_URL", default="http://127.0.0.1:9098")
BARAY_CHECKOUT_URL = env("BARAY_CHECKOUT_URL", default="http://127.0.0.1:9098/checkout")
BARAY_API_KEY = env("BARAY_API_KEY", default="pk_dev_peerpower-local")
BARAY_SECRET_KEY = env("BARAY_SECRET_KEY", default="ZGV2ZWxvcG1lbnQtb25seS1iYXJheS1zZWNyZXQta2U=")
BARAY_IV = env("BARAY_IV", default="ZGV2ZWxvcG1lbnQtaXZ2IQ==")
# Payouts go to the local airtime and PayWay fakes that `scripts/run` starts, with development-only credentials.
AIRTIME_API_URL = env("AIRTIME_API_URL", default="http://127.0.0.1:9096")
AIRTIME_AUTH_URL = env("AIRTIME_AUTH_URL", default="http://127.0.0.1:9096")
AIRTIME_CLIENT_ID = env("AIRTIME_CLIENT_ID", default="dev-peerpower-airtime")
AIRTIME_CLIENT_SECRET = env("AIRTIME_CLIENT_SECRET", default="dev-airtime-secret")
PAYWAY_API_URL = env("PAYWAY_API_URL", default="http://127.0.0.1:9097")
PAYWAY_MERCHANT_ID = env("PAYWAY_MERCHANT_ID", default="ec_dev_peerpower")
PAYWAY_API_KEY = env("PAYWAY_API_KEY", default="dev-payway-api-key")
AIRTIME_CALLBACK_URL = env("AIRTIME_CALLBACK_URL", default="http://127.0.0.1:8000/api/payouts/callbacks/airtime")

# Encryption at rest with development-only keys (key ids starting with "dev" are refused in production).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=["dev1=ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtMDE="])
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default="development-only-blind-index-key")

# PPT on a local development chain that `scripts/run` starts (`manage.py chain_node`, chain id 1953 like Selendra's
# testnet). The hot wallet is the node's first pre-funded account (private key 0x…01: public knowledge, worthless
# anywhere else), and the token contract is deployed on first use. CHAIN_RPC_URL= (empty) turns the chain off.
CHAIN_RPC_URL = env("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
CHAIN_ID = env.int("CHAIN_ID", default=1953)
CHAIN_HOT_WALLET_KEY = env("CHAIN_HOT_WALLET_KEY", default="0x" + "00" * 31 + "01")
CHAIN_DEPLOY_IF_MISSING = env.bool("CHAIN_DEPLOY_IF_MISSING", default=True)
if CHAIN_RPC_URL:
    CELERY_BEAT_SCHEDULE.update(CHAIN_BEAT_SCHEDULE)
