"""Loaded by pytest before Django starts (`-p tests._env` in pyproject): test-only defaults."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)
# The test client speaks plain HTTP; production keeps the redirect to HTTPS (see test_settings).
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The live-server tests serve static files from the source folders, never a stale collection.
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")
