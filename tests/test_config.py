"""Configuration rules that protect a deployment: no weak secret key in production, secure
cookies there, a kept key on a laptop, and database URLs that reach the shipped driver.

No database is needed: each app gets a temporary instance folder and a SQLite URI that is
never connected to.
"""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest

import config
from eventsys import ConfigurationError, create_app

GOOD_KEY = "k" * 8 + secrets.token_urlsafe(40)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """The settings under test come from the environment; start every test without them."""
    for name in ("SECRET_KEY", "EVENTSYS_ENV", "SESSION_COOKIE_SECURE", "DATABASE_URL",
                 "EVENTSYS_INSTANCE"):
        monkeypatch.delenv(name, raising=False)


def _config(instance: Path, environment: str, **extra) -> dict:
    return {
        "ENVIRONMENT": environment,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'never-used.sqlite'}",
        **extra,
    }


# Production refuses weak keys -------------------------------------------------------------

@pytest.mark.parametrize(
    "key",
    [None, "", "   ", "dev", "change-me", "CHANGE-ME", "changeme", "secret", "default",
     "x" * 31, secrets.token_urlsafe(16)],
    ids=["unset", "empty", "blank", "dev", "change-me", "CHANGE-ME", "changeme", "secret",
         "default", "31-chars", "short-random"],
)
def test_production_refuses_a_missing_or_weak_secret_key(tmp_path, monkeypatch, key):
    if key is not None:
        monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(_config(tmp_path / "instance", "production"))
    # Nothing was generated to paper over the missing key.
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_refuses_a_weak_key_given_in_the_config_too(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    with pytest.raises(ConfigurationError):
        create_app(_config(tmp_path / "instance", "production", SECRET_KEY="dev"))


def test_production_environment_variable_selects_the_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTSYS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "change-me")
    overrides = _config(tmp_path / "instance", "production")
    del overrides["ENVIRONMENT"]
    with pytest.raises(ConfigurationError):
        create_app(overrides)


# Production with a good key ---------------------------------------------------------------

@pytest.mark.parametrize("key", [GOOD_KEY, "z" * 32], ids=["random", "exactly-32"])
def test_production_starts_with_a_good_key_and_secure_cookies(tmp_path, monkeypatch, key):
    monkeypatch.setenv("SECRET_KEY", key)
    app = create_app(_config(tmp_path / "instance", "production"))
    assert app.config["SECRET_KEY"] == key
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    # The key came from the environment; none was written to disk.
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_pages_carry_hsts_and_a_secure_session_cookie(tmp_path, monkeypatch):
    """The login page needs no database; its session cookie must be Secure and HttpOnly."""
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    app = create_app(_config(tmp_path / "instance", "production"))
    response = app.test_client().get("/login", base_url="https://eventsys.test")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_development_cookies_are_not_secure_by_default(tmp_path):
    app = create_app(_config(tmp_path / "instance", "development", SECRET_KEY=GOOD_KEY))
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


# Development keeps a generated key --------------------------------------------------------

def test_development_generates_and_keeps_a_private_key(tmp_path):
    instance = tmp_path / "instance"
    first = create_app(_config(instance, "development"))
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert key == key_file.read_text().strip()
    assert len(key) >= 32 and key.strip().lower() not in {"dev", "change-me"}

    second = create_app(_config(instance, "development"))
    assert second.config["SECRET_KEY"] == key  # logins survive a restart

    elsewhere = create_app(_config(tmp_path / "other", "development"))
    assert elsewhere.config["SECRET_KEY"] != key  # each instance has its own


def test_development_uses_a_given_key_without_writing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-developer-key")
    app = create_app(_config(tmp_path / "instance", "development"))
    assert app.config["SECRET_KEY"] == "a-developer-key"
    assert not (tmp_path / "instance" / "secret_key").exists()


# Database URLs ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u:p%40ss@h:5433/db?sslmode=require",
         "postgresql+psycopg://u:p%40ss@h:5433/db?sslmode=require"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/lib/eventsys.sqlite", "sqlite:////var/lib/eventsys.sqlite"),
    ],
)
def test_database_urls_use_the_shipped_driver(tmp_path, monkeypatch, given, expected):
    assert config._database_url(given, tmp_path) == expected
    monkeypatch.setenv("DATABASE_URL", given)
    assert config.load_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize("given", [None, ""])
def test_no_database_url_means_sqlite_in_the_instance_folder(tmp_path, given):
    assert config._database_url(given, tmp_path) == f"sqlite:///{tmp_path / 'eventsys.sqlite'}"
    assert config.load_config(tmp_path)["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
