"""Settings, entirely from environment variables (see .env.example).

With no DATABASE_URL / REDIS_URL in the environment, the URLs of the private
servers started by ``waybill_console.devservices`` are read from
``var/services.env``. There is no SQLite path.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_file_defaults() -> dict[str, str]:
    path = Path(os.environ.get("WBC_VAR_DIR", BASE_DIR / "var")) / "services.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


_SERVICES = _env_file_defaults()


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return _SERVICES.get(name, default)
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in (env(name, default) or "").split(",") if v.strip()]


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("WBC_TESTING", False)
# Development defaults (set by `make run` and the tests): built-in keys, cookies over http.
DEV_DEFAULTS = DEBUG or TESTING or env_bool("WBC_DEV_DEFAULTS", False)
SECRET_KEY = env("SECRET_KEY") or ""
if not SECRET_KEY:
    if DEV_DEFAULTS:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789"  # nosec B105
    else:
        raise ImproperlyConfigured("SECRET_KEY is not set (see .env.example)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "js_lib_htmx",
    "waybill_console",
    "shops",
    "carriers",
    "waybills",
    "dropship",
    "printing",
    "events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "waybill_console.middleware.ServiceUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "waybill_console.middleware.LocaleMiddleware",
    "waybill_console.middleware.NulCharacterMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "waybill_console.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "waybill_console.tenancy.CurrentShopMiddleware",
]

ROOT_URLCONF = "waybill_console.urls"
WSGI_APPLICATION = "waybill_console.wsgi.application"

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
                "django.template.context_processors.i18n",
                "waybill_console.tenancy.shop_context",
                "events.context_processors.notifications",
            ],
        },
    },
]

_database_url = env("DATABASE_URL")
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set and no embedded server is running: "
        "run `make services` (or `make run`), or set DATABASE_URL."
    )
# health checks: a connection kept open across a database restart is tested before it is
# reused, so the first request after the restart does not fail on it (waybill_console.db)
DATABASES = {
    "default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("Waybill Console runs on PostgreSQL only")
# Django's backend with a health check that polls the socket instead of a SELECT 1 per request
DATABASES["default"]["ENGINE"] = "waybill_console.db.postgresql"

REDIS_URL = env("REDIS_URL")
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is not set and no embedded server is running: run `make services`."
    )


def _redis_db(url: str, db: int) -> str:
    """The same server as ``url`` with database number ``db``."""
    base, _, last = url.rpartition("/")
    if base.endswith(":/") or not last.isdigit():
        return url.rstrip("/") + f"/{db}"
    return f"{base}/{db}"


# Broker, results and cache live in separate Redis databases; tests use their own.
_REDIS_DB_BASE = int(env("REDIS_DB_BASE", "0"))
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or _redis_db(REDIS_URL, _REDIS_DB_BASE)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or _redis_db(REDIS_URL, _REDIS_DB_BASE + 1)
CACHE_URL = env("CACHE_URL") or _redis_db(REDIS_URL, _REDIS_DB_BASE + 2)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "wbc",
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
AUTHENTICATION_BACKENDS = ["shops.auth.AccountBackend"]  # usernames by identity, lockout
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

# every password the product sets (sub-accounts, resets, Django's password forms) passes
# these: shops.services.password_check names the field in the refusal
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEV_DEFAULTS or env_bool("WHITENOISE_USE_FINDERS", False)
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- consumer data encryption ---------------------------------------------------------
# FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys, newest first (rotation: add a new key
# in front, run `manage.py rotate_encryption`, then drop the old one).
# BLIND_INDEX_KEY: secret for the keyed HMAC used to search phone numbers.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY") or ""
if not FIELD_ENCRYPTION_KEYS or not BLIND_INDEX_KEY:
    if DEV_DEFAULTS:
        # Development-only keys, derived so that they are stable between runs.
        FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or [
            "V2F5YmlsbENvbnNvbGVEZXZlbG9wbWVudEtleTAwMDA="
        ]
        BLIND_INDEX_KEY = BLIND_INDEX_KEY or "waybill-console-development-blind-index"
    else:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY must be set")

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "waybill_console.api.TokenAuthentication",
        "waybill_console.api.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["waybill_console.api.IsShopActor"],
    # JSON only: the schema then offers one request body per operation, the one generated
    # clients send. A view that takes a file upload sets its own ``parser_classes``.
    "DEFAULT_PARSER_CLASSES": ["waybill_console.parsers.JSONParser"],  # nesting capped
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_THROTTLE_CLASSES": ["waybill_console.api.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env("API_RATE_LIMIT", "600/min")},
    "EXCEPTION_HANDLER": "waybill_console.api_errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "waybill_console.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "waybill_console.api.Pagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Waybill Console API",
    "DESCRIPTION": (
        "E-waybills (电子面单) and dropship (代发) for merchants, factories and carriers."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # a choice set used by several components keeps one stable name (generated clients name
    # their enum classes after these)
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "waybill_console.models.Job.Status",
        "PrintJobStatusEnum": "printing.models.PrintJob.Status",
        "PrinterKindEnum": "printing.models.PrinterKind",
        "TrackingEventStatusEnum": "waybills.models.TrackingStatus",
        "WaybillStatusEnum": "waybills.models.WaybillStatus",
        "WebhookDeliveryStatusEnum": "events.models.DeliveryStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "waybill_console.schema.add_error_responses",
    ],
}

# --- Celery ---------------------------------------------------------------------------
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = int(env("CELERY_TASK_TIME_LIMIT", "900"))
CELERY_TASK_SOFT_TIME_LIMIT = int(env("CELERY_TASK_SOFT_TIME_LIMIT", "840"))
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
# a job queued this long without a worker taking it has its task sent again
JOB_STALL_SECONDS = int(env("JOB_STALL_SECONDS", "300"))
# outbound calls to carrier APIs (carriers/gateways/transport.py): seconds and retries
CARRIER_CONNECT_TIMEOUT = float(env("CARRIER_CONNECT_TIMEOUT", "3"))
CARRIER_READ_TIMEOUT = float(env("CARRIER_READ_TIMEOUT", "10"))
CARRIER_RETRIES = int(env("CARRIER_RETRIES", "2"))
# days the carrier API call log (admin: carrier API calls) keeps; a daily sweep drops older
CARRIER_CALL_LOG_DAYS = int(env("CARRIER_CALL_LOG_DAYS", "30"))
# per gateway account: this many consecutive failed tries open its circuit breaker for
# CARRIER_BREAKER_SECONDS (calls then fail at once); at most CARRIER_RATE_PER_SECOND
# calls per second (0: no limit)
CARRIER_BREAKER_FAILURES = int(env("CARRIER_BREAKER_FAILURES", "5"))
CARRIER_BREAKER_SECONDS = float(env("CARRIER_BREAKER_SECONDS", "30"))
CARRIER_RATE_PER_SECOND = int(env("CARRIER_RATE_PER_SECOND", "100"))
# calls made at once by one batch allocation against a carrier API (issue_many)
CARRIER_CONCURRENCY = int(env("CARRIER_CONCURRENCY", "16"))
# where carriers reach this site (tracking pushes): scheme and host, no trailing slash;
# empty: no callback URL is given to carriers (no pushed tracking)
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "").rstrip("/")
# a reservation whose attempt ended without the carrier's answer (a crash, a time-out) is
# settled by asking the carrier once it is this old: longer than any gateway's time-outs
RESERVATION_SETTLE_AFTER_SECONDS = int(env("RESERVATION_SETTLE_AFTER_SECONDS", "300"))
# --- events out (events/): webhooks and notifications ---------------------------------------
# webhooks may go to public addresses only; list other networks here (CIDRs, comma-separated)
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", "")
WEBHOOK_CONNECT_TIMEOUT = float(env("WEBHOOK_CONNECT_TIMEOUT", "3"))
WEBHOOK_TIMEOUT = float(env("WEBHOOK_TIMEOUT", "5"))
# seconds between a failed attempt and the next (about a day in all)
WEBHOOK_RETRY_SCHEDULE = [
    int(s) for s in env_list("WEBHOOK_RETRY_SCHEDULE", "5,60,300,1800,7200,18000,36000,36000")
]
# a delivery not delivered this long after its event (its endpoint down) has failed
WEBHOOK_GIVE_UP_HOURS = float(env("WEBHOOK_GIVE_UP_HOURS", "24"))
# an endpoint failing without a success this long is disabled and its shop told
WEBHOOK_DISABLE_AFTER_HOURS = float(env("WEBHOOK_DISABLE_AFTER_HOURS", "72"))
# endpoints posted to at once by one worker; a sender's hold on an endpoint (crash recovery)
WEBHOOK_CONCURRENCY = int(env("WEBHOOK_CONCURRENCY", "8"))
WEBHOOK_LEASE_SECONDS = int(env("WEBHOOK_LEASE_SECONDS", "60"))
WEBHOOK_SEND_SECONDS = float(env("WEBHOOK_SEND_SECONDS", "50"))
WEBHOOK_SWEEP_SECONDS = float(env("WEBHOOK_SWEEP_SECONDS", "5"))
# days events, their delivery logs and notifications are kept (a daily sweep drops older)
EVENT_LOG_DAYS = float(env("EVENT_LOG_DAYS", "30"))
CELERY_TASK_ROUTES = {"events.tasks.*": {"queue": "events"}}
CELERY_BEAT_SCHEDULE = {
    "events-sweep": {
        "task": "events.tasks.sweep",
        "schedule": WEBHOOK_SWEEP_SECONDS,
    },
    "events-purge": {
        "task": "events.tasks.purge",
        "schedule": crontab(minute=37, hour=3),
    },
    "worker-heartbeat": {
        "task": "waybill_console.tasks.heartbeat",
        "schedule": 60.0,
    },
    "requeue-stalled-jobs": {
        "task": "waybill_console.tasks.requeue_stalled_jobs",
        "schedule": float(env("JOB_SWEEP_SECONDS", "60")),
    },
    "requeue-stalled-print-jobs": {
        "task": "printing.tasks.requeue_stalled_print_jobs",
        "schedule": float(env("JOB_SWEEP_SECONDS", "60")),
    },
    "order-time-rules": {
        "task": "shops.tasks.apply_order_time_rules",
        "schedule": 60.0,
    },
    # reservations whose attempt ended without the carrier's answer (crash, time-out)
    "settle-reservations": {
        "task": "waybills.tasks.settle_reservations",
        "schedule": float(env("JOB_SWEEP_SECONDS", "60")),
    },
    "recycle-waybills": {
        "task": "waybills.tasks.recycle_waybills",
        "schedule": crontab(minute=5),
    },
    "purge-gateway-calls": {
        "task": "carriers.tasks.purge_gateway_calls",
        "schedule": crontab(minute=27, hour=3),
    },
    "purge-idempotency-keys": {
        "task": "waybill_console.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17, hour=3),
    },
}

# --- security -------------------------------------------------------------------------
LOGIN_FAILURE_LIMIT_PER_HOUR = int(env("LOGIN_FAILURE_LIMIT_PER_HOUR", "100"))
#: failed logins per client address per hour, whatever usernames it tries (spraying)
LOGIN_FAILURE_LIMIT_PER_CLIENT_PER_HOUR = int(env("LOGIN_FAILURE_LIMIT_PER_CLIENT_PER_HOUR", "300"))
# where the server may connect to a network printer (printing/transports/network.py):
# comma-separated CIDRs (the private LAN ranges by default) and ports or ranges
PRINTER_ALLOWED_NETWORKS = env_list(
    "PRINTER_ALLOWED_NETWORKS", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
)
PRINTER_ALLOWED_PORTS = env_list("PRINTER_ALLOWED_PORTS", "9100-9109")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEV_DEFAULTS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
