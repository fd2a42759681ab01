"""The audit chain's key comes from the environment or a key file; production refuses to start
without it, as it does without SECRET_KEY."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-key-" + "k3Y9" * 12,
    "ALLOWED_HOSTS": "rollout.example.com",
}
PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.AUDIT_HMAC_KEY)"  # noqa: E501


def _run(overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "AUDIT_HMAC_KEY", "AUDIT_HMAC_KEY_FILE", "DATABASE_URL"}
    }
    env |= {"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "rollout_site.settings"}
    env |= overrides
    return subprocess.run(
        [sys.executable, "-c", PRINT_KEY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_debug_a_missing_audit_key_stops_start_up(tmp_path):
    result = _run(PRODUCTION, tmp_path)
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEY is not set" in result.stderr
    assert "AUDIT_HMAC_KEY_FILE" in result.stderr


def test_the_audit_key_is_read_from_a_key_file(tmp_path):
    key = tmp_path / "audit.key"
    key.write_text("k" * 48 + "\n")
    result = _run({**PRODUCTION, "AUDIT_HMAC_KEY_FILE": str(key)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "k" * 48


def test_a_short_audit_key_or_the_secret_key_itself_is_refused(tmp_path):
    short = _run({**PRODUCTION, "AUDIT_HMAC_KEY": "short"}, tmp_path)
    assert "at least 32" in short.stderr
    same = _run({**PRODUCTION, "AUDIT_HMAC_KEY": PRODUCTION["SECRET_KEY"]}, tmp_path)
    assert "must differ from SECRET_KEY" in same.stderr


def test_debug_derives_a_stable_key_from_the_secret_key(tmp_path):
    env = {"DEBUG": "true", "SECRET_KEY": "dev-" + "d" * 40}
    first, second = _run(env, tmp_path), _run(env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) == 64 and env["SECRET_KEY"] not in first.stdout
