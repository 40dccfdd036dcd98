"""Offload's settings: one module, every knob read from the environment.

The README's configuration table lists each variable; keep the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


VAR_DIR = Path(os.environ.get("OFFLOAD_VAR_DIR", BASE_DIR / "var")).resolve()
# The embedded database, uploads and collected static files live here.
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)

DEBUG = _env_bool("DEBUG", True)
# The fallback key only ever serves a laptop in DEBUG; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "offload-insecure-development-key-change-me")
if not DEBUG and SECRET_KEY.startswith("offload-insecure"):
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "offload.core",
    "offload.tenancy",
    "offload.contracts",
    "offload.workers",
    "offload.work",
    "offload.workforce",
    "offload.twin",
    "offload.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "offload.core.middleware.RequestContextMiddleware",
    "offload.core.middleware.BodySizeLimitMiddleware",
    "offload.core.middleware.ApiMethodNotAllowedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "offload.tenancy.context_processors.principal",
            ],
        },
    },
]


def database_config(url: str) -> dict[str, Any]:
    """Turn a DATABASE_URL into Django's settings, tuned per engine."""
    max_age = _env_int("DATABASE_CONN_MAX_AGE", 0)
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=max_age))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
        # BEGIN so concurrent writers queue on the busy timeout instead of failing
        # halfway through a transaction with "database is locked".
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # The routing cycle's statements are prepared (offload.work.pgcycle); with
        # the default `auto`, PostgreSQL keeps planning the claim afresh on every run,
        # which costs more than running it. Only prepared statements and PL/pgSQL
        # read this; Django's own queries are bound on the client.
        options = config.setdefault("OPTIONS", {})
        options["options"] = " ".join(
            filter(None, [options.get("options"), "-c plan_cache_mode=force_generic_plan"])
        )
    return config


DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'offload.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
DATABASES = {"default": database_config(DATABASE_URL)}
BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/offload_bench"
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenancy.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end packages come from npm (package.json + lock file); whitenoise serves them
# straight from node_modules through the finders, so nothing third-party is committed.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "uploads"
MEDIA_URL = "media/"

# One limit for request bodies, so a 10,000-item bulk call fits and nothing larger
# reaches a view; Django's own upload limits follow it.
OFFLOAD_MAX_BODY_BYTES = _env_int("OFFLOAD_MAX_BODY_BYTES", 32 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = OFFLOAD_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = min(OFFLOAD_MAX_BODY_BYTES, 5 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100_000
# The largest payload of one work item (its compact JSON, in bytes); a larger one is a
# 422 naming `payload` and this limit.
OFFLOAD_MAX_ITEM_PAYLOAD_BYTES = _env_int("OFFLOAD_MAX_ITEM_PAYLOAD_BYTES", 256 * 1024)
# Files on items: the largest one file, the most all of one item's files may add up
# to, and the content types accepted (docs/work-items.md#attachments).
OFFLOAD_ATTACHMENT_MAX_BYTES = _env_int("OFFLOAD_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
OFFLOAD_ITEM_ATTACHMENTS_MAX_BYTES = _env_int(
    "OFFLOAD_ITEM_ATTACHMENTS_MAX_BYTES", 25 * 1024 * 1024
)
OFFLOAD_ATTACHMENT_TYPES = [
    t.strip()
    for t in os.environ.get(
        "OFFLOAD_ATTACHMENT_TYPES",
        "application/pdf,image/png,image/jpeg,image/gif,image/webp,text/plain,text/csv,"
        "application/json,application/xml,text/xml,message/rfc822,application/zip,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
        "application/vnd.ms-excel,application/msword",
    ).split(",")
    if t.strip()
]

TASKS = {
    "default": {
        "BACKEND": os.environ.get("OFFLOAD_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "offload@localhost")
# Inbound mail (docs/email.md): where `offload smtpd` listens, the largest message it
# takes (a larger one is refused with 552), and how often IMAP mailboxes are polled.
OFFLOAD_SMTPD_HOST = os.environ.get("OFFLOAD_SMTPD_HOST", "127.0.0.1")
OFFLOAD_SMTPD_PORT = _env_int("OFFLOAD_SMTPD_PORT", 2525)
OFFLOAD_SMTPD_MAX_BYTES = _env_int("OFFLOAD_SMTPD_MAX_BYTES", 25 * 1024 * 1024)
OFFLOAD_IMAP_POLL_SECONDS = _env_int("OFFLOAD_IMAP_POLL_SECONDS", 60)

# Outbound calls (webhooks) to private, loopback and link-local addresses are refused
# (docs/webhooks.md#ssrf); development and tests with a receiver on loopback allow them.
OFFLOAD_ALLOW_PRIVATE_URLS = _env_bool("OFFLOAD_ALLOW_PRIVATE_URLS", False)
# The site's address as people reach it, for links in e-mail (notifications);
# links stay relative when it is empty.
OFFLOAD_SITE_URL = os.environ.get("OFFLOAD_SITE_URL", "").rstrip("/")

OFFLOAD_WORKER_INTERVAL = float(os.environ.get("OFFLOAD_WORKER_INTERVAL", "1.0"))
# A background job (forecast, schedule solve, twin run) whose heartbeat is older than
# this lost its worker: the recovery sweeps queue it again (docs/background.md).
OFFLOAD_JOB_STALE_SECONDS = int(os.environ.get("OFFLOAD_JOB_STALE_SECONDS", "900"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
