"""Unicode round trips: what an application sends (emoji, RTL, combining marks, ZWJ sequences,
any text hypothesis draws) is stored byte-exact and shown on the pages HTML-escaped with the
same code points."""

import html
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comparisons.models import ShadowPair
from registry.models import RequestLog
from tests.hostile.unicode_corpus import SAMPLES
from tests.hostile.world import World, build_world

_ids = itertools.count()


@pytest.fixture
def world(feature, shadow_rollout, release, make_config, settings) -> World:
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    return build_world(
        feature=feature, rollout=shadow_rollout, release_user=release, make_config=make_config
    )


def _ingest(client, world: World, content: str, output: str, *, ascii_: bool):
    request_id = f"uni-{next(_ids)}"
    record = {
        "feature": world.feature.key,
        "request_id": request_id,
        "messages": [{"role": "user", "content": content}],
        "output": output,
    }
    raw = json.dumps(record, ensure_ascii=ascii_).encode("utf-8")
    response = client.post(
        "/api/v1/ingest", raw, content_type="application/json", headers=world.auth
    )
    return request_id, response


@pytest.mark.parametrize("ascii_", [True, False], ids=["escaped", "utf-8"])
def test_the_corpus_is_stored_byte_exact_through_ingest(client, world, ascii_):
    for name, text in SAMPLES.items():
        request_id, response = _ingest(client, world, text, text[::-1], ascii_=ascii_)
        assert response.status_code == 201, (name, response.content)
        row = RequestLog.objects.get(request_id=request_id)
        assert row.messages[-1]["content"].encode() == text.encode(), name
        assert row.output.encode() == text[::-1].encode(), name


# Any text a database can hold (no lone surrogates, no NUL), without the shapes redaction is
# there to replace (digit runs, addresses, "+" numbers): those come back redacted by design.
_chars = st.characters(blacklist_categories=("Cs", "Nd"), blacklist_characters="\x00@+\uff0b")
storable = st.text(_chars, min_size=1, max_size=60)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=storable, output=st.text(_chars, max_size=60))
def test_any_storable_text_comes_back_as_sent(client, world, content, output):
    request_id, response = _ingest(client, world, content, output, ascii_=False)
    assert response.status_code == 201, response.content
    row = RequestLog.objects.get(request_id=request_id)
    assert row.messages[-1]["content"] == content
    assert row.output == output


def test_imported_pairs_show_the_corpus_escaped_with_the_same_code_points(client, world):
    records = [
        {
            "request_id": f"pair-uni-{n}",
            "input": text,
            "baseline_output": f"{text} (baseline)",
            "baseline_model": "gpt-4o-2024-05-13",
            "candidate_output": f"(candidate) {text}",
            "candidate_model": "gpt-4o-2024-11-20",
        }
        for n, text in enumerate(SAMPLES.values())
    ]
    raw = json.dumps({"records": records}, ensure_ascii=False).encode()
    response = client.post(
        f"/api/v1/rollouts/{world.rollout.code}/pairs",
        raw,
        content_type="application/json",
        headers=world.auth,
    )
    assert response.status_code == 201, response.content
    for n, (name, text) in enumerate(SAMPLES.items()):
        pair = ShadowPair.objects.get(rollout=world.rollout, request_key=f"pair-uni-{n}")
        assert pair.baseline_output == f"{text} (baseline)", name
        assert pair.candidate_output == f"(candidate) {text}", name
        page = world.release.get(f"/pairs/{pair.code}/?view=raw")
        assert page.status_code == 200
        shown = page.content.decode("utf-8")
        for expected in (f"{text} (baseline)", f"(candidate) {text}"):
            escaped = html.escape(expected, quote=True)
            # Django writes ' as &#x27;, as html.escape does; \r may be shown as is.
            assert escaped in shown, (name, escaped)
        assert "<b>bold</b>" not in shown  # the HTML-looking sample stays text
