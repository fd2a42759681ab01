"""The authorization matrix (tests/authz/matrix.py): every URL pattern has its rows, and every
state-changing cell answers as declared; a refused one writes nothing. The GET cells run in
tests/test_get_writes_nothing.py, which also checks that they write nothing."""

import pytest
from django.contrib import admin as django_admin
from django.urls import URLPattern, URLResolver, get_resolver

from registry.models import AuditEvent
from rollouts.admin_site import admin_site

from .matrix import ROWS, WRITE_ROWS, cells
from .matrix_admin import MODELS
from .runner import assert_api_error_shape, describe, outcome, send
from .symbols import ACTORS, ADMIN_PREFIX, OK
from .world import authz_world  # noqa: F401 - the module's world fixture


def _patterns(patterns, prefix: str = "") -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append(prefix + str(pattern.pattern))
    return found


def test_every_url_pattern_has_a_row_and_every_row_a_pattern():
    """A new view cannot ship without its row: add it to tests/authz/matrix.py."""
    patterns = set(_patterns(get_resolver().url_patterns))
    declared = {row.route for row in ROWS}
    product = {p for p in patterns if not p.startswith(ADMIN_PREFIX)}
    assert sorted(product - declared) == [], "URL patterns without a row in the matrix"
    assert sorted(declared - patterns) == [], "rows naming a pattern that no longer exists"
    # The admin is declared by its prefix rule; its rows must still resolve to admin patterns.
    assert {p for p in declared if p.startswith(ADMIN_PREFIX)} <= patterns


def test_every_registered_admin_model_has_its_rows():
    registered = {f"{m._meta.app_label}/{m._meta.model_name}" for m in admin_site._registry}
    assert registered == {model for model, *_ in MODELS}
    # One admin: the default site is the guarded one (rollout_site/urls.py).
    assert django_admin.site is admin_site


def test_every_row_declares_every_actor():
    assert [row.id for row in ROWS if set(row.expect) != set(ACTORS)] == []


@pytest.mark.parametrize(
    ("row", "actor"), cells(WRITE_ROWS), ids=[f"{r.id} {a}" for r, a in cells(WRITE_ROWS)]
)
def test_write_cell(authz_world, db, row, actor):  # noqa: F811
    events = AuditEvent.objects.count()
    response, written = send(authz_world, row, actor)
    got = outcome(response)
    assert got == row.expect[actor], describe(row, actor, response)
    assert response.status_code < 500
    if got != OK:
        # Refused: nothing written, not even an audit event of the refusal.
        assert written == set(), (describe(row, actor, response), written)
        assert AuditEvent.objects.count() == events
        if row.url.startswith("/api/"):
            assert_api_error_shape(response)
