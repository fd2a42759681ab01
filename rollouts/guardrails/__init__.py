"""Guardrails: canary metrics judged candidate vs baseline with an always-valid sequential test
(`sequential`, pure), evaluated every minute (`evaluate`: defaults, judging, automatic rollback on
a critical breach) and announced on the feature's webhook (`notify`).

This package's __init__ imports nothing, so the benchmark can load `sequential` without Django."""
