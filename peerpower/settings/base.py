"""PeerPower settings shared by every mode.

Every value comes from the environment (12-factor) through django-environ; `.env.example` documents each variable.
A `.env` file in the project root is read when present (development convenience, never committed).
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
_GIVEN = frozenset(os.environ)  # what the shell (or process manager) set, before .env fills in the rest
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# A PEERPOWER_VAR_DIR given in the environment asks for a separate set of runtime files (a simulator run, a second
# stack): the stores a .env names would be the development ones, so they are dropped and the embedded default's
# files under that folder are used, unless the environment names its own stores too.
if "PEERPOWER_VAR_DIR" in _GIVEN:
    for _store in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        if _store not in _GIVEN:
            os.environ.pop(_store, None)
# An empty PROMETHEUS_MULTIPROC_DIR (as .env.example has it) must mean "off": prometheus_client only checks whether
# the variable exists, and would write its files into the current folder.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

# Runtime files of the embedded default (SQLite database, cache, broker); git-ignored.
VAR_DIR = Path(env("PEERPOWER_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin with a TOTP second factor for staff when ADMIN_OTP_REQUIRED (apps.accounts.admin_site).
    "apps.accounts.admin_config.PeerPowerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.accounts.admin_config.CeleryBeatConfig",  # django_celery_beat, its admin's columns translated
    "django_otp",
    "apps.accounts.admin_config.OtpTotpConfig",  # django_otp.plugins.otp_totp, with a translated name
    "apps.accounts.admin_config.AxesConfig",  # axes, with a translated name
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.providers",
    "apps.messaging",
    "apps.delivery",
    "apps.payments",
    "apps.tokens",
    "apps.incentives",
    "apps.simulator",
    "apps.backoffice",
]

MIDDLEWARE = [
    # First: an API request authenticated by a header, without cookies, goes on through this list less the cookie
    # and admin middleware (apps.core.api_stack).
    "apps.core.api_stack.ApiStackMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "apps.core.middleware.MetricsMiddleware",
    "apps.core.middleware.RefuseNulMiddleware",
    "apps.core.outage.OutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: answers a locked-out admin login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "peerpower.urls"
# API views are CSRF-exempt (token authentication); anything else under /api/ fails CSRF in the API's JSON shape.
CSRF_FAILURE_VIEW = "apps.core.views.csrf_failure"
WSGI_APPLICATION = "peerpower.wsgi.application"
ASGI_APPLICATION = "peerpower.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",  # LANGUAGES for the admin's language switcher
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=2)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
# Seconds to wait for a pooled connection before failing (and /ready reporting the database down).
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=5.0)
# Seconds a pooled connection may go unused and still be handed out without a round trip to check it (apps.core.
# postgresql: one whose server closed it is checked and replaced sooner, as its socket reads ready); 0 checks each time.
DATABASE_POOL_CHECK_IDLE_SECONDS = env.float("DATABASE_POOL_CHECK_IDLE_SECONDS", default=2.0)
# PostgreSQL: the hottest statements (a send's INSERT and PPT hold) prepared once per connection (apps.core.prepared);
# false behind a pooler that cannot keep prepared statements (docs/deployment.md).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)


def _tune_database(config: dict) -> dict:
    """PostgreSQL: psycopg 3 with Django's connection pool; SQLite: WAL and a busy timeout for several processes."""
    config.setdefault("OPTIONS", {})
    config["CONN_HEALTH_CHECKS"] = True
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a pool that checks a connection at checkout only when it may be stale.
        config["ENGINE"] = "apps.core.postgresql"
        # The pool replaces persistent connections (Django refuses CONN_MAX_AGE with a pool).
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"].setdefault("connect_timeout", 5)
        if DATABASE_POOL_MAX_SIZE > 0:
            config["OPTIONS"]["pool"] = {
                "min_size": DATABASE_POOL_MIN_SIZE,
                "max_size": DATABASE_POOL_MAX_SIZE,
                "timeout": DATABASE_POOL_TIMEOUT,
            }
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        # Web, worker and beat share one file: WAL lets readers run beside the writer, IMMEDIATE avoids
        # lock-upgrade deadlocks, and the busy timeout waits for the writer instead of failing.
        config["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
        config["OPTIONS"].setdefault("timeout", 20)
        config["OPTIONS"].setdefault(
            "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        )
    return config


_tune_database(DATABASES["default"])

# Read replicas: reads go to a replica unless the request or task has written (see apps.core.db_router).
DATABASE_REPLICAS: list[str] = []
for _index, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[])):
    _alias = f"replica_{_index}"
    DATABASES[_alias] = _tune_database(env.db_url_config(_url))
    DATABASES[_alias]["TEST"] = {"MIRROR": "default"}
    DATABASE_REPLICAS.append(_alias)
DATABASE_ROUTERS = ["apps.core.db_router.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, rate limits, locks ----------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "apps.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="pp"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # Without Redis the cache must still be shared by every process on the machine (web workers, Celery), or rate
    # limits would not hold: files on disk, with add/incr made atomic by a file lock.
    CACHES = {
        "default": {
            "BACKEND": "apps.core.cache.SharedFileCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="pp"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
# The services' rate limits (apps.core.ratelimit) count in the default cache, in one round trip per check.

# Number of reverse proxies in front of the web process whose X-Forwarded-For entries are trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Auth -------------------------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Phone numbers: parsed in this region when typed without a country code; accepted only from these regions.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="KH")
PHONE_ALLOWED_REGIONS = env.list("PHONE_ALLOWED_REGIONS", default=["KH"])

# --- Internationalisation --------------------------------------------------------------------------------------------
LANGUAGE_CODE = "km"
LANGUAGES = [("km", "ខ្មែរ"), ("en", "English")]
# The project's own catalogue first (makemessages writes it, and it wins where both translate a string), then the
# Khmer for Django's own admin, auth and form strings that Django's bundled `km` catalogue lacks or words differently
# (docs/backoffice.md, "Khmer for Django's own strings"). Kept apart because makemessages --no-obsolete would drop
# from locale/ every entry not found in our sources.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_django"]
USE_I18N = True
# Khmer dates and numbers as Cambodians write them (peerpower/formats/km/formats.py), over Django's `km` formats.
FORMAT_MODULE_PATH = ["peerpower.formats"]
USE_TZ = True
# Stored in UTC; shown and windowed (caps, daily limits) in Cambodian time.
TIME_ZONE = env("TIME_ZONE", default="Asia/Phnom_Penh")

# --- Static files ----------------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from it; collectstatic fills it
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- API --------------------------------------------------------------------------------------------------------------
# Per-endpoint limits of the API (apps.core.throttling; docs/rate-limits.md), per signed-in user, API client or, for
# anonymous endpoints, IP address: the phone protocol's are far above what a busy phone sends (a SIM may send at most a
# few hundred SMS an hour), the management endpoints' far above what a person or script needs.
API_RATE_LIMITS = {
    "heartbeat": env("RATE_LIMIT_HEARTBEAT", default="120/m"),
    "ack": env("RATE_LIMIT_ACK", default="1200/m"),
    "reports": env("RATE_LIMIT_REPORTS", default="1200/m"),
    "token_refresh": env("RATE_LIMIT_TOKEN_REFRESH", default="300/m"),
    "client_management": env("RATE_LIMIT_CLIENT_MANAGEMENT", default="60/m"),
    "api_key_management": env("RATE_LIMIT_API_KEY_MANAGEMENT", default="30/m"),
    "webhook_management": env("RATE_LIMIT_WEBHOOK_MANAGEMENT", default="60/m"),
}
# Admin login: django-axes locks a phone number + address out after this many failed logins, for this many minutes.
# Staff accounts need a TOTP second factor (django-otp) when ADMIN_OTP_REQUIRED: production turns it on.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Attempts are rows staff see (and clear, to unlock someone) under Axes in the admin.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# "012 345 678" and "+85512345678" are one account: lockouts count by the keyed hash of the number's E.164 form.
AXES_USERNAME_CALLABLE = "apps.accounts.admin_site.admin_login_username"
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
# A successful login's log would keep the login name (a staff member's phone number) in plain text: off; staff
# sign-ins are audited instead (apps.accounts.admin_site). Failed attempts are kept under the number's keyed hash.
AXES_DISABLE_ACCESS_LOG = True
# Its log lines describe the client with these masked (a staff member's phone number and address); say so here, for
# an upgrade of django-axes that changed its default would otherwise put them in the logs.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address"]
# No start-up banner: commands print their own output on stdout (lockouts are still logged as warnings).
AXES_VERBOSE = False
ADMIN_OTP_REQUIRED = env.bool("ADMIN_OTP_REQUIRED", default=False)
OTP_TOTP_ISSUER = "PeerPower"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.SessionJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.throttling.ScopedRateLimit"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Request bodies larger than this are refused (413 request_too_large) before they are read. A bulk send of
# MESSAGE_BULK_MAX (1,000) messages of ten Khmer segments each, as escaped JSON, is about 4 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# JSON bodies nesting arrays/objects deeper than this are refused (400 json_too_deep) before they are parsed.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
if env.bool("API_BROWSABLE", default=False):
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "PeerPower API",
    "DESCRIPTION": "Peer-to-peer SMS delivery for Cambodia: clients submit messages, provider phones deliver them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    # The schema and the docs are public, and stay so when a request carries a client's credentials: no
    # authentication runs on them (a client's `Authorization: Bearer pp_…` would otherwise be read as a bad JWT).
    "SERVE_AUTHENTICATION": [],
    # Path converters (apps.core.converters): a row id of at most 18 digits; a code typed from an SMS.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999},
        "code": {"type": "string", "pattern": "^[A-Za-z0-9 ]{1,32}$"},
    },
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.core.schema.fill_examples"],
    # Sections in the order a reader needs them: clients first, then provider phones, then accounts; internal last.
    "TAGS": [
        {
            "name": "messages",
            "description": "Send an SMS, follow it to delivery, cancel it. Authenticate with your API key.",
        },
        {"name": "bulk", "description": "Send up to 1,000 messages in one request; each succeeds or fails on its own."},
        {
            "name": "webhooks",
            "description": "Endpoints that receive signed delivery events, and the secrets that sign them.",
        },
        {
            "name": "verify",
            "description": "Public: whoever received an SMS with a verification code can check who sent it.",
        },
        {
            "name": "wallet",
            "description": "PPT balances and history: a client organisation's, or a provider's earnings.",
        },
        {"name": "billing", "description": "Top up a client organisation's balance (Baray)."},
        {
            "name": "payouts",
            "description": "The provider app: cash out posted earnings as airtime or cash; history and limits.",
        },
        {
            "name": "providers",
            "description": "The provider app: registration, SIMs, the phone's push token, availability, heartbeat.",
        },
        {
            "name": "jobs",
            "description": "The provider app: jobs offered to this phone, acknowledging them and reading what to send.",
        },
        {
            "name": "reports",
            "description": "The provider app: signed reports of each job's outcome (sent, delivered, failed).",
        },
        {
            "name": "earnings",
            "description": "The provider app: earnings, rewards per job, route multipliers, score and leaderboard.",
        },
        {
            "name": "auth",
            "description": "Sign in with a one-time code sent by SMS; refresh and revoke device sessions.",
        },
        {
            "name": "profile",
            "description": "The signed-in person: name and language, their DID key and wallet address.",
        },
        {
            "name": "clients",
            "description": "Client organisations and their API keys (create a key here, then call the client API).",
        },
        {
            "name": "staff",
            "description": "Internal: the back office's figures as JSON for PeerPower staff's own tools.",
        },
        {
            "name": "audit",
            "description": "Internal: the network's own audit phones confirm the canary messages they receive.",
        },
    ],
}

# --- Messaging --------------------------------------------------------------------------------------------------------
# The longest message a client may send, in SMS segments (each one is priced, sent and rewarded).
MESSAGE_MAX_SEGMENTS = env.int("MESSAGE_MAX_SEGMENTS", default=10)
# Content filter: a message scoring at least the hold score waits for staff review; at least the reject score, it is
# refused. Term and rule weights are edited in the admin.
CONTENT_FILTER_HOLD_SCORE = env.int("CONTENT_FILTER_HOLD_SCORE", default=50)
CONTENT_FILTER_REJECT_SCORE = env.int("CONTENT_FILTER_REJECT_SCORE", default=100)
# Seconds a process trusts its compiled filter before looking in the shared cache for staff edits.
CONTENT_FILTER_RELOAD_SECONDS = env.float("CONTENT_FILTER_RELOAD_SECONDS", default=5.0)
# The statistical model (apps/messaging/filtering/data/spam_model.json) holds what the rules let through when it
# scores a message as spam. Off: the rules work alone (figures of both in benchmarks/RESULTS.md).
CONTENT_FILTER_CLASSIFIER = env.bool("CONTENT_FILTER_CLASSIFIER", default=True)
# Validity: a message not delivered this many seconds after it is due expires (default 1 hour, at most 72 hours).
MESSAGE_VALIDITY_DEFAULT_SECONDS = env.int("MESSAGE_VALIDITY_DEFAULT_SECONDS", default=3600)
MESSAGE_VALIDITY_MAX_SECONDS = env.int("MESSAGE_VALIDITY_MAX_SECONDS", default=72 * 3600)
# Client API key limits when the key sets none: requests per second and messages per day.
MESSAGE_RATE_PER_SECOND = env.int("MESSAGE_RATE_PER_SECOND", default=50)
MESSAGE_QUOTA_PER_DAY = env.int("MESSAGE_QUOTA_PER_DAY", default=100_000)
MESSAGE_BULK_MAX = env.int("MESSAGE_BULK_MAX", default=1000)
# Client vetting (docs/sandbox.md): a sandboxed organisation sends at most this many messages a day, to its members'
# own numbers. Limits of organisations without a staff plan: the highest per-key rate and quota are the two above.
# Off: new organisations are approved on creation (tests of other features; never in production).
CLIENT_VETTING_REQUIRED = env.bool("CLIENT_VETTING_REQUIRED", default=True)
CLIENT_SANDBOX_DAILY_CAP = env.int("CLIENT_SANDBOX_DAILY_CAP", default=20)
CLIENT_PLAN_DEFAULT_ORGANIZATION_PER_DAY = env.int("CLIENT_PLAN_DEFAULT_ORGANIZATION_PER_DAY", default=200_000)
CLIENT_PLAN_DEFAULT_MAX_API_KEYS = env.int("CLIENT_PLAN_DEFAULT_MAX_API_KEYS", default=5)
# Notices to clients (application decisions). The console backend prints them; production sets SMTP.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="PeerPower <no-reply@peerpower.app>")
# Verification codes appended to SMS of clients that opted in: the text added ({code} is replaced).
MESSAGE_VERIFICATION_SUFFIX = env("MESSAGE_VERIFICATION_SUFFIX", default="\nVerify: peerpower.app/v/{code}")
# Code checks per client IP (GET /api/verify/{code}), as a rate such as "30/m" (apps.core.ratelimit).
MESSAGE_VERIFY_RATE_PER_IP = env("MESSAGE_VERIFY_RATE_PER_IP", default="30/m")
# Idempotency keys are kept (and their first response replayed) for this many hours.
MESSAGE_IDEMPOTENCY_HOURS = env.int("MESSAGE_IDEMPOTENCY_HOURS", default=48)
# Seconds a process trusts the price table it read (staff edits apply within this), and whether it remembers ledger
# account ids (never deleted). 0: read every time (tests, whose rows roll back between tests).
BILLING_CACHE_SECONDS = env.float("BILLING_CACHE_SECONDS", default=5.0)
# Leases given to providers before a message is dead-lettered as failed.
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=3)
# No capacity: wait base * 2^tries seconds (with jitter), capped, then match again - until validity ends.
MESSAGE_DISPATCH_BACKOFF_BASE = env.float("MESSAGE_DISPATCH_BACKOFF_BASE", default=2.0)
MESSAGE_DISPATCH_BACKOFF_MAX = env.float("MESSAGE_DISPATCH_BACKOFF_MAX", default=300.0)
# Due messages one dispatcher takes per transaction of each priority (locked together, matched together, leased in
# one INSERT, pushed together; a priority whose batch is full goes on in a dispatcher of its own, on its own queue).
# The batch's match leaves one subtransaction per reservation round (usually one or two), so the batch size is no
# longer bounded by PostgreSQL's cache of 64 subtransactions; 100 measured faster than 25 (benchmarks/RESULTS.md).
MESSAGE_DISPATCH_BATCH = env.int("MESSAGE_DISPATCH_BATCH", default=100)
# A dispatcher woken for messages due now starts this many milliseconds after the first signal, so that messages
# submitted meanwhile are matched and pushed in the same batch (one dispatch task and one push task for all of them)
# instead of one task each under light load. 0: at once.
DISPATCH_LINGER_MS = env.int("DISPATCH_LINGER_MS", default=50)
# The linger of a stream of messages: when the signalling process signalled (any priority) less than
# DISPATCH_LINGER_BUSY_SECONDS before, its dispatcher starts this many milliseconds after the signal instead,
# so that the stream's next messages share it (apps.messaging.services.signal). Not below DISPATCH_LINGER_MS.
DISPATCH_LINGER_BUSY_MS = env.int("DISPATCH_LINGER_BUSY_MS", default=200)
DISPATCH_LINGER_BUSY_SECONDS = env.float("DISPATCH_LINGER_BUSY_SECONDS", default=1.0)
# A starting dispatcher waits this long after taking its "on its way" mark before it reads (within the linger above),
# so a process whose signal found the mark can skip its signals for that long: most sends under load then make no
# signal round trip (apps.messaging.services.signal). 0: every send asks.
DISPATCH_SIGNAL_GRACE_MS = env.int("DISPATCH_SIGNAL_GRACE_MS", default=20)
# Low priority waits for on-net capacity (cheaper for the provider) - but not forever: a low-priority message that has
# waited this many seconds since it was due may go out on another carrier's SIM.
MESSAGE_LOW_PRIORITY_CROSS_CARRIER_AFTER_SECONDS = env.int(
    "MESSAGE_LOW_PRIORITY_CROSS_CARRIER_AFTER_SECONDS", default=120
)
# A queued message this many seconds past its due time has lost its task; the reconciler enqueues it again.
MESSAGE_RECONCILE_GRACE_SECONDS = env.int("MESSAGE_RECONCILE_GRACE_SECONDS", default=60)
# How long a provider has to send a message once it is offered (the lease), in seconds.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=300)
# Admission control (apps.messaging.services.admission): new messages beyond what the network can absorb are refused
# with 429 `overloaded`. The backlog per carrier (queued and due, or leased) may hold this many rounds of its online
# SIMs' in-flight capacity, and never less than the minimum; the snapshot of backlog and capacity is taken this often.
ADMISSION_ENABLED = env.bool("ADMISSION_ENABLED", default=True)
ADMISSION_SNAPSHOT_SECONDS = env.int("ADMISSION_SNAPSHOT_SECONDS", default=5)
# Each web process reuses the snapshot it read from the shared cache this long (never past the snapshot's interval),
# sparing the send path a round trip; 0 reads it on every request.
ADMISSION_LOCAL_CACHE_SECONDS = env.float("ADMISSION_LOCAL_CACHE_SECONDS", default=1.0)
ADMISSION_BACKLOG_ROUNDS = env.int("ADMISSION_BACKLOG_ROUNDS", default=4)
ADMISSION_MIN_BACKLOG = env.int("ADMISSION_MIN_BACKLOG", default=500)
# Share of the headroom only high priority may use.
ADMISSION_HIGH_RESERVED_SHARE = env.float("ADMISSION_HIGH_RESERVED_SHARE", default=0.2)
# Reports are lagging when more than this share of acknowledged jobs have had no `sent` report for this long (default a
# third of the lease); then only high priority is admitted.
ADMISSION_REPORT_LAG_SECONDS = env.int("ADMISSION_REPORT_LAG_SECONDS", default=max(1, JOB_LEASE_SECONDS // 3))
ADMISSION_REPORT_LAG_SHARE = env.float("ADMISSION_REPORT_LAG_SHARE", default=0.25)
# The backlog may hold what the measured drain (messages leaving it per second) clears in this many seconds (default
# half a lease); 0 turns the drain limit off (capacity alone).
ADMISSION_DRAIN_SECONDS = env.int("ADMISSION_DRAIN_SECONDS", default=max(1, JOB_LEASE_SECONDS // 2))
# How long a job the phone acknowledged but never reported on (its lease ended: outcome `unknown`) waits for the
# phone's answer (sent / not sent) before the message's outcome is final `unknown`, in seconds. It is never handed to
# another phone meanwhile: that could send the SMS twice.
JOB_UNKNOWN_ANSWER_SECONDS = env.int("JOB_UNKNOWN_ANSWER_SECONDS", default=3600)
# What tells phones they have new jobs: a function taking a list of job ids. By default the push channel's (FCM pushes
# from a high-priority worker); apps.messaging.services.dispatch.job_offer_nothing leaves phones to poll their jobs.
MESSAGING_JOB_OFFER_HOOK = env("MESSAGING_JOB_OFFER_HOOK", default="apps.delivery.services.job_offer_push_later")
if MESSAGE_MAX_SEGMENTS < 1:
    raise ImproperlyConfigured("MESSAGE_MAX_SEGMENTS must be at least 1.")
if not 0 < CONTENT_FILTER_HOLD_SCORE <= CONTENT_FILTER_REJECT_SCORE:
    raise ImproperlyConfigured("Set 0 < CONTENT_FILTER_HOLD_SCORE <= CONTENT_FILTER_REJECT_SCORE.")

# --- Celery -----------------------------------------------------------------------------------------------------------
# Broker: CELERY_BROKER_URL, else Redis, else a SQLite file that every process on this machine shares (a real broker,
# not eager mode, so tasks behave as they do in production).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
CELERY_RESULT_BACKEND = (
    env("CELERY_RESULT_BACKEND", default="") or REDIS_URL or f"db+sqlite:///{VAR_DIR / 'results.sqlite3'}"
)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
# Work is tracked in the database; results are kept only by tasks that ask for them.
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran, and given back to the broker if its worker dies: nothing is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_CREATE_MISSING_QUEUES = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Celery's Django fixup closes the database connections before and after every task, and on a prefork worker with
# Django's connection pool it closes the whole pool, so each task opened new PostgreSQL connections. It now does so
# only every this many tasks; in between, apps.core.signals gives each task's connection back to the pool (and drops
# an unusable one) as Django does at the end of a request. 0: close everything around every task (Celery's default).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Redis re-delivers unacknowledged tasks after this long; it must exceed the longest countdown a retry uses.
# (The SQLAlchemy transport hands its options to create_engine, which knows no such option.)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600} if CELERY_BROKER_URL.startswith("redis") else {}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with a fix: a worker reconnects after losing Redis instead of exiting (see the module).
    CELERY_BROKER_TRANSPORT = "apps.core.broker:Transport"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs: each app adds its entries here; beat's database scheduler syncs them into its tables, where staff
# can see them (and pause them) in the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "messaging.expire-leases": {"task": "messaging.expire_leases", "schedule": 15.0, "options": {"queue": "high"}},
    "messaging.reconcile": {"task": "messaging.reconcile", "schedule": 30.0, "options": {"queue": "default"}},
    "messaging.prune-idempotency-keys": {
        "task": "messaging.prune_idempotency_keys",
        "schedule": 3600.0,
        "options": {"queue": "low"},
    },
}
CELERY_BEAT_SCHEDULE["messaging.admission-refresh"] = {
    "task": "messaging.admission_refresh",
    "schedule": float(ADMISSION_SNAPSHOT_SECONDS),
    "options": {"queue": "high", "expires": ADMISSION_SNAPSHOT_SECONDS},
}
CELERY_TIMEZONE = TIME_ZONE

# --- Providers -------------------------------------------------------------------------------------------------------
# Registration: new providers are active at once, or pending until staff approve them in the admin.
PROVIDER_AUTO_ACTIVATE = env.bool("PROVIDER_AUTO_ACTIVATE", default=False)
PROVIDER_MAX_SIMS = env.int("PROVIDER_MAX_SIMS", default=2)
# A phone's push token belongs to the provider who registered it; another provider may take it over (the app
# install changed hands) only once that device has been silent (no heartbeat or registration) this many days.
PROVIDER_DEVICE_RETIRED_AFTER_DAYS = env.int("PROVIDER_DEVICE_RETIRED_AFTER_DAYS", default=30)
# Heartbeats: the interval the server tells phones to use, and how many may be missed before the sweep marks a
# provider offline (and matching stops trusting it).
PROVIDER_HEARTBEAT_INTERVAL = env.int("PROVIDER_HEARTBEAT_INTERVAL", default=60)
PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS = env.int("PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS", default=3)
# A phone's other requests (reports, acknowledgements, pulls) count as heartbeats, refreshed at most once per this many
# seconds per phone (0: only heartbeats count). Well under the heartbeat interval, so a busy phone never looks silent.
PROVIDER_SEEN_REFRESH_SECONDS = env.int("PROVIDER_SEEN_REFRESH_SECONDS", default=15)
# Dotted path of `wake_up(provider_ids)`, called for providers the sweep has just marked offline: by default the push
# channel's (a data message that makes the app send a heartbeat); apps.providers.wakeup.wake_up_nobody does nothing.
PROVIDER_WAKE_UP_HOOK = env("PROVIDER_WAKE_UP_HOOK", default="apps.delivery.services.providers_wake_up")
# Caps per SIM, so carriers do not block it: default and the most a provider may set, per local hour and day.
PROVIDER_SIM_HOURLY_CAP = env.int("PROVIDER_SIM_HOURLY_CAP", default=30)
PROVIDER_SIM_DAILY_CAP = env.int("PROVIDER_SIM_DAILY_CAP", default=200)
PROVIDER_SIM_HOURLY_CAP_MAX = env.int("PROVIDER_SIM_HOURLY_CAP_MAX", default=50)
PROVIDER_SIM_DAILY_CAP_MAX = env.int("PROVIDER_SIM_DAILY_CAP_MAX", default=300)
# New SIMs warm up: lower caps for their first days on the network.
PROVIDER_SIM_WARMUP_DAYS = env.int("PROVIDER_SIM_WARMUP_DAYS", default=7)
PROVIDER_SIM_WARMUP_HOURLY_CAP = env.int("PROVIDER_SIM_WARMUP_HOURLY_CAP", default=10)
PROVIDER_SIM_WARMUP_DAILY_CAP = env.int("PROVIDER_SIM_WARMUP_DAILY_CAP", default=60)
PROVIDER_MAX_JOBS_IN_FLIGHT = env.int("PROVIDER_MAX_JOBS_IN_FLIGHT", default=3)
# Matching: reputation (0-1000) below which a provider gets no work; how many earliest-turn SIMs the weighted
# random pick chooses among; whether to prefer the provider who last delivered to the same recipient for the same
# client, and for how many days that is remembered.
PROVIDER_MIN_REPUTATION = env.int("PROVIDER_MIN_REPUTATION", default=300)
PROVIDER_MATCH_POOL_SIZE = env.int("PROVIDER_MATCH_POOL_SIZE", default=8)
PROVIDER_STICKY_SENDER = env.bool("PROVIDER_STICKY_SENDER", default=True)
PROVIDER_STICKY_SENDER_DAYS = env.int("PROVIDER_STICKY_SENDER_DAYS", default=30)
# The API shows both the effective and the chosen availability: one enum in the schema, not two.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["AvailabilityEnum"] = "apps.providers.choices.Availability"
CELERY_BEAT_SCHEDULE["providers.sweep_offline"] = {
    "task": "providers.sweep_offline",
    "schedule": PROVIDER_HEARTBEAT_INTERVAL,
    # A sweep that waited longer than one interval is superseded by the next one.
    "options": {"queue": "default", "expires": PROVIDER_HEARTBEAT_INTERVAL},
}
CELERY_BEAT_SCHEDULE["providers.prune_sticky_senders"] = {
    "task": "providers.prune_sticky_senders",
    "schedule": crontab(hour=3, minute=17),
    "options": {"queue": "low"},
}

# --- Webhooks ---------------------------------------------------------------------------------------------------------
# SSRF guard: refuse webhook URLs whose host is (or resolves to) a private, loopback, link-local, multicast, reserved
# or unspecified address. Only tests and the local demo turn this on.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
# Refuse plain-http webhook URLs (at registration and when sending).
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=True)
# Seconds to open a connection to a client's endpoint, and to wait for each read of its answer.
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", default=10.0)
# Retries: base * 2^(failures - 1) seconds with +-50% jitter, capped, for at most the window (3 days) after the event.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600.0)
WEBHOOK_RETRY_WINDOW_SECONDS = env.int("WEBHOOK_RETRY_WINDOW_SECONDS", default=3 * 24 * 3600)
# An endpoint is disabled (until staff re-enable it) once it has failed this many attempts in a row AND has had no
# success for this many seconds: a short outage of a busy endpoint does not disable it, a dead one does.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=20)
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=24 * 3600)
# After a secret is rotated the old one keeps signing (beside the new one) this many seconds; 0 drops it at once.
WEBHOOK_SECRET_ROTATION_GRACE_SECONDS = env.int("WEBHOOK_SECRET_ROTATION_GRACE_SECONDS", default=24 * 3600)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=10)
# Seconds a process trusts its cached list of a client's endpoints (changes through the API clear it at once).
WEBHOOK_ENDPOINT_CACHE_SECONDS = env.int("WEBHOOK_ENDPOINT_CACHE_SECONDS", default=60)
# A pending delivery this many seconds past due has lost its task; the sweeper enqueues it again.
WEBHOOK_SWEEP_GRACE_SECONDS = env.int("WEBHOOK_SWEEP_GRACE_SECONDS", default=60)
# New deliveries to one endpoint (or callback URL) go out from one task, started this many milliseconds after the
# first of them, with those created meanwhile: one task per endpoint and window instead of one per delivery (each is
# still claimed, signed and recorded on its own). 0: one task per delivery.
WEBHOOK_LINGER_MS = env.int("WEBHOOK_LINGER_MS", default=50)
# Events (with their deliveries and attempts) are deleted this many days after they were created (hourly job).
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
if WEBHOOK_RETRY_BASE_SECONDS <= 0 or WEBHOOK_RETRY_MAX_SECONDS < WEBHOOK_RETRY_BASE_SECONDS:
    raise ImproperlyConfigured("Set 0 < WEBHOOK_RETRY_BASE_SECONDS <= WEBHOOK_RETRY_MAX_SECONDS.")
CELERY_BEAT_SCHEDULE["delivery.webhook_sweep"] = {
    "task": "delivery.webhook_sweep",
    "schedule": 30.0,
    "options": {"queue": "default", "expires": 30},
}
CELERY_BEAT_SCHEDULE["delivery.webhook_prune"] = {
    "task": "delivery.webhook_prune",
    "schedule": crontab(minute=41),
    "options": {"queue": "low"},
}

# --- Logging ----------------------------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="json")  # json | console
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "apps.core.logging.JsonFormatter"},
        "console": {"()": "apps.core.logging.ConsoleFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Metrics ----------------------------------------------------------------------------------------------------------
# /metrics answers requests from these addresses (or networks), or carrying `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Admin ------------------------------------------------------------------------------------------------------------
ADMIN_URL = env("ADMIN_URL", default="admin/")

# --- Identity: OTP, sessions, DID and wallet binding, API keys ------------------------------------------------------
OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=300)
OTP_RESEND_COOLDOWN_SECONDS = env.int("OTP_RESEND_COOLDOWN_SECONDS", default=60)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
# Rates ("5/h", "30/h"; apps.core.ratelimit): code requests per phone and per client IP, verifications per client IP.
OTP_RATE_PER_PHONE = env("OTP_RATE_PER_PHONE", default="5/h")
# GET /api/me/export: the ZIP gathers everything about a person; a few per day are plenty.
PRIVACY_EXPORT_RATE = env("PRIVACY_EXPORT_RATE", default="5/d")
OTP_RATE_PER_IP = env("OTP_RATE_PER_IP", default="30/h")
OTP_VERIFY_RATE_PER_IP = env("OTP_VERIFY_RATE_PER_IP", default="60/h")
# How codes reach phones: "console" (development: the log is the only place a code appears) or a dotted path to an
# apps.accounts.otp.OtpSender subclass. Production settings require it to be chosen explicitly.
OTP_SENDER = env("OTP_SENDER", default="console")

JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=15)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=30)
# Seconds after a refresh during which the rotated token may be presented again and get the same new pair (a phone
# retrying a refresh whose response it lost), instead of revoking the session as a reused token; 0 turns it off.
JWT_REFRESH_REPLAY_GRACE_SECONDS = env.int("JWT_REFRESH_REPLAY_GRACE_SECONDS", default=30)
# Seconds each process may keep a valid session or API key without reading the database again (revocations still
# take effect on the next request, through a version in the cache); 0 reads the database on every request.
AUTH_LOCAL_CACHE_SECONDS = env.int("AUTH_LOCAL_CACHE_SECONDS", default=60)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Nonces for binding a DID key or an EVM wallet expire after this many seconds.
IDENTITY_CHALLENGE_TTL_SECONDS = env.int("IDENTITY_CHALLENGE_TTL_SECONDS", default=600)
# Sign-In with Ethereum (EIP-4361): the domain and URI the wallet is asked to sign for, and the chain
# (Selendra mainnet is 1961).
SIWE_DOMAIN = env("SIWE_DOMAIN", default="localhost:8000")
SIWE_URI = env("SIWE_URI", default="http://localhost:8000")
SIWE_CHAIN_ID = env.int("SIWE_CHAIN_ID", default=1961)

# Client API keys start with this, so they are recognisable in code and in secret scanners.
API_KEY_PREFIX = env("API_KEY_PREFIX", default="pp_live_")

# --- Payments (Baray) -------------------------------------------------------------------------------------------------
# Clients top up PPT through Baray (https://baray.io). Its API (intents, status) and the checkout page it sends payers
# to; in development and tests both point at the local fake (`manage.py baray_fake`).
BARAY_API_URL = env("BARAY_API_URL", default="https://api.baray.io")
BARAY_CHECKOUT_URL = env("BARAY_CHECKOUT_URL", default="https://pay.baray.io")
# The merchant's keys from Baray's console (secrets in production): the API key sent as `x-api-key`, and the AES-256
# key (base64 of 32 bytes; a `sk_<mode>_` prefix is allowed) and IV (base64 of 16 bytes) that encrypt intents.
BARAY_API_KEY = env("BARAY_API_KEY", default="")
BARAY_SECRET_KEY = env("BARAY_SECRET_KEY", default="")
BARAY_IV = env("BARAY_IV", default="")
# The key and IV Baray encrypts the webhook's order id with (`wh_sk_…`, `wh_iv_…`); empty: the intent key and IV.
BARAY_WEBHOOK_SECRET_KEY = env("BARAY_WEBHOOK_SECRET_KEY", default="")
BARAY_WEBHOOK_IV = env("BARAY_WEBHOOK_IV", default="")
# Seconds one request to Baray may take.
BARAY_TIMEOUT_SECONDS = env.float("BARAY_TIMEOUT_SECONDS", default=10.0)
# Our top-up bounds per currency, in the smallest unit (cents, riel); Baray's own minimums are USD 0.03 and KHR 100.
TOPUP_MIN_USD = env.int("TOPUP_MIN_USD", default=100)
TOPUP_MAX_USD = env.int("TOPUP_MAX_USD", default=1_000_000)
TOPUP_MIN_KHR = env.int("TOPUP_MIN_KHR", default=4_000)
TOPUP_MAX_KHR = env.int("TOPUP_MAX_KHR", default=4_000_000_000)
# A top-up not paid this many seconds after its intent was created is expired (once Baray confirms it is unpaid).
TOPUP_EXPIRE_SECONDS = env.int("TOPUP_EXPIRE_SECONDS", default=1800)
# Receipts (one per paid top-up): numbered `<prefix>-<year>-<6 digits>`, gap-free per Phnom Penh year. A tax line
# shows only when it has a name: its rate in basis points (1000 = 10%), included in the amount paid.
RECEIPT_NUMBER_PREFIX = env("RECEIPT_NUMBER_PREFIX", default="PP")
RECEIPT_TAX_NAME = env("RECEIPT_TAX_NAME", default="")
RECEIPT_TAX_RATE_BP = env.int("RECEIPT_TAX_RATE_BP", default=0)
# Usage reports cover at most this many days per request.
BILLING_USAGE_MAX_DAYS = env.int("BILLING_USAGE_MAX_DAYS", default=366)
CELERY_BEAT_SCHEDULE["payments.topups_reconcile"] = {
    "task": "payments.topups_reconcile",
    "schedule": 60.0,
    "options": {"queue": "default", "expires": 60},
}

# --- Push (FCM) -------------------------------------------------------------------------------------------------------
# How jobs reach provider phones: "fcm" (Firebase Cloud Messaging through firebase-admin), "log" (only logged; the
# development default, no Firebase account needed) or a dotted path to an apps.delivery.push.PushBackend subclass.
PUSH_BACKEND = env("PUSH_BACKEND", default="fcm")
# The service-account JSON file from the Firebase console (a secret: mount it, never commit it). google-auth fetches
# access tokens from the `token_uri` inside it.
FCM_CREDENTIALS_FILE = env("FCM_CREDENTIALS_FILE", default="")
# Firebase project the pushes are sent in; empty means the service account's own project.
FCM_PROJECT_ID = env("FCM_PROJECT_ID", default="")
# FCM HTTP v1 base URL: Google's, or a local fake speaking the same protocol (`manage.py fcm_fake`).
FCM_ENDPOINT = env("FCM_ENDPOINT", default="https://fcm.googleapis.com")
# Seconds one FCM HTTP request may take (firebase-admin's default of 120 would hold a worker far past any lease).
FCM_TIMEOUT_SECONDS = env.float("FCM_TIMEOUT_SECONDS", default=10.0)
# Pushes in flight at once per worker process: one long-lived thread pool, reused by every batch (firebase-admin's
# send_each would start a thread per push on each call). At most 100: firebase-admin keeps 100 connections to FCM.
# A process pushes at most about this many / FCM's round trip per second (32 / 40 ms = 800 pushes/s).
FCM_PUSH_THREADS = env.int("FCM_PUSH_THREADS", default=32)
# A phone must acknowledge an offered job this many seconds after its push; otherwise it is pushed once more, and
# then given to another provider.
JOB_ACK_SECONDS = env.int("JOB_ACK_SECONDS", default=30)
# Delivery reports: unsigned reports are accepted (and flagged) while the app rollout needs it; a delivery reported
# sooner than this many seconds after the offer is flagged as implausible; phones' clocks may run this far ahead.
REPORTS_ALLOW_UNSIGNED = env.bool("REPORTS_ALLOW_UNSIGNED", default=True)
REPORT_MIN_DELIVERY_SECONDS = env.float("REPORT_MIN_DELIVERY_SECONDS", default=2.0)
REPORT_CLOCK_SKEW_SECONDS = env.int("REPORT_CLOCK_SKEW_SECONDS", default=120)
# Anti-fraud: strikes within a window that suspend a provider automatically; deliveries per provider per minute
# counted as a burst; a provider's daily success rate this far above its carrier's (with at least the minimum volume)
# is an outlier.
FRAUD_STRIKES_TO_SUSPEND = env.int("FRAUD_STRIKES_TO_SUSPEND", default=3)
FRAUD_STRIKE_WINDOW_DAYS = env.int("FRAUD_STRIKE_WINDOW_DAYS", default=30)
FRAUD_BURST_PER_MINUTE = env.int("FRAUD_BURST_PER_MINUTE", default=10)
FRAUD_OUTLIER_MARGIN = env.float("FRAUD_OUTLIER_MARGIN", default=0.15)
FRAUD_OUTLIER_MIN_VOLUME = env.int("FRAUD_OUTLIER_MIN_VOLUME", default=50)
# Audit recipients: phones the network owns (comma-separated E.164 numbers, any carriers) that receive canary
# messages; each canary run sends one to each number with this probability. Their receiving app confirms arrival at
# POST /api/audit/inbound with AUDIT_INBOUND_TOKEN; a canary reported delivered but unconfirmed this many seconds
# later is a fraud strike.
AUDIT_RECIPIENTS = env.list("AUDIT_RECIPIENTS", default=[])
AUDIT_CANARY_PROBABILITY = env.float("AUDIT_CANARY_PROBABILITY", default=0.2)
AUDIT_CONFIRM_WINDOW_SECONDS = env.int("AUDIT_CONFIRM_WINDOW_SECONDS", default=600)
AUDIT_INBOUND_TOKEN = env("AUDIT_INBOUND_TOKEN", default="")
CELERY_BEAT_SCHEDULE["delivery.fraud-scan"] = {"task": "delivery.fraud_scan", "schedule": 600.0}
CELERY_BEAT_SCHEDULE["delivery.canaries-send"] = {"task": "delivery.canaries_send", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["delivery.canaries-judge"] = {"task": "delivery.canaries_judge", "schedule": 60.0}
# Transient push failures (quota, unavailable) are retried this many times, after base * 2^n seconds (jittered).
# A dispatch batch of at most this many new jobs is pushed by the dispatch task itself, not by a push task of its own
# (apps.delivery.services.job_offer_push_later); 0 always hands pushes to the push queue. At most FCM_PUSH_THREADS:
# such a batch goes out in one round of the send pool, so the dispatcher waits about one FCM round trip (~50–150 ms; a
# push task would hold a worker for the same wait, plus ~3.5 ms of Celery's own CPU per task). 16 covers a light
# stream's batches (25 messages/s gathered for 200 ms: ~5; at 4, 0.11 of every message took a push task —
# benchmarks/RESULTS.md), while a busier stream's larger batches (a burst, a backlog's 100) still go to the push queue
# and its dispatcher goes on at once (with a 100 ms FCM round trip, 32 showed a longer delivered p99 on a loaded host).
PUSH_INLINE_MAX_JOBS = env.int("PUSH_INLINE_MAX_JOBS", default=min(16, FCM_PUSH_THREADS))
PUSH_MAX_RETRIES = env.int("PUSH_MAX_RETRIES", default=3)
PUSH_RETRY_BASE_SECONDS = env.float("PUSH_RETRY_BASE_SECONDS", default=2.0)
CELERY_BEAT_SCHEDULE["delivery.ack-timeouts"] = {
    "task": "delivery.ack_timeouts",
    "schedule": 10.0,
    "options": {"queue": "high", "expires": 10},
}
# A delivered report leaves the client's hold capture, the provider's reward, the day's stats, reputation and sticky
# sender to a settle task started this many milliseconds after it commits, which settles every delivery reported
# meanwhile in one batch (apps.delivery.settling): a delivery settled alone costs more than it saves, ten together
# far less (benchmarks/RESULTS.md). Below 0: settled inside the reporting request, right after its commit. The sweep
# settles what a lost signal or task left. A second, not 300 ms: at 25 deliveries/s a 300 ms window took a settle task
# for 0.10 of every delivery (~3.5 ms of Celery's own CPU each); what waits for it (a pending reward, a hold's capture,
# the day's stats, reputation, the sticky sender) shows a second later, not a third of one: a provider's
# pending reward appears then, and a follow-up to the same recipient within that second is not yet sticky. Keep it
# well below the mark's SIGNAL_SECONDS (10) and the sweep's SWEEP_AFTER_SECONDS (30).
DELIVERY_SETTLE_LINGER_MS = env.int("DELIVERY_SETTLE_LINGER_MS", default=1000)
CELERY_BEAT_SCHEDULE["delivery.settle-sweep"] = {
    "task": "delivery.settle_sweep",
    "schedule": 30.0,
    "options": {"queue": "default", "expires": 30},
}

# --- Ledger (apps.tokens) ---------------------------------------------------------------------------------------------
# Seconds between roll-ups of the hot platform accounts' queued changes into their totals (PostgreSQL), and between
# sweeps that expire pending transfers past their timeout. The full reconciliation runs daily (`ledger_check`).
LEDGER_ROLL_UP_SECONDS = env.float("LEDGER_ROLL_UP_SECONDS", default=5.0)
LEDGER_EXPIRE_SECONDS = env.float("LEDGER_EXPIRE_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE["tokens.roll-up-hot-balances"] = {
    "task": "tokens.roll_up_hot_balances",
    "schedule": LEDGER_ROLL_UP_SECONDS,
    "options": {"queue": "default", "expires": LEDGER_ROLL_UP_SECONDS},
}
CELERY_BEAT_SCHEDULE["tokens.expire-pending"] = {
    "task": "tokens.expire_pending",
    "schedule": LEDGER_EXPIRE_SECONDS,
    "options": {"queue": "default", "expires": LEDGER_EXPIRE_SECONDS},
}
CELERY_BEAT_SCHEDULE["tokens.ledger-check"] = {
    "task": "tokens.ledger_check",
    "schedule": crontab(hour=2, minute=23),
    "options": {"queue": "low"},
}

# --- PPT on Selendra (apps.tokens.chain) -----------------------------------------------------------------------------
# JSON-RPC endpoint of a Selendra node (EVM, Frontier). Empty: the chain is off and nothing is sent to it.
CHAIN_RPC_URL = env("CHAIN_RPC_URL", default="")
# Selendra mainnet 1961, testnet 1953. The client asks the node (eth_chainId) and refuses to send on a mismatch.
CHAIN_ID = env.int("CHAIN_ID", default=1961)
# The hot wallet's private key (hex), or a file that holds it (better: a mounted secret). Never logged.
CHAIN_HOT_WALLET_KEY = env("CHAIN_HOT_WALLET_KEY", default="")
CHAIN_HOT_WALLET_KEY_FILE = env("CHAIN_HOT_WALLET_KEY_FILE", default="")
# The PPT contract's address. Development leaves it empty and deploys the contract on first use.
CHAIN_TOKEN_ADDRESS = env("CHAIN_TOKEN_ADDRESS", default="")
CHAIN_DEPLOY_IF_MISSING = False
# When a mined transaction is final: "finalized" (the node's finalized block: Selendra has GRANDPA finality, a few
# seconds) or a number of confirmations ("12": the block and 11 on top of it).
CHAIN_FINALITY = env("CHAIN_FINALITY", default="finalized")
# Seconds one JSON-RPC request may take; seconds a caller waits for a receipt before leaving it to the sweep.
CHAIN_RPC_TIMEOUT_SECONDS = env.float("CHAIN_RPC_TIMEOUT_SECONDS", default=10.0)
CHAIN_RECEIPT_TIMEOUT_SECONDS = env.float("CHAIN_RECEIPT_TIMEOUT_SECONDS", default=60.0)
# A transaction still unmined this many seconds after it was sent is replaced with fees 12.5 % higher (both fields),
# up to CHAIN_MAX_FEE_PER_GAS (wei); at the cap it waits and is reported stuck.
CHAIN_REPLACE_AFTER_SECONDS = env.float("CHAIN_REPLACE_AFTER_SECONDS", default=30.0)
CHAIN_MAX_FEE_PER_GAS = env.int("CHAIN_MAX_FEE_PER_GAS", default=1_000 * 10**9)
# Added to eth_estimateGas's figure for the gas limit (the state can change between estimate and inclusion).
CHAIN_GAS_MARGIN_PERCENT = env.int("CHAIN_GAS_MARGIN_PERCENT", default=20)
# Seconds between sweeps that send again, replace, and follow to finality the hot wallet's open transactions.
CHAIN_SWEEP_SECONDS = env.float("CHAIN_SWEEP_SECONDS", default=5.0)
# Seconds between supply syncs: what the ledger issued (or redeemed) since the last one is minted to (or burned from)
# the custodial wallet in one transaction.
CHAIN_SUPPLY_SYNC_SECONDS = env.float("CHAIN_SUPPLY_SYNC_SECONDS", default=300.0)
# Withdrawals of PPT to a bound EVM address, in ledger units (10⁻⁶ PPT): the least one may be, and the most one
# wallet may withdraw in any 24 hours (failed withdrawals do not count).
WITHDRAWAL_MIN_AMOUNT = env.int("WITHDRAWAL_MIN_AMOUNT", default=10_000_000)
WITHDRAWAL_DAILY_LIMIT = env.int("WITHDRAWAL_DAILY_LIMIT", default=1_000_000_000)
# Seconds between settlement runs (withdrawals batched, signed, and posted once final), and the most recipients one
# transferBatch transaction pays (the contract takes 500; ~25,000 gas each).
CHAIN_SETTLE_SECONDS = env.float("CHAIN_SETTLE_SECONDS", default=15.0)
CHAIN_SETTLEMENT_BATCH_SIZE = env.int("CHAIN_SETTLEMENT_BATCH_SIZE", default=500)
# Scheduled only when the chain is on (CHAIN_RPC_URL set).
CHAIN_BEAT_SCHEDULE = {
    "tokens.chain-sweep": {
        "task": "tokens.chain_sweep",
        "schedule": CHAIN_SWEEP_SECONDS,
        "options": {"queue": "default", "expires": CHAIN_SWEEP_SECONDS},
    },
    "tokens.chain-supply-sync": {
        "task": "tokens.chain_supply_sync",
        "schedule": CHAIN_SUPPLY_SYNC_SECONDS,
        "options": {"queue": "default", "expires": CHAIN_SUPPLY_SYNC_SECONDS},
    },
    "tokens.chain-settle-withdrawals": {
        "task": "tokens.chain_settle_withdrawals",
        "schedule": CHAIN_SETTLE_SECONDS,
        "options": {"queue": "default", "expires": CHAIN_SETTLE_SECONDS},
    },
    "tokens.chain-reconcile": {
        "task": "tokens.chain_reconcile",
        "schedule": crontab(hour=2, minute=41),
        "options": {"queue": "low"},
    },
}
if CHAIN_RPC_URL:
    CELERY_BEAT_SCHEDULE.update(CHAIN_BEAT_SCHEDULE)

# --- Payouts (airtime and cash) ---------------------------------------------------------------------------------------
# Providers redeem posted PPT earnings (docs/payouts.md). Amounts in PPT's smallest unit (10⁻⁶ PPT).
PAYOUT_MIN_AMOUNT = env.int("PAYOUT_MIN_AMOUNT", default=5_000_000)
PAYOUT_DAILY_LIMIT = env.int("PAYOUT_DAILY_LIMIT", default=500_000_000)
PAYOUT_DAILY_MAX_COUNT = env.int("PAYOUT_DAILY_MAX_COUNT", default=5)
# A payout above this amount waits for a staff member's approval (maker–checker).
PAYOUT_APPROVAL_ABOVE = env.int("PAYOUT_APPROVAL_ABOVE", default=100_000_000)
# Airtime is bought in this currency (the aggregator's account currency): USD or KHR.
PAYOUT_AIRTIME_CURRENCY = env("PAYOUT_AIRTIME_CURRENCY", default="USD")
# A payout left in `sending` this long (its sender died) gets a status check like a pending one.
PAYOUT_SENDING_STALE_SECONDS = env.int("PAYOUT_SENDING_STALE_SECONDS", default=300)
# A status check that finds no transaction under our reference this long after sending fails the payout.
PAYOUT_NOT_FOUND_GRACE_SECONDS = env.int("PAYOUT_NOT_FOUND_GRACE_SECONDS", default=3600)
# The airtime aggregator (Reloadly's API): top-ups, its OAuth2 token endpoint, client credentials (secrets).
AIRTIME_API_URL = env("AIRTIME_API_URL", default="https://topups.reloadly.com")
AIRTIME_AUTH_URL = env("AIRTIME_AUTH_URL", default="https://auth.reloadly.com")
AIRTIME_CLIENT_ID = env("AIRTIME_CLIENT_ID", default="")
AIRTIME_CLIENT_SECRET = env("AIRTIME_CLIENT_SECRET", default="")
AIRTIME_TIMEOUT_SECONDS = env.float("AIRTIME_TIMEOUT_SECONDS", default=15.0)
# The aggregator's operator id per carrier (carrier code → id; "default" for any other).
AIRTIME_OPERATOR_IDS = env.json(
    "AIRTIME_OPERATOR_IDS", default={"smart": 1, "metfone": 2, "cellcard": 3, "seatel": 4, "default": 1}
)
# Where the aggregator posts top-up callbacks (our /api/payouts/callbacks/airtime); empty: none asked for.
AIRTIME_CALLBACK_URL = env("AIRTIME_CALLBACK_URL", default="")
# The cash payout API (ABA PayWay's): base URL, merchant id and API key (the HMAC key: a secret).
PAYWAY_API_URL = env("PAYWAY_API_URL", default="https://checkout.payway.com.kh")
PAYWAY_MERCHANT_ID = env("PAYWAY_MERCHANT_ID", default="")
PAYWAY_API_KEY = env("PAYWAY_API_KEY", default="")
PAYWAY_TIMEOUT_SECONDS = env.float("PAYWAY_TIMEOUT_SECONDS", default=15.0)
PAYOUTS_REQUIRE_REAL_CREDENTIALS = False
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "PayoutMethodEnum": "apps.incentives.payouts.choices.PayoutMethod",
        "PayoutCurrencyEnum": "apps.incentives.payouts.choices.PayoutCurrency",
        # Top-ups' method keeps the name it had before payouts brought a second "method".
        "MethodEnum": "apps.payments.choices.TopUpMethod",
    }
)
CELERY_BEAT_SCHEDULE["incentives.check_pending_payouts"] = {
    "task": "incentives.check_pending_payouts",
    "schedule": 60.0,
    "options": {"queue": "default", "expires": 60},
}

# --- Error tracking (apps.core.sentry) --------------------------------------------------------------------------------
# Unhandled errors of web requests and Celery tasks go to Sentry when SENTRY_DSN is set (scrubbed: no bodies, phone
# numbers or credentials); off otherwise.
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="")
SENTRY_RELEASE = env("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from apps.core.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )

# --- Rewards and dynamic pricing (apps.incentives) ------------------------------------------------------------------
# A delivery's reward is held (a pending ledger transfer) this long, for canaries and fraud rules to have their
# chance, then posted; a fraud strike inside it voids it.
INCENTIVES_VERIFICATION_WINDOW_SECONDS = env.int("INCENTIVES_VERIFICATION_WINDOW_SECONDS", default=24 * 3600)
# Rates per delivered segment (10⁻⁶ PPT) when staff have set no reward rule for a route and priority.
INCENTIVES_REWARD_ON_NET_PER_SEGMENT = env.int("INCENTIVES_REWARD_ON_NET_PER_SEGMENT", default=40_000)
INCENTIVES_REWARD_CROSS_CARRIER_PER_SEGMENT = env.int("INCENTIVES_REWARD_CROSS_CARRIER_PER_SEGMENT", default=25_000)
# Establishment period (after Helium's HIP-57): until a provider has this many verified deliveries and is this many
# days old, it earns this share (basis points of 10000) of each reward, held this long instead of the usual window.
INCENTIVES_ESTABLISHMENT_DELIVERIES = env.int("INCENTIVES_ESTABLISHMENT_DELIVERIES", default=50)
INCENTIVES_ESTABLISHMENT_DAYS = env.int("INCENTIVES_ESTABLISHMENT_DAYS", default=7)
INCENTIVES_ESTABLISHMENT_SHARE_BP = env.int("INCENTIVES_ESTABLISHMENT_SHARE_BP", default=7_500)
INCENTIVES_ESTABLISHMENT_HOLD_SECONDS = env.int("INCENTIVES_ESTABLISHMENT_HOLD_SECONDS", default=72 * 3600)
# The posting sweep: how often, and how many rewards per batch.
INCENTIVES_POST_SECONDS = env.float("INCENTIVES_POST_SECONDS", default=60.0)
INCENTIVES_POST_BATCH = env.int("INCENTIVES_POST_BATCH", default=500)
# Dynamic pricing: the multiplier's default floor and ceiling (staff set them per route in the back office), the
# share of an hour's capacity that waiting work may fill before the multiplier rises, the smoothing (weight of a new
# reading), the hysteresis step, how often it is recomputed and how long a value is cached.
INCENTIVES_SURGE_FLOOR_BP = env.int("INCENTIVES_SURGE_FLOOR_BP", default=10_000)
INCENTIVES_SURGE_CEILING_BP = env.int("INCENTIVES_SURGE_CEILING_BP", default=20_000)
INCENTIVES_SURGE_TARGET_BP = env.int("INCENTIVES_SURGE_TARGET_BP", default=5_000)
INCENTIVES_SURGE_ALPHA_BP = env.int("INCENTIVES_SURGE_ALPHA_BP", default=3_000)
INCENTIVES_SURGE_STEP_BP = env.int("INCENTIVES_SURGE_STEP_BP", default=500)
INCENTIVES_SURGE_SECONDS = env.float("INCENTIVES_SURGE_SECONDS", default=60.0)
INCENTIVES_SURGE_CACHE_SECONDS = env.int("INCENTIVES_SURGE_CACHE_SECONDS", default=180)
CELERY_BEAT_SCHEDULE["incentives.post-due-rewards"] = {
    "task": "incentives.post_due_rewards",
    "schedule": INCENTIVES_POST_SECONDS,
    "options": {"queue": "default", "expires": INCENTIVES_POST_SECONDS},
}
CELERY_BEAT_SCHEDULE["incentives.recompute-multipliers"] = {
    "task": "incentives.recompute_multipliers",
    "schedule": INCENTIVES_SURGE_SECONDS,
    "options": {"queue": "default", "expires": INCENTIVES_SURGE_SECONDS},
}
# The provider score (apps.incentives.scores) that matching weighs candidates by, recomputed this often.
INCENTIVES_SCORE_SECONDS = env.float("INCENTIVES_SCORE_SECONDS", default=900.0)
CELERY_BEAT_SCHEDULE["incentives.recompute-scores"] = {
    "task": "incentives.recompute_scores",
    "schedule": INCENTIVES_SCORE_SECONDS,
    "options": {"queue": "low", "expires": INCENTIVES_SCORE_SECONDS},
}
# Weekly bonuses (leaderboard, streaks, uptime; rules in the back office): paid daily for the latest week whose
# rewards have all left their window; a week already paid books nothing again.
CELERY_BEAT_SCHEDULE["incentives.pay-weekly-bonuses"] = {
    "task": "incentives.pay_weekly_bonuses",
    "schedule": crontab(hour=4, minute=7),
    "options": {"queue": "low"},
}

# The operations dashboard on the admin index (apps.backoffice) fetches its figures again every this many seconds.
BACKOFFICE_DASHBOARD_REFRESH_SECONDS = env.int("BACKOFFICE_DASHBOARD_REFRESH_SECONDS", default=15)
# Each process writes the hourly figures its commits counted at most this often, in one upsert (0: at every commit).
ROLLUP_FLUSH_SECONDS = env.float("ROLLUP_FLUSH_SECONDS", default=1.0)
# Yesterday's hourly figures rebuilt from the messages, after local midnight (apps.backoffice.tasks).
CELERY_BEAT_SCHEDULE["backoffice.rollup-repair"] = {
    "task": "backoffice.rollup_repair",
    "schedule": crontab(hour=0, minute=30),
}
# --- Abuse and trust: the trusted route, inbound replies, carrier-block reactions, SMS pumping ------------------------
# PeerPower's own codes go through the trusted pool (providers staff mark trusted) when it has capacity, else through
# this sender ("console", "memory" or a dotted path to an apps.accounts.otp.OtpSender, e.g. an aggregator's); empty:
# no fallback, the code waits on the trusted route for a trusted phone (never an ordinary one).
OTP_FALLBACK_SENDER = env("OTP_FALLBACK_SENDER", default="console")
# Sealed message bodies (sign-in codes, `sensitive` messages): a key of its own, so rotating SECRET_KEY does not
# make queued codes unreadable; empty derives one from SECRET_KEY.
MESSAGE_SEAL_KEY = env("MESSAGE_SEAL_KEY", default="")
# `sensitive: true` messages travel the trusted pool at this multiple of the ordinary price (basis points).
MESSAGE_SENSITIVE_PRICE_BP = env.int("MESSAGE_SENSITIVE_PRICE_BP", default=30_000)
# A message the content filter reads as a one-time code is offered only to the trusted pool and to providers at or
# above this trust level (0-100; staff grade providers 0/25/50/75/100 in the admin, new ones start at 0). 50: phones
# staff vetted; until they grade some, codes go to the trusted pool only. 0 restricts nothing.
PROVIDER_CODE_MIN_TRUST_LEVEL = env.int("PROVIDER_CODE_MIN_TRUST_LEVEL", default=50)
# Carrier-block reactions (apps.providers.services.cooldown): the first cool-down lasts BASE seconds, each repetition
# doubles it up to MAX; a block more than RESET_HOURS after the last starts again at level 1. While the level is
# above 0 and recent the SIM sends at most its warm-up caps halved per level beyond the first.
PROVIDER_SIM_COOLDOWN_BASE_SECONDS = env.int("PROVIDER_SIM_COOLDOWN_BASE_SECONDS", default=900)
PROVIDER_SIM_COOLDOWN_MAX_SECONDS = env.int("PROVIDER_SIM_COOLDOWN_MAX_SECONDS", default=86_400)
PROVIDER_SIM_COOLDOWN_RESET_HOURS = env.int("PROVIDER_SIM_COOLDOWN_RESET_HOURS", default=48)
# `generic_failure` reports from one SIM within the window that count as a block.
PROVIDER_SIM_GENERIC_FAILURES = env.int("PROVIDER_SIM_GENERIC_FAILURES", default=3)
PROVIDER_SIM_GENERIC_FAILURE_WINDOW_SECONDS = env.int("PROVIDER_SIM_GENERIC_FAILURE_WINDOW_SECONDS", default=900)
# Pacing: at least this many seconds between two sends of one SIM, whatever its caps (0: only the caps pace).
PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS = env.int("PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS", default=0)
# Inbound replies: one matches a message of a client sent from that SIM to that number within this many hours.
INBOUND_MATCH_HOURS = env.int("INBOUND_MATCH_HOURS", default=72)
# SMS pumping (apps.messaging.pumping): within the window, a client's messages to more than ADJACENT distinct numbers
# of one block of a hundred are held; so are messages to the listed prefixes (premium or unallocated ranges, E.164).
MESSAGE_PUMPING_WINDOW_SECONDS = env.int("MESSAGE_PUMPING_WINDOW_SECONDS", default=600)
MESSAGE_PUMPING_ADJACENT = env.int("MESSAGE_PUMPING_ADJACENT", default=5)
MESSAGE_PUMPING_HELD_PREFIXES = env.list("MESSAGE_PUMPING_HELD_PREFIXES", default=[])
# Verification-code conversion: a client that reports conversions and converts fewer than MIN_BP of its last SAMPLE
# code messages (sent at least GRACE seconds ago) has its next code messages held.
MESSAGE_PUMPING_CONVERSION_SAMPLE = env.int("MESSAGE_PUMPING_CONVERSION_SAMPLE", default=50)
MESSAGE_PUMPING_CONVERSION_MIN_BP = env.int("MESSAGE_PUMPING_CONVERSION_MIN_BP", default=2_000)
MESSAGE_PUMPING_CONVERSION_GRACE_SECONDS = env.int("MESSAGE_PUMPING_CONVERSION_GRACE_SECONDS", default=900)
# Each web process remembers a client's conversion verdict this long, so a send asks the shared cache nothing for it.
MESSAGE_PUMPING_LOCAL_CACHE_SECONDS = env.float("MESSAGE_PUMPING_LOCAL_CACHE_SECONDS", default=5.0)
# --- Privacy: encryption at rest and retention (docs/privacy.md) -----------------------------------------------------
# Keys that encrypt personal data in the database (apps.core.crypto): comma-separated `id=base64 of 32 bytes`; the
# first encrypts, all decrypt. Rotate by putting a new key first, running `manage.py encryption_rotate`, then dropping
# the old one. Development and test settings set non-production keys; production requires its own.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# The HMAC key of blind indexes (recipients are found by it). Changing it orphans every stored index: not rotated.
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default="")
# Message bodies (and recipients, kept as a keyed hash only) are erased this many days after the message reached a
# final state, unless the client organisation sets its own (0: at the next retention run).
MESSAGE_BODY_RETENTION_DAYS = env.int("MESSAGE_BODY_RETENTION_DAYS", default=30)
# Jobs (leases) of finished messages, delivery reports and push records are deleted after these many days.
JOB_RETENTION_DAYS = env.int("JOB_RETENTION_DAYS", default=90)
DELIVERY_REPORT_RETENTION_DAYS = env.int("DELIVERY_REPORT_RETENTION_DAYS", default=90)
# Rows each retention run touches per batch, and batches per run (each batch is its own short transaction).
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)
RETENTION_MAX_BATCHES = env.int("RETENTION_MAX_BATCHES", default=50)
CELERY_BEAT_SCHEDULE["messaging.redact-message-bodies"] = {
    "task": "messaging.redact_message_bodies",
    "schedule": 300.0,
    "options": {"queue": "low", "expires": 300},
}
CELERY_BEAT_SCHEDULE["messaging.prune-jobs"] = {
    "task": "messaging.prune_jobs",
    "schedule": crontab(minute=23),
    "options": {"queue": "low"},
}
CELERY_BEAT_SCHEDULE["delivery.prune-reports"] = {
    "task": "delivery.prune_reports",
    "schedule": crontab(minute=53),
    "options": {"queue": "low"},
}
