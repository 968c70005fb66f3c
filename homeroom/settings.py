"""Django settings for Homeroom, read from the environment.

- `DATABASE_URL`: `sqlite:///path` (default `var/homeroom.sqlite3` under the current
  directory) or `postgres://user@host:port/name`.
- `HOMEROOM_DATA_DIR`: where the embedded database and the generated secret key live.
- `HOMEROOM_SECRET_KEY`, `HOMEROOM_DEBUG`, `HOMEROOM_ALLOWED_HOSTS` (comma separated).
- `HOMEROOM_MAX_UPLOAD_MB`: the most the files of one web import may hold together (500).
- `HOMEROOM_MAX_IMPORT_MB` (1024) and `HOMEROOM_MAX_IMPORT_ROWS` (5,000,000): the most an
  import reads from one file, uncompressed, in bytes and in lines.
- `HOMEROOM_HTTPS=1`: served over HTTPS only (docs/deployment.md): redirects plain HTTP,
  sends HSTS (`HOMEROOM_HSTS_SECONDS`, a year; `HOMEROOM_HSTS_PRELOAD=0` to leave the
  preload flag out), and marks the session and CSRF cookies Secure.
- `HOMEROOM_BEHIND_PROXY=1`: a TLS proxy in front sets `X-Forwarded-Proto` and
  `X-Forwarded-For`; Homeroom believes them (and only then) for the scheme and the
  client's address.
- `HOMEROOM_LOGIN_FAILURES` (5), `HOMEROOM_LOGIN_ADDRESS_FAILURES` (20),
  `HOMEROOM_LOGIN_LOCKOUT_MINUTES` (30): sign-in lockout per account and per address.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("HOMEROOM_DATA_DIR", "var")).resolve()


def _secret_key() -> str:
    """The configured key, or one generated once and kept in the data directory."""
    if key := os.environ.get("HOMEROOM_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("HOMEROOM_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("HOMEROOM_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(
    ","
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "homeroom.core",
    "homeroom.accounts",
    "homeroom.access",
    "homeroom.roster",
    "homeroom.ingest",
    "homeroom.attendance",
    "homeroom.metrics",
    "homeroom.warnings",
    "homeroom.interventions",
    "homeroom.outreach",
    "homeroom.truancy",
    "homeroom.impact",
    "homeroom.stewardship",
    "homeroom.surveys",
    "homeroom.pipeline",
    "homeroom.demo",
    "homeroom.web",
    "homeroom.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "homeroom.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "homeroom.web.middleware.NoStoreMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "homeroom.web.middleware.DistrictTimezoneMiddleware",
    "homeroom.web.middleware.DeniedStudentAuditMiddleware",
]

ROOT_URLCONF = "homeroom.urls"
WSGI_APPLICATION = "homeroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'homeroom.sqlite3'}"
if not _database_url.startswith(("sqlite://", "postgres://", "postgresql://")):
    raise ImproperlyConfigured(
        f"DATABASE_URL {_database_url.split('://')[0]!r} is not supported: use "
        "sqlite:///path/to/file.sqlite3 or postgres://user@host:5432/name"
    )
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # No JIT compilation: the pages' queries are estimated costly (a gatekeeper's EXISTS over
    # every student) but run in tens of ms, and compiling them took a second each (a
    # counselor's students list at 50,000 students: 1.33 s, of which JIT 1.13 s).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# Parallel test runs (several developers or helpers on one machine) each name their own
# test database so they never drop each other's.
if test_name := os.environ.get("HOMEROOM_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": test_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
# The staff interface's languages (docs/languages.md): each user picks one on their account;
# the translations live in homeroom/locale, and how dates and numbers are written in each in
# homeroom/core/formats (Django's own locale data fills in the rest).
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
FORMAT_MODULE_PATH = ["homeroom.core.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Web imports keep their files under DATA_DIR/uploads (never served); Django sets no limit
# on uploaded files, so `homeroom.pipeline.uploads.UploadLimit` enforces this one.
HOMEROOM_MAX_UPLOAD_BYTES = int(os.environ.get("HOMEROOM_MAX_UPLOAD_MB", "500")) * 1024 * 1024
# What an import reads from any one file, once uncompressed (a zip's members included), and
# how many lines: past either the file is refused before it is read whole (docs/import.md).
HOMEROOM_MAX_IMPORT_BYTES = int(os.environ.get("HOMEROOM_MAX_IMPORT_MB", "1024")) * 1024 * 1024
HOMEROOM_MAX_IMPORT_ROWS = int(os.environ.get("HOMEROOM_MAX_IMPORT_ROWS", "5000000"))

# Family outreach (docs/outreach.md). Email goes through the district's SMTP server; texts
# through an SMS account (Twilio's Messages API shape). Secrets come from the environment.
_smtp = {
    "host": os.environ.get("HOMEROOM_SMTP_HOST", "localhost"),
    "port": int(os.environ.get("HOMEROOM_SMTP_PORT", "25")),
    "username": os.environ.get("HOMEROOM_SMTP_USER", ""),
    "password": os.environ.get("HOMEROOM_SMTP_PASSWORD", ""),
    "use_tls": os.environ.get("HOMEROOM_SMTP_STARTTLS", "") == "1",
    "use_ssl": os.environ.get("HOMEROOM_SMTP_SSL", "") == "1",
    "timeout": 15,
}
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
MAILERS = {
    "default": {"BACKEND": SMTP_BACKEND, "OPTIONS": _smtp},
    "families": {"BACKEND": SMTP_BACKEND, "OPTIONS": _smtp},  # outreach's messages
}
DEFAULT_FROM_EMAIL = os.environ.get("HOMEROOM_MAIL_FROM", "attendance@localhost")
HOMEROOM_SMS = {
    "API_URL": os.environ.get("HOMEROOM_SMS_API_URL", "https://api.twilio.com"),
    "ACCOUNT_SID": os.environ.get("HOMEROOM_SMS_ACCOUNT_SID", ""),
    "AUTH_TOKEN": os.environ.get("HOMEROOM_SMS_AUTH_TOKEN", ""),
    "FROM": os.environ.get("HOMEROOM_SMS_FROM", ""),  # a number, or a Messaging Service SID
    "PUBLIC_URL": os.environ.get("HOMEROOM_PUBLIC_URL", ""),  # where the webhooks are reached
    # Whether the provider answers a repeated idempotency key with the first message.
    "IDEMPOTENT": os.environ.get("HOMEROOM_SMS_IDEMPOTENT", "") == "1",
}
# The secret in the inbound-email webhook's address (outreach: families' email replies).
HOMEROOM_EMAIL_INBOUND_TOKEN = os.environ.get("HOMEROOM_EMAIL_INBOUND_TOKEN", "")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 60 * 60
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default) == "1"


# Production is HTTPS (docs/deployment.md); the embedded demo on 127.0.0.1 is not.
HTTPS = _flag("HOMEROOM_HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("HOMEROOM_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and _flag("HOMEROOM_HSTS_PRELOAD", "1")
# Behind a TLS proxy the request reaches Homeroom over plain HTTP from the proxy: the proxy
# says what the client used. Believed only when configured, since a client could send it.
BEHIND_PROXY = _flag("HOMEROOM_BEHIND_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None

# Content-Security-Policy (Django's own middleware): everything from this server, nothing
# inline, no plugins, no framing. Pages keep their scripts and styles in static files.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Sign-in lockout (homeroom/accounts/lockout.py): failures in a row, per account and per
# address, lock sign-in for a while; a district administrator can unlock sooner.
LOGIN_FAILURES = int(os.environ.get("HOMEROOM_LOGIN_FAILURES", "5"))
LOGIN_ADDRESS_FAILURES = int(os.environ.get("HOMEROOM_LOGIN_ADDRESS_FAILURES", "20"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("HOMEROOM_LOGIN_LOCKOUT_MINUTES", "30"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
