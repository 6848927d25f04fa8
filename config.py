"""Settings from environment variables, with defaults that run a demo on a laptop.

With nothing set, eventsys uses a SQLite file under ``instance/``, an in-process Celery
(memory broker, worker thread inside ``eventsys run``) and writes mail to ``instance/mail/``.
Setting ``DATABASE_URL``, ``REDIS_URL`` and ``SMTP_URL`` moves the same code to PostgreSQL,
a Redis broker with separate worker processes and a real SMTP server.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(url: str | None, instance_path: Path) -> str:
    if not url:
        return f"sqlite:///{instance_path / 'eventsys.sqlite'}"
    # Heroku-style URLs and bare postgresql:// go through psycopg 3, the driver we ship.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the Flask config dict; ``overrides`` (tests) win over the environment."""
    env = os.environ
    overrides = dict(overrides or {})
    environment = overrides.get("ENVIRONMENT", env.get("EVENTSYS_ENV", "development"))
    production = environment == "production"
    redis_url = overrides.get("REDIS_URL", env.get("REDIS_URL") or None)
    config: dict = {
        "ENVIRONMENT": environment,
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": _database_url(env.get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "SMTP_URL": env.get("SMTP_URL") or None,
        "MAIL_DIR": str(instance_path / "mail"),
        "FILES_DIR": env.get("FILES_DIR") or str(instance_path / "files"),
        "MAIL_FROM": env.get("MAIL_FROM", "eventsys <no-reply@eventsys.localhost>"),
        # Links in emails are built from this, never from the request's Host header, so a
        # forged Host cannot turn a password-reset mail into a link to someone else's site.
        "BASE_URL": env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SITE_NAME": env.get("SITE_NAME", "eventsys"),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 12,
        "WTF_CSRF_TIME_LIMIT": 60 * 60 * 8,
        # A request body: the largest upload (a 25 MB session material) and its form.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 26 * 1024 * 1024)),
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        "PASSWORD_RESET_HOURS": 2,
        # The anonymous registration form is rendered at most once per this many seconds
        # per process and language (eventsys/web/microcache.py); 0 renders every time.
        "REGISTRATION_FORM_CACHE_SECONDS": float(env.get("REGISTRATION_FORM_CACHE_SECONDS", 1)),
        # Login throttling: failures per address and per client IP within the window.
        "LOGIN_WINDOW_MINUTES": 15,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5,
        "LOGIN_MAX_FAILURES_PER_IP": 30,
        "OUTBOX_BATCH_SIZE": int(env.get("OUTBOX_BATCH_SIZE", 100)),
        "OUTBOX_MAX_ATTEMPTS": int(env.get("OUTBOX_MAX_ATTEMPTS", 8)),
        "OUTBOX_SWEEP_SECONDS": float(env.get("OUTBOX_SWEEP_SECONDS", 30)),
        # A worker holds the messages it is sending this long (renewed at half time while
        # it still sends); a worker that dies leaves them to the sweep once it runs out.
        "OUTBOX_LEASE_SECONDS": float(env.get("OUTBOX_LEASE_SECONDS", 300)),
        # Delivery records each outcome with an asynchronous commit on PostgreSQL (4x the
        # messages a second): a database server crash may then forget the last ~0.6 s of
        # outcomes and those messages go again, same Message-ID. 1 makes them durable.
        "OUTBOX_DURABLE_OUTCOMES": env.get("OUTBOX_DURABLE_OUTCOMES", "") in {"1", "true"},
        # First retry after a temporary SMTP failure; doubles each time, with jitter.
        "OUTBOX_RETRY_BASE_SECONDS": float(env.get("OUTBOX_RETRY_BASE_SECONDS", 30)),
        # At most this many messages a second to the SMTP server, spread evenly (one every
        # 1/N s), across all workers (through Redis when there is one); 0 for no limit.
        "SMTP_MAX_PER_SECOND": float(env.get("SMTP_MAX_PER_SECOND", 0)),
        # New mail is announced to the workers from a background thread, one task for the
        # messages committed within this many seconds (0: one task per commit, at once).
        "ANNOUNCE_DELAY_SECONDS": float(env.get("ANNOUNCE_DELAY_SECONDS", 0.05)),
        # Certificates (services/certificates.py): how many one WeasyPrint document lays out
        # (a divisor of 500, at most 250), how many worker tasks share an issue, how long a
        # worker holds a batch before another may take it over, and the locale of the dates
        # printed ("en_GB": 7 December 2021; empty: the site's language).
        "CERTIFICATE_BATCH": int(env.get("CERTIFICATE_BATCH", 100)),
        "CERTIFICATE_WORKERS": int(env.get("CERTIFICATE_WORKERS", 4)),
        "CERTIFICATE_BATCH_LEASE_SECONDS": float(env.get("CERTIFICATE_BATCH_LEASE_SECONDS",
                                                         30)),
        "CERTIFICATE_LOCALE": env.get("CERTIFICATE_LOCALE") or None,
        # How many reverse proxies stand in front (nginx: 1). Their X-Forwarded-For and
        # X-Forwarded-Proto are then believed, so that per-client limits (login, /verify)
        # count each visitor, not the proxy. 0: none, trust nothing forwarded.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", 0)),
        # /verify: lookups and PDF uploads per client address and minute (through Redis
        # when there is one, so across all web processes).
        "VERIFY_LOOKUPS_PER_MINUTE": int(env.get("VERIFY_LOOKUPS_PER_MINUTE", 30)),
        "VERIFY_UPLOADS_PER_MINUTE": int(env.get("VERIFY_UPLOADS_PER_MINUTE", 5)),
        "CELERY": {
            "broker_url": redis_url or "memory://localhost/",
            "result_backend": None,
            "task_ignore_result": True,
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            # Publishing happens after the commit, from inside a request; never let an
            # unreachable broker hold the participant's page for long. The periodic sweep
            # delivers whatever could not be announced.
            "broker_connection_timeout": 2,
            "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0.2},
            "broker_transport_options": {"polling_interval": 0.2} if not redis_url else {},
            "task_always_eager": False,
            "imports": ["workers.tasks"],
            # Mail has its own queue, so a slow mail server never holds up other work
            # (PDFs, certificates). A worker started without -Q takes both; production
            # may run `celery -A workers worker -Q mail` apart.
            "task_queues": {"celery": {}, "mail": {}},
            "task_routes": {name: {"queue": "mail"} for name in (
                "eventsys.deliver_outbox", "eventsys.sweep_outbox", "eventsys.run_job")},
        },
    }
    celery_overrides = overrides.pop("CELERY", None)
    config.update(overrides)
    if celery_overrides:
        config["CELERY"] = {**config["CELERY"], **celery_overrides}
    return config
