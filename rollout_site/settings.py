"""Settings for Rollout Desk, read from environment variables (12-factor).

Embedded defaults (no env at all, plus DEBUG=true) run on one laptop: SQLite in WAL mode under
var/ and Celery over kombu's filesystem transport under var/broker/. Production points
DATABASE_URL at PostgreSQL and CELERY_BROKER_URL at Redis or RabbitMQ.
"""

import hashlib
import hmac
import ipaddress
import os
import tempfile
import warnings
from pathlib import Path

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random string, "
            "e.g. the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            "For local development only, set DEBUG=true instead."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 (DEBUG only)

# The key of the audit trail's HMAC chain and checkpoints. It lives only in the environment (or a
# key file), never in the database: whoever can write the tables but lacks the key cannot forge
# an event or a checkpoint that `audit_verify` accepts. Separate from SECRET_KEY so either can be
# rotated or handed to a verifier alone.
AUDIT_HMAC_KEY = env_secret("AUDIT_HMAC_KEY")
if not AUDIT_HMAC_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "AUDIT_HMAC_KEY is not set. Set AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE) to a long "
            "random string kept outside the database, e.g. the output of: python3 -c 'import "
            "secrets; print(secrets.token_urlsafe(50))'; every process (web, worker, beat, "
            "manage.py) needs the same one. For local development only, set DEBUG=true instead."
        )
    # DEBUG only: derived from SECRET_KEY, so a laptop needs nothing more and keeps one chain.
    AUDIT_HMAC_KEY = hmac.new(
        SECRET_KEY.encode(), b"rollout-desk audit chain", hashlib.sha256
    ).hexdigest()
elif len(AUDIT_HMAC_KEY) < 32:
    raise ImproperlyConfigured(
        f"AUDIT_HMAC_KEY is {len(AUDIT_HMAC_KEY)} characters long; use at least 32 random ones."
    )
elif AUDIT_HMAC_KEY == SECRET_KEY:
    raise ImproperlyConfigured("AUDIT_HMAC_KEY must differ from SECRET_KEY; generate a new one.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# JSON under /api/, Django's page elsewhere (rollout_site/errors.py).
CSRF_FAILURE_VIEW = "rollout_site.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "template_partials",
    "registry",
    "rollouts",
    "comparisons",
    "evaluations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so its process_exception sees a view's database fault first: 503 with Retry-After.
    "rollout_site.errors.DatabaseFaultMiddleware",
]

ROOT_URLCONF = "rollout_site.urls"
WSGI_APPLICATION = "rollout_site.wsgi.application"
ASGI_APPLICATION = "rollout_site.asgi.application"

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
                "registry.roles.roles_context",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_default_db = f"sqlite:///{VAR_DIR / 'rollout_desk.sqlite3'}"
_db_url = env_str("DATABASE_URL") or _default_db
if not _db_url.startswith(("sqlite:", "postgres:", "postgresql:")):
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with sqlite:// or postgres:// (got {_db_url.split(':', 1)[0]}://)."
    )
DATABASES = {"default": dj_database_url.parse(_db_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while a worker writes; IMMEDIATE takes the write lock at
        # BEGIN, so two writers queue on `timeout` instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, for the test database: integration tests start a real Celery worker
    # and a real web server that must see the same data.
    # Named per process, so two test runs on one checkout never share (and break) one file.
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test_rollout_desk_{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database that drops packets instead of refusing them must not hold the gateway's
    # recorder or a routing check for the kernel's two-minute connect timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Serve static files straight from the source folders (no collectstatic) in development and
# under test, where a stale var/staticfiles would otherwise win.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security (production defaults; each can be turned off behind a TLS-terminating proxy) ---
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy on every page (django-csp): scripts only from static/ (or an inline
# one carrying {{ request.csp_nonce }}), nothing from another origin, no plugins, no framing.
# Styles allow inline: plotly.js writes its chart styles at run time; style injection cannot
# run code, so this is the one relaxation.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
# Preloading HSTS is a commitment to browser vendors' lists; it stays the operator's opt-in.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Provider egress (registry/egress.py) ----------------------------------------------------
# Providers must be on the public internet: loopback, link-local (cloud metadata), private and
# unique-local addresses are refused at save time and before every call, except these host
# names, addresses or CIDR networks (e.g. "127.0.0.1" for the demo's built-in simulator, or
# "10.0.0.0/8" for a self-hosted model server).
PROVIDER_ALLOWED_HOSTS = env_list("PROVIDER_ALLOWED_HOSTS", [])
# A provider's key variable must end in _API_KEY or _API_TOKEN, or be named here; the product's
# own settings (SECRET_KEY, DATABASE_URL, *_FILE, ...) are refused whatever this says.
PROVIDER_KEY_ENV_ALLOWLIST = env_list("PROVIDER_KEY_ENV_ALLOWLIST", [])


# --- Celery ---------------------------------------------------------------------------------
def _beat_schedule_filename(configured: str, *, default: Path) -> str:
    """Where `celery beat` keeps its schedule state (when each entry last ran).

    Beat creates the file but not its folder, so on a fresh deployment without var/ (PostgreSQL
    and Redis need nothing else there) it died at start-up. The folder is made here; where it
    cannot be (a read-only image), beat runs from a temporary folder with a warning: losing that
    state only restarts each entry's interval, which the sweep and the purge both allow.
    """
    path = Path(configured) if configured else default
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "rollout-desk" / path.name
        fallback.parent.mkdir(parents=True, exist_ok=True)
        warnings.warn(
            f"The folder of the celery beat schedule {str(path)!r} cannot be created "
            f"({exc.strerror}); using {str(fallback)!r}. Set CELERY_BEAT_SCHEDULE_FILENAME to a "
            "writable path to keep it.",
            RuntimeWarning,
            stacklevel=2,
        )
        path = fallback
    return str(path)


CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport, writing each message atomically (see broker_files.py).
    CELERY_BROKER_TRANSPORT = "rollout_site.broker_files:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that is gone or silent (a black hole: connections accepted, nothing answered) costs a
# publish at most this long, never forever: kombu's Redis transport waits without limit on a
# half-open connection by default, which stalled the web processes' nudger thread and beat.
BROKER_TIMEOUT_SECONDS = env_int("BROKER_TIMEOUT_SECONDS", 5, minimum=1)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    }

# --- Shared cache ---------------------------------------------------------------------------
# State every web and worker process must agree on (per-token rate limits, login throttling,
# provider circuit breakers). CACHE_URL names a Redis; unset, a Redis broker is reused (keys are
# prefixed, so they never meet Celery's), and the embedded default keeps a folder under var/
# (shared by the processes of one machine; its counters are not atomic, so limits are approximate).
CACHE_URL = env_str("CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(
        f"CACHE_URL must start with redis:// or rediss:// (got {CACHE_URL.split(':', 1)[0]}://); "
        "leave it unset for the embedded file cache."
    )
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "rd",
            "TIMEOUT": 300,
            # The cache is the broker's Redis by default, and the gateway consults it (circuit
            # breakers): a silent Redis must cost a quarter second, not redis-py's 5 s default.
            "OPTIONS": {"socket_timeout": 0.25, "socket_connect_timeout": 0.25},
        }
        if CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": "rd",
            "TIMEOUT": 300,
        }
    )
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The database row is the truth for every task; results are never read from a backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)
# Default is early ack; tasks whose claim makes redelivery harmless opt in to acks_late.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = _beat_schedule_filename(
    env_str("CELERY_BEAT_SCHEDULE_FILENAME"), default=VAR_DIR / "celerybeat-schedule"
)
CELERY_BEAT_SCHEDULE = {
    "sweep-shadow-jobs": {"task": "comparisons.tasks.sweep_shadow_jobs", "schedule": 30.0},
    "purge-request-logs": {"task": "comparisons.tasks.purge_expired", "schedule": 3600.0},
    # The audit head (count, last hash) to the log and the append-only checkpoint table.
    "audit-checkpoint": {
        "task": "registry.tasks.audit_checkpoint",
        "schedule": float(env_int("AUDIT_CHECKPOINT_SECONDS", 600, minimum=10)),
    },
    # Eval runs whose message was lost or whose worker died get a new nudge.
    "sweep-eval-runs": {"task": "evaluations.tasks.sweep_runs", "schedule": 30.0},
    # Retirement warnings per feature, and the model catalog when one is configured.
    "deprecation-warnings": {"task": "rollouts.tasks.deprecation_warnings", "schedule": 86400.0},
    "import-model-catalog": {"task": "registry.tasks.import_catalog", "schedule": 86400.0},
    # Shadow pairs of rollouts with a judge config, judged in both orders.
    "judge-pending-pairs": {"task": "rollouts.judge_tasks.judge_pending_pairs", "schedule": 60.0},
    # Guardrails of every canary; a critical breach rolls back at once.
    "evaluate-guardrails": {
        "task": "rollouts.tasks_guardrails.guardrails_evaluate_all",
        "schedule": 60.0,
    },
    # Reviewer and judge verdicts per minute, for the canary charts.
    "roll-up-verdicts": {"task": "rollouts.tasks_verdicts.roll_up_verdicts", "schedule": 60.0},
}
CELERY_TIMEZONE = "UTC"

# --- Product settings -----------------------------------------------------------------------
# The built-in simulated provider (an OpenAI-compatible endpoint for demos and tests).
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", False)
# How long a replaced config stays pinned as the rollback target (DESIGN: 30+ days).
ROLLBACK_PIN_DAYS = env_int("ROLLBACK_PIN_DAYS", 30, minimum=30)
# Model versions whose deprecation date is this close are flagged (warning badge).
DEPRECATION_WARNING_DAYS = env_int("DEPRECATION_WARNING_DAYS", 90, minimum=1)

# --- Evaluations -------------------------------------------------------------------------------
# Case calls in flight at once per provider, per worker process (the executor's semaphore).
EVAL_PROVIDER_CONCURRENCY = env_int("EVAL_PROVIDER_CONCURRENCY", 128, minimum=1)
# A worker's claim on a case result; a result whose worker died is claimed again once it lapses.
EVAL_LEASE_SECONDS = env_int("EVAL_LEASE_SECONDS", 120, minimum=5)
# The longest a single case call (with its retries) may take before it is an error.
EVAL_CALL_DEADLINE_SECONDS = env_int("EVAL_CALL_DEADLINE_SECONDS", 90, minimum=1)
# The model catalog (LiteLLM's model_prices_and_context_window.json format): a path or an
# https URL read by `manage.py import_catalog` and the daily beat task; empty: the task is idle.
MODEL_CATALOG_SOURCE = env_str("MODEL_CATALOG_SOURCE")
# A campaign lists a feature as stalled when its rollout has not moved for this many days.
CAMPAIGN_STALE_DAYS = env_int("CAMPAIGN_STALE_DAYS", 7, minimum=1)

# --- Canary --------------------------------------------------------------------------------
# Where the site is, for absolute links in notifications (e.g. https://rollout.example.com).
SITE_URL = env_str("SITE_URL")

# Chart figures are plain data built by pure functions; plotly's property checks (~10 ms a
# figure, most of a chart endpoint's time) run where the figures are developed and tested
# (DEBUG, and the test suite turns it on), not on every production request.
PLOTLY_VALIDATE = env_bool("PLOTLY_VALIDATE", DEBUG)
# Webhook variable names allowed besides *_WEBHOOK_URL (guardrail notifications).
WEBHOOK_URL_ENV_ALLOWLIST = env_list("WEBHOOK_URL_ENV_ALLOWLIST", [])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
}

# Port of the web process started by `make run` (honcho claims PORT for itself).
ROLLOUT_PORT = env_int("ROLLOUT_PORT", 8000, minimum=1)
# How stale another process's routing table may be before it re-checks the database.
ROUTING_REFRESH_SECONDS = env_int("ROUTING_REFRESH_MS", 250, minimum=0) / 1000
# A queued shadow job older than this is nudged again by the sweep (its message may be lost).
SHADOW_REDISPATCH_SECONDS = env_int("SHADOW_REDISPATCH_SECONDS", 120, minimum=1)
# A worker's claim on a shadow job lasts this long and is renewed every third of it while the
# provider call runs; a job whose worker died is re-queued by the 30 s sweep once it lapses
# (so within SHADOW_LEASE_SECONDS + 30 s; 90 s by default).
SHADOW_LEASE_SECONDS = env_int("SHADOW_LEASE_SECONDS", 60, minimum=1)
# Request logs older than this are purged (pairs, which may carry labels, are kept).
REQUEST_LOG_RETENTION_DAYS = env_int("REQUEST_LOG_RETENTION_DAYS", 30, minimum=1)

# --- Provider circuit breaker (per endpoint, shared cache; traffic/providers/breaker.py) -----
# Opens when, within BREAKER_WINDOW_SECONDS, at least BREAKER_MIN_CALLS attempts were made and
# BREAKER_FAILURE_PERCENT of them failed (5xx, connection, timeout), or after BREAKER_CONSECUTIVE
# failures in a row; probes again after BREAKER_COOLDOWN_SECONDS with BREAKER_PROBES calls.
BREAKER_WINDOW_SECONDS = env_int("BREAKER_WINDOW_SECONDS", 30, minimum=1)
BREAKER_MIN_CALLS = env_int("BREAKER_MIN_CALLS", 20, minimum=1)
BREAKER_FAILURE_RATIO = env_int("BREAKER_FAILURE_PERCENT", 50, minimum=1) / 100
BREAKER_CONSECUTIVE = env_int("BREAKER_CONSECUTIVE", 10, minimum=1)
BREAKER_COOLDOWN_SECONDS = env_int("BREAKER_COOLDOWN_SECONDS", 30, minimum=1)
BREAKER_PROBES = env_int("BREAKER_PROBES", 3, minimum=1)
# How stale a process's view of the shared state may be (the hot path reads only its own view).
BREAKER_REFRESH_SECONDS = env_int("BREAKER_REFRESH_MS", 1000, minimum=0) / 1000

# --- Rate limits and login throttling (counted in the shared cache; traffic/ratelimit.py) ------
# Requests per minute per API token, on /api/v1/ and on the gateway; 0 turns the limit off.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 6000, minimum=0)
GATEWAY_RATE_LIMIT_PER_MINUTE = env_int("GATEWAY_RATE_LIMIT_PER_MINUTE", 6000, minimum=0)
# Failed sign-ins allowed per username and per client address within the window; further
# attempts are refused (429) without checking the password until the oldest failure ages out.
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5, minimum=0)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20, minimum=0)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# Behind a reverse proxy every sign-in comes from the proxy's address: trust the last address
# of X-Forwarded-For (the one the proxy appended) as the client's. Only with such a proxy.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)


def _phone_regions(raw: list[str]) -> list[str]:
    regions = [region.upper() for region in raw]
    if regions != ["US"]:  # the default needs no check, nor the library loaded for it
        import phonenumbers

        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ImproperlyConfigured(
                f"REDACT_PHONE_REGION names {', '.join(unknown)}, which is not a region code; "
                "use ISO 3166 codes such as US, GB, DE, FR, IN or JP, separated by commas."
            )
    return regions


# Phone numbers written without "+country code" are redacted when they are valid in the national
# format of one of these regions (each extra region adds its cost per number-like sequence);
# "+" numbers are redacted whatever the region (traffic/redaction.py).
REDACT_PHONE_REGION = _phone_regions(env_list("REDACT_PHONE_REGION", ["US"]))
# The API refuses bodies over 5 MB with a 413 itself; Django's own cap sits just above it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

# --- Metrics (GET /metrics, Prometheus) -----------------------------------------------------
# PROMETHEUS_MULTIPROC_DIR is read by prometheus-client itself when a process starts: every web
# and worker process of one machine writes its figures there and a scrape adds them up
# (registry/observability.py). Made here, so a configured folder always exists.
if env_str("PROMETHEUS_MULTIPROC_DIR"):
    Path(env_str("PROMETHEUS_MULTIPROC_DIR")).mkdir(parents=True, exist_ok=True)
# A scraper presents `Authorization: Bearer <METRICS_TOKEN>`; only the token's SHA-256 is kept.
_metrics_token = env_secret("METRICS_TOKEN")
METRICS_TOKEN_SHA256 = hashlib.sha256(_metrics_token.encode()).hexdigest() if _metrics_token else ""
del _metrics_token


def _networks(name: str, raw: list[str]) -> list[str]:
    for item in raw:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} names {item!r}, which is not an IP address or CIDR network; use e.g. "
                "127.0.0.1/32,10.0.0.0/8,::1 (empty: the token only)."
            ) from None
    return raw


# Scrapers from these networks need no token (the connecting address; a request that came
# through a proxy, with X-Forwarded-For or Forwarded, is never admitted by network alone).
# Unset: loopback only; set but empty: nobody without the token.
METRICS_ALLOWED_NETWORKS = _networks(
    "METRICS_ALLOWED_NETWORKS",
    env_list("METRICS_ALLOWED_NETWORKS", [])
    if "METRICS_ALLOWED_NETWORKS" in os.environ
    else ["127.0.0.0/8", "::1/128"],
)
