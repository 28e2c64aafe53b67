"""Fairslot settings: one module, read from the environment (see README "Configuration").

Embedded defaults (SQLite, Celery's filesystem broker, a local-memory cache, a console SMS backend)
make one machine enough to try the service; production sets DATABASE_URL, REDIS_URL and
CELERY_BROKER_URL. Nothing here exists only in production.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import languages
from config.env import env_bool, env_database, env_int, env_list, env_str, env_url
from config.schedule import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FAIRSLOT_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# --- Secrets --------------------------------------------------------------------------------
# Outside DEBUG every secret is required. In DEBUG, fixed development values stand in, named
# as such, so that `make run` works on a fresh clone; they must never reach production.
_DEV_MARK = "insecure-development-only"


def _dev_secret(purpose: str) -> str:
    return hashlib.sha256(f"{_DEV_MARK}:{purpose}".encode()).hexdigest()


def _required_secret(name: str) -> str:
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return _dev_secret(name)
    raise ImproperlyConfigured(
        f"{name} is required when DEBUG is off. Set it in the environment "
        f"(see README, section Configuration)."
    )


SECRET_KEY = _required_secret("SECRET_KEY")
if not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")


def _fernet_keys() -> list[str]:
    """FIELD_ENCRYPTION_KEYS: Fernet keys, comma-separated, newest first (for rotation)."""
    raw = env_str("FIELD_ENCRYPTION_KEYS")
    if not raw:
        if not DEBUG:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS is required when DEBUG is off: one or more Fernet keys, "
                "comma-separated, newest first. Make one with: python -c 'from cryptography."
                "fernet import Fernet; print(Fernet.generate_key().decode())'"
            )
        digest = hashlib.sha256(f"{_DEV_MARK}:fernet".encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    for key in keys:
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError
        except ValueError:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
                "(32 bytes, url-safe base64)."
            ) from None
    return keys


FIELD_ENCRYPTION_KEYS = _fernet_keys()
BLIND_INDEX_KEY = _required_secret("BLIND_INDEX_KEY")
if len(BLIND_INDEX_KEY) < 32:
    raise ImproperlyConfigured("BLIND_INDEX_KEY must be at least 32 characters long.")
if BLIND_INDEX_KEY in (SECRET_KEY, *FIELD_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(
        "BLIND_INDEX_KEY must differ from SECRET_KEY and the encryption keys."
    )

# --- Hosts and HTTP -------------------------------------------------------------------------
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# Number of reverse proxies in front of gunicorn whose X-Forwarded-For we trust (0: none).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "widget_tweaks",
    "dsfr",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Before accounts: its failed-login receivers run first, so accounts.staff_login counts the
    # failure axes has just recorded.
    "axes",
    "rest_framework",
    "drf_spectacular",
    # Redoc's bundle as a static file of our own: the docs page loads nothing from a CDN.
    "drf_spectacular_sidecar",
    "accounts",
    "booking",
    "lottery",
    "ops",
]

MIDDLEWARE = [
    # First: the request id is set before anything logs, and every answer is counted.
    "ops.middleware.RequestRecordMiddleware",
    # /healthz, /readyz and /metrics, answered before host checks and the HTTPS redirect.
    "ops.middleware.OperationalEndpointsMiddleware",
    # Compressed HTML for slow phones (a page of the registration form: 26 KB -> 6 KB). Django
    # pads each compressed answer with random bytes against BREACH, and masks CSRF tokens.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "booking.middleware.ApplicantSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "config.middleware.StaffLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Between the two: it decides who request.user is, django-otp then adds the device to that.
    "accounts.middleware.StaffSessionMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Inside the ones above, so that its 400 and 413 answers carry their headers too.
    "config.middleware.BadInputMiddleware",
    # Last, as axes asks: turns a login answered while locked out into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dsfr.context_processors.site_config",
            ],
        },
    },
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# --- Data -----------------------------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fairslot.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite serialises writers; a busy timeout turns "database is locked" into a short wait.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    # Bound every statement and lock wait so that a stuck request fails instead of piling up.
    DATABASES["default"]["OPTIONS"] = {
        "options": f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 30000)}"
        f" -c lock_timeout={env_int('DB_LOCK_TIMEOUT_MS', 3000)}",
        # A database that does not answer fails a request (and /readyz) in seconds, not minutes.
        "connect_timeout": env_int("DB_CONNECT_TIMEOUT_SECONDS", 5, minimum=1),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env_url("REDIS_URL", None, ("redis://", "rediss://", "unix://"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "TIMEOUT": 300,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "fairslot",
        }
    }

# --- Auth and sessions ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
# An applicant's session (logged in by one-time code) ends after this many idle seconds.
APPLICANT_SESSION_IDLE = 30 * 60
# A staff session (password + TOTP) ends after this many idle seconds, or this many in all
# (accounts.middleware); disabling the account or removing its role ends it at the next request.
STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
STAFF_SESSION_MAX_SECONDS = env_int("STAFF_SESSION_MAX_SECONDS", 12 * 3600, minimum=60)

# Staff login lockout (django-axes). Why a burst of login tries slowed the public pages: each
# try runs the password hasher (PBKDF2, 1.5M iterations: 0.3 s of CPU on this 2-core machine),
# so five tries a second keep about 1.5 cores busy and every other request waits for CPU. Axes'
# backend comes first and refuses a locked-out username or address before ModelBackend hashes
# anything: a locked try costs a few indexed queries (about 15 ms measured on the dev server).
# Axes does nothing on other paths: its backend runs only inside authenticate(), which only the
# staff login calls, and its middleware only reads a flag the backend sets on the request
# (tests/accounts/test_staff_login.py: GET / makes no axes query while an address is locked).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
# Either a username or an address reaching the limit is locked (not only the pair).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A try made during the lockout starts the 15 minutes again (axes' default): the page says to
# wait, and an attacker who keeps trying stays locked out.
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.staff_login.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.staff_login.lockout_response"
# Kept (each username's last 1000) for the 24-hour alert of accounts.staff_login.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Masked in axes' stored request data and log lines (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]
# No "AXES: BEGIN" banner at every process start (each management command printed one); the
# failures and lockouts are still logged.
AXES_VERBOSE = False
# A username reaching this many failed staff logins in 24 hours is reported (fairslot.security).
STAFF_LOGIN_ALERT_FAILURES = 20

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SECURE)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # DSFR and the admin set a few inline styles; scripts stay strict.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
}
OTP_TOTP_ISSUER = "Fairslot"
OTP_TOTP_TOLERANCE = 1

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "fr"
# Eight languages, each named in its own script; three are unknown to Django (config/languages).
LANGUAGES = languages.LANGUAGES
LANGUAGES_BIDI = languages.LANGUAGES_BIDI
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Collected static files (collectstatic): compressed, with fingerprinted names that WhiteNoise
# serves with a one-year cache. Always outside DEBUG; `make run` collects them too and sets
# STATIC_COLLECTED=1, so that the demo serves what production serves. A plain DEBUG run without
# it serves the app folders as they are, uncompressed, re-read on each request.
STATIC_COLLECTED = env_bool("STATIC_COLLECTED", not DEBUG)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {
        "BACKEND": "config.staticfiles.FingerprintedStaticFilesStorage"
        if STATIC_COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if STATIC_COLLECTED:
    WHITENOISE_USE_FINDERS = False
    WHITENOISE_AUTOREFRESH = False
# WhiteNoise rewrites url()s inside the DSFR CSS, so its SRI hashes no longer match. (Our pages
# load booking/dsfr-subset.css instead, see scripts/build_dsfr_css.py; the tags stay unused.)
DSFR_USE_INTEGRITY_CHECKSUMS = False
# We render names typed by applicants: components must escape their content.
DSFR_CONTENT_IS_SAFE = False
DSFR_MARK_OPTIONAL_FIELDS = True

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    # DRF's parsers, with a JSON one answering 400 to any malformed body (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fairslot API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",
}
# No request body is larger than this (config.middleware answers 413, JSON bodies included).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    ("filesystem://", "redis://", "rediss://", "amqp://", "memory://"),
)
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery" / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    _broker_dir.mkdir(parents=True, exist_ok=True)
else:
    # Redis redelivers a message not acknowledged within the visibility timeout, even to a
    # second worker while the first still runs it. The idempotent tasks are acks_late
    # (acknowledged when done), so it must exceed the longest hard time limit (task_run_draw:
    # 35 minutes) and, many times over, the longest draw measured (a million entries: 24-25 s
    # end to end, up to 60 s on the machine's slow days, docs/benchmarks.md). Two hours is 120
    # times the slowest. A task stopped by its time limit is acknowledged as failed, not
    # redelivered (Celery's default acks_on_failure_or_timeout); only a lost worker's task is.
    # There is no result backend (CELERY_TASK_IGNORE_RESULT, no CELERY_RESULT_BACKEND), so this
    # is the only place the timeout is set.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 60 * 60)
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Delivery kicks are coalesced through the cache only when web and workers share it (Redis).
OUTBOX_COALESCE_KICKS = bool(REDIS_URL)
# Early acknowledgement unless a task says otherwise: acks_late and reject_on_worker_lost are
# set per task, only on the tasks idempotent by construction (each says why in its tasks.py).
CELERY_TASK_ACKS_LATE = False
# One message at a time per process: a long draw never holds short tasks hostage behind it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers and beat log through LOGGING below (JSON lines under LOG_FORMAT=json), not through the
# format Celery would otherwise install on the root logger.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The periodic tasks, each with why and how often: config/schedule.py.
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

# --- Draw ---------------------------------------------------------------------------------------
# drand relays from which the beacon round is fetched (verified against the pinned key whatever
# the relay). Empty: no fetching; a supervisor pastes the round's JSON (offline machines).
DRAND_RELAYS = env_list("DRAND_RELAYS", ["https://api.drand.sh", "https://drand.cloudflare.com"])
# The published absence rule of windows created from now on (booking.models.Window): whether an
# absence recorded for a person in the year before the close gives their entry weight 1. Off by
# default: an absence is always recorded (and resets the carry-over weight), nothing more.
ABSENCE_LOWERS_WEIGHT = env_bool("ABSENCE_LOWERS_WEIGHT", False)
# Where the public reads this project's source; each draw page links to it and each kit names the
# version that built it (lottery.kit.project_version). "{version}" is replaced by that git
# commit, e.g. https://git.example.org/fairslot/-/tree/{version}. Empty: no link.
SOURCE_URL = env_url("SOURCE_URL", "", ("https://", "http://"))
# The version kits name when git cannot tell it (an image built without .git): the commit.
FAIRSLOT_VERSION = env_str("FAIRSLOT_VERSION", "")

# --- Association helpers ----------------------------------------------------------------------
# Entries a helper, and all the helpers of one organisation, may register in one window
# (booking.helpers). An association's social worker accompanies a few dozen people a month; a
# large association a few hundred. More is a request to the prefecture, not a setting to raise.
HELPER_CAP_PER_WINDOW = env_int("HELPER_CAP_PER_WINDOW", 30, minimum=1)
ORGANISATION_CAP_PER_WINDOW = env_int("ORGANISATION_CAP_PER_WINDOW", 200, minimum=1)

# --- Notifications --------------------------------------------------------------------------
SMS_BACKEND = env_str("SMS_BACKEND", "accounts.sms.ConsoleBackend")
SMS_GATEWAY_URL = env_url("SMS_GATEWAY_URL", None, ("https://", "http://"))
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN", "")
if SMS_BACKEND == "accounts.sms.HttpGatewayBackend" and not SMS_GATEWAY_URL:
    raise ImproperlyConfigured("SMS_GATEWAY_URL is required with SMS_BACKEND=HttpGatewayBackend.")
SMS_DAILY_BUDGET = env_int("SMS_DAILY_BUDGET", 5000)
# Parts of the day's SMS budget, in percent (accounts.sms_budget): kept for verified contacts
# (log-ins, offers), and the most any one foreign country code may take.
SMS_VERIFIED_SHARE = env_int("SMS_VERIFIED_PERCENT", 30) / 100
SMS_FOREIGN_COUNTRY_SHARE = env_int("SMS_FOREIGN_COUNTRY_PERCENT", 2) / 100
MAILERS = {
    "default": {
        "BACKEND": env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
        "OPTIONS": {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Fairslot <no-reply@fairslot.localhost>")
# A console backend prints every phone number, address and one-time code into the worker's log.
# Without DEBUG it is refused at start unless ALLOW_CONSOLE_BACKENDS=1 says so (a test run, a
# demo), as a missing secret is: a forgotten SMS_BACKEND must not go live unnoticed.
ALLOW_CONSOLE_BACKENDS = env_bool("ALLOW_CONSOLE_BACKENDS", False)
_CONSOLE_BACKENDS = {
    "SMS_BACKEND": (SMS_BACKEND, "accounts.sms.ConsoleBackend"),
    "EMAIL_BACKEND": (
        MAILERS["default"]["BACKEND"],
        "django.core.mail.backends.console.EmailBackend",
    ),
}
for _name, (_chosen, _console) in _CONSOLE_BACKENDS.items():
    if _chosen == _console and not DEBUG and not ALLOW_CONSOLE_BACKENDS:
        raise ImproperlyConfigured(
            f"{_name} is the console backend ({_console}), which writes personal data and "
            f"one-time codes into the logs: set {_name} to a real backend (see README, section "
            "Configuration), or ALLOW_CONSOLE_BACKENDS=1 if that is really meant."
        )

# --- Logging --------------------------------------------------------------------------------
# Personal data never goes to logs: log pseudonymous ids (entry_id, pk) only.
# LOG_FORMAT=json (the image's default): one JSON object a line on stderr, with the request's
# id (config/logs.py, which also withholds the paths Django logs: they can hold tokens).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}.")
LOGGING_CONFIG = "config.logs.configure"  # LOGGING, and Python's warnings through it
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.logs.RequestIdFilter"},
        "withhold_path": {"()": "config.logs.WithholdPathFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "withhold_path"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint logs each step of each convocation PDF at INFO.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# Optional error reports (config/sentry.py: no request data, user or log line leaves).
SENTRY_DSN = env_url("SENTRY_DSN", "", ("https://", "http://"))
if SENTRY_DSN:
    from config.sentry import start as start_sentry

    start_sentry(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        release=FAIRSLOT_VERSION,
    )

# --- Operations -----------------------------------------------------------------------------
# Bearer token of /metrics (ops.metrics); unset: /metrics answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters long.")
