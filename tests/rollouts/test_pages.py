"""Every page against the fixed cast: anonymous, viewer, reviewer, release manager, admin."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import ModelVersion
from registry.services import registry

READ_PAGES = [
    "/",
    "/features/",
    "/features/support-reply/",
    "/audit/",
    "/audit/?format=csv",
    "/audit/served/?feature=support-reply&at=2026-01-01T00:00:00Z",
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/rollouts/feature/",
    "/admin/rollouts/modelconfig/",
    "/admin/rollouts/modelversion/",
    "/admin/rollouts/provider/",
    "/admin/rollouts/auditevent/",
    "/admin/rollouts/deadletter/",
    "/admin/rollouts/apitoken/",
    "/admin/auth/user/",
]
SIGNED_IN = ["viewer", "reviewer", "release", "admin"]


@pytest.mark.parametrize("url", READ_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, feature, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("who", SIGNED_IN)
@pytest.mark.parametrize("url", READ_PAGES)
def test_every_signed_in_role_may_read(client_for, feature, who, url):
    assert client_for(who).get(url).status_code == 200


@pytest.mark.parametrize("who", [None, "viewer", "reviewer", "release"])
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_only_the_admin_role_enters_the_admin(client_for, feature, who, url):
    response = client_for(who).get(url)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_the_admin_role_enters_every_admin_page(client_for, feature, url):
    assert client_for("admin").get(url).status_code == 200


def test_an_unknown_feature_is_a_404(client_for, db):
    assert client_for("viewer").get("/features/nope/").status_code == 404


def test_the_feature_list_shows_versions_and_a_deprecation_badge(
    client_for, make_version, make_config
):
    from datetime import timedelta

    from registry.services.audit import db_now

    today = db_now().date()
    soon = make_version("gpt-4o-2024-05-13", deprecates=today + timedelta(days=30))
    gone = make_version("gpt-4-0613", deprecates=today + timedelta(days=1))
    later = make_version("gpt-4o-2024-11-20", deprecates=today + timedelta(days=365))
    for key, version in (("a-soon", soon), ("b-later", later)):
        registry.feature_create(
            key=key, name=key, served_config=make_config(key, version), actor=None
        )
    # A retired version refuses new configs: serve it first, then let its date pass.
    registry.feature_create(
        key="c-gone", name="c", served_config=make_config("c", gone), actor=None
    )
    ModelVersion.objects.filter(pk=gone.pk).update(deprecates=today - timedelta(days=3))

    html = client_for("viewer").get("/features/").content.decode()
    rows = {
        key: html.split(key, 1)[1].split("</tr>", 1)[0] for key in ("a-soon", "b-later", "c-gone")
    }
    assert "badge warning" in rows["a-soon"] and "retires" in rows["a-soon"]
    assert "badge" not in rows["b-later"]
    assert "badge danger" in rows["c-gone"] and "retired" in rows["c-gone"]


def test_the_feature_list_runs_a_fixed_number_of_queries(client_for, make_config):
    client = client_for("viewer")
    for n in range(3):
        registry.feature_create(
            key=f"f{n}", name="f", served_config=make_config(f"c{n}"), actor=None
        )
    with CaptureQueriesContext(connection) as few:
        client.get("/features/")
    for n in range(3, 10):
        registry.feature_create(
            key=f"f{n}", name="f", served_config=make_config(f"c{n}"), actor=None
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get("/features/").status_code == 200
    assert len(many) == len(few) <= 6


def test_the_feature_page_shows_the_rollback_target_and_timeline(client_for, feature, make_config):
    registry.feature_switch_config(
        feature=feature, config=make_config("support v2"), actor=None, reason="better tone"
    )
    html = client_for("reviewer").get("/features/support-reply/").content.decode()
    assert "Rollback target" in html and "support v1" in html and "Pinned until" in html
    assert "better tone" in html and "feature.switch_config" in html


def test_the_audit_csv_neutralises_spreadsheet_formulas(client_for, feature, make_config):
    registry.feature_switch_config(
        feature=feature, config=make_config("v2"), actor=None, reason='=HYPERLINK("x")'
    )
    response = client_for("viewer").get("/audit/", {"format": "csv", "feature": "support-reply"})
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert "'=HYPERLINK" in body
    assert body.count("\n") == 3  # header, create, switch


def test_the_audit_list_pages_by_keyset(client_for, feature, make_config):
    for n in range(55):
        config = make_config(f"c{n}")
        registry.feature_switch_config(feature=feature, config=config, actor=None, reason=f"r{n}")
    client = client_for("viewer")
    first = client.get("/audit/", {"action": "feature.switch"})
    assert first.context["next_before"] is not None
    assert len(first.context["events"]) == 50
    second = client.get(
        "/audit/", {"action": "feature.switch", "before": first.context["next_before"]}
    )
    assert len(second.context["events"]) == 5
    assert second.context["next_before"] is None


def test_model_outputs_and_user_text_are_escaped(client_for, feature, make_config):
    registry.feature_switch_config(
        feature=feature,
        config=make_config("<script>alert(1)</script>"),
        actor=None,
        reason="<img src=x onerror=alert(1)>",
    )
    html = client_for("viewer").get("/features/support-reply/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


# --- Content-Security-Policy -----------------------------------------------------------------


def _directives(header: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("url", [*READ_PAGES, "/rollouts/", "/review/", "/admin/"])
def test_every_page_carries_a_policy_that_refuses_inline_script(client_for, feature, url):
    response = client_for("admin").get(url)
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"][0] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_no_template_has_an_inline_script_or_event_handler():
    import re
    from pathlib import Path

    from django.conf import settings

    handler = re.compile(r"<[^>]*\s(on[a-z]+|hx-on[:a-z-]*)\s*=", re.IGNORECASE)
    script = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        offenders += [f"{path.name}: {m.group(0)}" for m in handler.finditer(text)]
        for m in script.finditer(text):
            attrs = m.group(1)
            if "src=" not in attrs and "nonce=" not in attrs:
                offenders.append(f"{path.name}: {m.group(0)}")
    assert offenders == []
