"""Settings, read from the environment.

Defaults are the embedded ones (SQLite, in-memory channel layer, a file-based
Celery broker, the offline demo model), so the platform runs with no server at
all. `PLATFORM_ENV=production` turns every default that is unsafe in production
into a required variable. A missing or malformed value stops start-up with one
line that names it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from chatkit_platform.affinity import parse_cpu_affinity
from chatkit_platform.env import (
    ConfigError,
    check_redis_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    ip_networks,
    local_secret,
    parse_database_url,
)
from operations.logs import logging_config
from operations.tracing import missing_modules as otel_missing_modules

BASE_DIR = Path(__file__).resolve().parent.parent


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _check_fernet_keys(keys: list[str]) -> list[str]:
    from cryptography.fernet import Fernet

    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"ENCRYPTION_KEYS entry {index + 1} is not a valid key (32 url-safe "
                "base64-encoded bytes; make one with `manage.py generate_encryption_key`)"
            ) from None
    return keys


try:
    PLATFORM_ENV = env_choice("PLATFORM_ENV", "development", ("development", "production"))
    PRODUCTION = PLATFORM_ENV == "production"
    # Local files: the default SQLite database, the file broker, development secrets,
    # collected static files. A relative path is read from the checkout.
    DATA_DIR = BASE_DIR / (env_str("PLATFORM_DATA_DIR") or "var")

    SECRET_KEY = env_str("SECRET_KEY")
    if not SECRET_KEY:
        if PRODUCTION:
            raise ConfigError("SECRET_KEY is required when PLATFORM_ENV=production")
        SECRET_KEY = local_secret(DATA_DIR / "dev_secret_key")
    elif PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
        raise ConfigError("SECRET_KEY must be at least 50 characters with 5 distinct ones")

    DEBUG = env_bool("DEBUG", default=not PRODUCTION)
    if PRODUCTION and DEBUG:
        raise ConfigError("DEBUG must be off when PLATFORM_ENV=production")

    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
    if PRODUCTION and (not env_list("ALLOWED_HOSTS") or "*" in ALLOWED_HOSTS):
        raise ConfigError("ALLOWED_HOSTS must list the public host names in production")
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

    # Not a setting of its own: it may carry a password, and the debug page lists settings.
    _database_url = env_str("DATABASE_URL")
    if not _database_url:
        if PRODUCTION:
            raise ConfigError("DATABASE_URL is required when PLATFORM_ENV=production")
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        _database_url = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    DATABASE = parse_database_url("DATABASE_URL", _database_url, BASE_DIR)
    # Under pytest, the ORM thread of async tests would otherwise keep its connection
    # open past the run, and PostgreSQL refuses to drop a test database still in use.
    DATABASE = dataclasses.replace(
        DATABASE,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if "pytest" in sys.modules else 60),
        # Off for a pooler in transaction mode that cannot keep prepared statements
        # (PgBouncer before 1.21, or without max_prepared_statements).
        prepare_threshold=5 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
    )
    REDIS_URL = env_str("REDIS_URL")
    if REDIS_URL:
        check_redis_url("REDIS_URL", REDIS_URL)
    elif PRODUCTION:
        # Without it every process would have a channel layer and a cache of its own.
        raise ConfigError(
            "REDIS_URL is required when PLATFORM_ENV=production (channel layer, cache, broker)"
        )

    ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS")
    if not ENCRYPTION_KEYS:
        if PRODUCTION:
            raise ConfigError("ENCRYPTION_KEYS is required when PLATFORM_ENV=production")
        ENCRYPTION_KEYS = [local_secret(DATA_DIR / "dev_encryption_key", _fernet_key)]
    _check_fernet_keys(ENCRYPTION_KEYS)

    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
    if PRODUCTION and CELERY_BROKER_URL.startswith("filesystem://"):
        raise ConfigError("CELERY_BROKER_URL must name a real broker when PLATFORM_ENV=production")
    # The one switch for every outbound call a tenant can aim (HTTP tools, provider base
    # URLs, later MCP servers): on, they may reach loopback and private addresses too.
    # CHATKIT_ALLOW_PRIVATE_HTTP_TOOLS is its older name and still works.
    CHATKIT_ALLOW_PRIVATE_NETWORK = env_bool(
        "CHATKIT_ALLOW_PRIVATE_NETWORK", env_bool("CHATKIT_ALLOW_PRIVATE_HTTP_TOOLS", False)
    )
    CHATKIT_ALLOW_PRIVATE_HTTP_TOOLS = CHATKIT_ALLOW_PRIVATE_NETWORK
    OPENAI_API_KEY = env_str("OPENAI_API_KEY")
    OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
    OPENAI_AGENTS_TRACING = env_bool("OPENAI_AGENTS_TRACING", False)
    LONG_TOOL_TIMEOUT_SECONDS = env_int("LONG_TOOL_TIMEOUT_SECONDS", 600, minimum=1)
    CHATKIT_MAX_REQUEST_BYTES = env_int("CHATKIT_MAX_REQUEST_BYTES", 1_048_576, minimum=1024)
    CHATKIT_SSE_KEEPALIVE_SECONDS = env_int("CHATKIT_SSE_KEEPALIVE_SECONDS", 15, minimum=1)
    # Events that follow a write this closely go out together, in the next write (0: each
    # event is written alone).
    CHATKIT_SSE_COALESCE_MS = env_int("CHATKIT_SSE_COALESCE_MS", 2, minimum=0)
    # Keep each web process on one CPU (chatkit_platform/affinity.py): off, auto, a number.
    WEB_CPU_AFFINITY = parse_cpu_affinity("WEB_CPU_AFFINITY", env_str("WEB_CPU_AFFINITY"))
    # Attachments (two-phase upload): the limits for API-key callers (a client session's
    # `file_upload` sets its own, within the session API's bounds), and how long an
    # upload link lives. The bytes go to STORAGES["default"], under MEDIA_ROOT by default.
    CHATKIT_ATTACHMENT_MAX_BYTES = env_int(
        "CHATKIT_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024, minimum=1024
    )
    CHATKIT_ATTACHMENT_MAX_FILES = env_int("CHATKIT_ATTACHMENT_MAX_FILES", 10, minimum=1)
    CHATKIT_ATTACHMENT_UPLOAD_SECONDS = env_int(
        "CHATKIT_ATTACHMENT_UPLOAD_SECONDS", 600, minimum=10
    )
    MEDIA_ROOT = BASE_DIR / (env_str("MEDIA_ROOT") or DATA_DIR / "media")
    # The platform's public base URL (https://chat.example.com), for the upload and preview
    # links of attachments; by default they are built from the request's Host.
    CHATKIT_PUBLIC_URL = env_str("CHATKIT_PUBLIC_URL")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
    TRUST_X_FORWARDED_PROTO = env_bool("TRUST_X_FORWARDED_PROTO", False)
    LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error"))
    # Hashed static file names (cached for a year) and compressed copies, from the manifest
    # `collectstatic` writes: on in production, whose image runs `collectstatic`.
    STATIC_MANIFEST = env_bool("STATIC_MANIFEST", default=PRODUCTION)
except ConfigError as error:
    raise SystemExit(f"Configuration error: {error}") from None

# --- Django -------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chatkit_platform",
    "tenants",
    "hosted_agents",
    "chatkit_endpoints",
    "console",
    # Its templates serve the API docs page from its own static files, not a CDN.
    "ninja",
    "management_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files in every mode (daphne serves none): from STATIC_ROOT after
    # `collectstatic`, and in development straight from the apps too.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatkit_platform.urls"
ASGI_APPLICATION = "chatkit_platform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# No health check: Django's runs a SELECT 1 at the first query after each
# close_old_connections(), which database_sync_to_async calls around every ORM hop (a round
# trip per hop on the chat path). A connection whose query failed is still checked and
# replaced by close_old_connections() (errors_occurred), and CONN_MAX_AGE recycles the rest.
DATABASES = {"default": DATABASE.as_django() | {"CONN_HEALTH_CHECKS": False}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Seconds; well above channels-redis's blocking read of 5 s (RedisChannelLayer.brpop_timeout).
CHANNEL_LAYER_READ_TIMEOUT = 30.0
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ckp",
        }
    }
    # channels-redis waits for messages with 5 s blocking reads (BZPOPMIN), and redis-py 8
    # times socket reads out after 5 s by default: on a busy host the client then gives up
    # first, drops the connection and can lose the message. A longer read timeout avoids it.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_READ_TIMEOUT}],
                "prefix": "ckp",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / (env_str("STATIC_ROOT") or DATA_DIR / "static")
if STATIC_MANIFEST:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
if not PRODUCTION:
    WHITENOISE_USE_FINDERS = True
    # WhiteNoise warns at start-up about a missing STATIC_ROOT; it fills on `collectstatic`.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
LOGIN_URL = "/console/login/"

# --- Security -----------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Health probes come over plain HTTP from the orchestrator, inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Celery -------------------------------------------------------------------

# Apps send their tasks by name; the names, their queues and the schedule live here only.
# Long tool calls take minutes each, so the short platform tasks (the long-tool sweep,
# later retention and metering) get a queue of their own that a busy pool cannot starve.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_LONG_TOOL_QUEUE = "long_tools"
CELERY_PLATFORM_QUEUE = "platform"
LONG_TOOL_TASK = "hosted_agents.tasks.run_long_tool"
LONG_TOOL_SWEEP_TASK = "hosted_agents.tasks.sweep_long_tools"
# Well under the stale-heartbeat threshold in hosted_agents/long_tools (30 s).
LONG_TOOL_SWEEP_SECONDS = 15.0
CELERY_TASK_ROUTES = {
    LONG_TOOL_TASK: {"queue": CELERY_LONG_TOOL_QUEUE},
    LONG_TOOL_SWEEP_TASK: {"queue": CELERY_PLATFORM_QUEUE},
}
CELERY_BEAT_SCHEDULE = {
    "sweep-long-tool-calls": {
        "task": LONG_TOOL_SWEEP_TASK,
        "schedule": LONG_TOOL_SWEEP_SECONDS,
        # A sweep no worker took in time is replaced by the next one, not piled up.
        "options": {"expires": LONG_TOOL_SWEEP_SECONDS - 1},
    }
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's file transport, writing each message whole (see file_broker.py).
    CELERY_BROKER_TRANSPORT = "chatkit_platform.file_broker:Transport"
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Redis redelivers an unacknowledged task after this many seconds; the stuck-call
    # sweep re-queues long before that, so a killed worker's task runs again promptly.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": LONG_TOOL_TIMEOUT_SECONDS * 3}

# --- Logging ------------------------------------------------------------------

_LOGGERS = {"django.db.backends": {"level": "WARNING"}}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The file broker has no host, and kombu warns about that on every connection.
    _LOGGERS["kombu.connection"] = {"level": "ERROR"}
# --- Operations (issue 15): logs, metrics, tracing, retention, tenant deletion -----------
# One block, so that other work on settings merges around it.
try:
    # JSON lines in production (for a log pipeline), readable text in development.
    LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "text", ("json", "text"))
    # /metrics: served to these addresses (default: loopback only), or to anyone who sends
    # `Authorization: Bearer <METRICS_TOKEN>`. The address is the connection's peer, so
    # behind a proxy list the scraper's path, or use the token.
    METRICS_TOKEN = env_str("METRICS_TOKEN")
    METRICS_ALLOWED_NETWORKS = ip_networks(
        "METRICS_ALLOWED_IPS", env_list("METRICS_ALLOWED_IPS", ["127.0.0.0/8", "::1/128"])
    )
    OTEL_ENABLED = env_bool("OTEL_ENABLED", False)
    if OTEL_ENABLED and (_missing := otel_missing_modules()):
        raise ConfigError(
            f"OTEL_ENABLED is on but {', '.join(_missing)} is not installed: "
            "pip install 'chatkit-platform[otel]'"
        )
    OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "chatkit-platform")
    # Threads older than their retention policy are deleted this many at a time, each batch
    # in its own transaction with its own audit event.
    RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 500, minimum=1)
    # `delete_tenant` suspends a tenant at once and purges it after this many days.
    TENANT_DELETION_GRACE_DAYS = env_int("TENANT_DELETION_GRACE_DAYS", 30, minimum=0)
    # A thread whose last message has had no answer for this long, with no run registered,
    # was left by a dead process: the stuck-run sweep ends it with an error item.
    STUCK_RUN_AFTER_SECONDS = env_int(
        "STUCK_RUN_AFTER_SECONDS", LONG_TOOL_TIMEOUT_SECONDS + 300, minimum=60
    )
except ConfigError as error:
    raise SystemExit(f"Configuration error: {error}") from None

INSTALLED_APPS.append("operations")
# Prometheus scrapes over plain HTTP from inside the network, like the health probes.
SECURE_REDIRECT_EXEMPT.append(r"^metrics$")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL, loggers=_LOGGERS)

RETENTION_TASK = "hosted_agents.tasks.enforce_retention"
STUCK_RUN_SWEEP_TASK = "chatkit_endpoints.tasks.sweep_stuck_runs"
TENANT_PURGE_TASK = "tenants.tasks.purge_deleted_tenants"
for _task in (RETENTION_TASK, STUCK_RUN_SWEEP_TASK, TENANT_PURGE_TASK):
    CELERY_TASK_ROUTES[_task] = {"queue": CELERY_PLATFORM_QUEUE}
_EXPIRES_50 = {"expires": 50}
_HOURLY = {"schedule": 3600.0, "options": {"expires": 3000}}
CELERY_BEAT_SCHEDULE |= {
    "enforce-retention": {"task": RETENTION_TASK, **_HOURLY},
    "sweep-stuck-runs": {"task": STUCK_RUN_SWEEP_TASK, "schedule": 60.0, "options": _EXPIRES_50},
    "purge-deleted-tenants": {"task": TENANT_PURGE_TASK, **_HOURLY},
}

if "pytest" in sys.modules:
    # Tests hash many passwords; the fast hasher keeps the suite quick.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Console (issue 13): sign-in, mail, CSP, htmx -----------------------------
# One block, so that the console's settings are read in one place: it adds its apps,
# middleware and context processor to the lists above instead of editing them.

INSTALLED_APPS += ["django.contrib.humanize", "django_htmx", "csp"]
# After the auth middleware (the CSP header does not depend on it, `request.htmx` neither).
MIDDLEWARE += ["django_htmx.middleware.HtmxMiddleware", "csp.middleware.CSPMiddleware"]
TEMPLATES[0]["OPTIONS"]["context_processors"].append("console.context_processors.console")  # type: ignore[index]
LOGIN_REDIRECT_URL = "/console/"
LOGOUT_REDIRECT_URL = "/console/login/"
# The console's own policy: scripts and styles from this platform only (no inline script,
# style or handler anywhere in its templates); htmx and the copy button are static files.
# The admin and the API docs page (Swagger UI sets inline styles) keep Django's defaults.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/api/v1/docs"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
try:
    # Sign-in throttle: failures per username and per client address within the window.
    CONSOLE_LOGIN_FAILURES_PER_USER = env_int("CONSOLE_LOGIN_FAILURES_PER_USER", 5, minimum=1)
    CONSOLE_LOGIN_FAILURES_PER_IP = env_int("CONSOLE_LOGIN_FAILURES_PER_IP", 20, minimum=1)
    CONSOLE_LOGIN_WINDOW_SECONDS = env_int("CONSOLE_LOGIN_WINDOW_SECONDS", 900, minimum=1)
    # How long an invitation link to join a tenant stays valid.
    INVITE_MAX_AGE_SECONDS = env_int("INVITE_MAX_AGE_SECONDS", 7 * 86400, minimum=60)
    # Password reset and invitation mail. Without EMAIL_HOST, mail is written to the log
    # (development) instead of being sent.
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_BACKEND = (
        "django.core.mail.backends.smtp.EmailBackend"
        if EMAIL_HOST
        else "django.core.mail.backends.console.EmailBackend"
    )
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "chatkit-platform@localhost"
except ConfigError as error:
    raise SystemExit(f"Configuration error: {error}") from None
