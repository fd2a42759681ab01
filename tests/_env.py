"""Loaded by pytest before Django starts (`-p tests._env` in pyproject): test-only defaults."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)
# The audit chain's HMAC key, as a deployment sets it (settings refuse to start without it).
os.environ.setdefault("AUDIT_HMAC_KEY", "tests-only-audit-key-" + "y" * 40)
# The test client speaks plain HTTP; production keeps the redirect to HTTPS (see test_settings).
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The live-server tests serve static files from the source folders, never a stale collection.
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")
# Tests stub providers on loopback (the simulator, MockTransport URLs, live servers); the SSRF
# tests override this setting to show the refusal.
os.environ.setdefault("PROVIDER_ALLOWED_HOSTS", "127.0.0.1,::1,localhost")
# The provider-client tests name their key variable ROLLOUT_TEST_PROVIDER_KEY.
os.environ.setdefault("PROVIDER_KEY_ENV_ALLOWLIST", "ROLLOUT_TEST_PROVIDER_KEY")
# Every figure the tests build is checked by plotly (production skips the checks).
os.environ.setdefault("PLOTLY_VALIDATE", "true")
