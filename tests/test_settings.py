"""Settings are read strictly: a typo in a deployment fails at start-up, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from rollout_site import env

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-key-" + "k3Y9" * 12,
    "ALLOWED_HOSTS": "rollout.example.com",
}


def _run(code: str, overrides: dict, tmp_path) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "SECRET_KEY_FILE",
            "SECURE_SSL_REDIRECT",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
        }
    }
    clean.update({"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "rollout_site.settings"})
    clean.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SETUP = "import django; django.setup(); print('started')"


@pytest.mark.parametrize("raw", ["maybe", "ture", "2"])
def test_a_bad_boolean_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("DEBUG", raw)
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG=.* is not a boolean; use one of"):
        env.env_bool("DEBUG", False)


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("0", False), ("Yes", True), ("", False), (None, False)]
)
def test_booleans_read_the_usual_spellings(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("DEBUG", raising=False)
    else:
        monkeypatch.setenv("DEBUG", raw)
    assert env.env_bool("DEBUG", False) is expected


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("CONN_MAX_AGE", "ten")
    with pytest.raises(ImproperlyConfigured, match="CONN_MAX_AGE='ten' is not a whole number"):
        env.env_int("CONN_MAX_AGE", 60)
    monkeypatch.setenv("CONN_MAX_AGE", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.env_int("CONN_MAX_AGE", 60, minimum=0)


def test_a_secret_comes_from_a_file_and_not_from_both(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-the-file\n")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert env.env_secret("SECRET_KEY") == "from-the-file"
    monkeypatch.setenv("SECRET_KEY", "direct")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env.env_secret("SECRET_KEY")
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.env_secret("SECRET_KEY")


def test_without_debug_a_missing_secret_key_stops_start_up(tmp_path):
    result = _run(SETUP, {"DEBUG": "false"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "started" not in result.stdout


def test_a_bad_debug_value_stops_start_up_naming_it(tmp_path):
    result = _run(SETUP, {"DEBUG": "yes please"}, tmp_path)
    assert result.returncode != 0
    assert "DEBUG='yes please' is not a boolean" in result.stderr


def test_an_unsupported_database_url_is_refused(tmp_path):
    result = _run(SETUP, {**PRODUCTION, "DATABASE_URL": "mysql://root@localhost/x"}, tmp_path)
    assert result.returncode != 0
    assert "DATABASE_URL must start with sqlite:// or postgres://" in result.stderr


def test_debug_runs_on_embedded_defaults_with_wal(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.conf import settings; from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "print(settings.CELERY_BROKER_URL)"
    )
    result = _run(code, {"DEBUG": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "filesystem://"]
    assert (tmp_path / "broker" / "queue").is_dir()


def test_check_deploy_is_clean_with_production_like_env(tmp_path):
    code = (
        "import django, sys; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')"
    )
    result = _run(code, PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout + result.stderr
