"""The model catalog import (registry/catalog.py): LiteLLM's file format, matching registered
versions through vendor routes, audited diffs, and the command and beat task around it."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry import tasks
from registry.catalog import CatalogError, catalog_apply, catalog_parse, catalog_read, name_forms
from registry.models import AuditEvent, ModelVersion, Provider
from registry.services import registry

SAMPLE = Path(__file__).with_name("catalog_sample.json")


def _provider(name: str, base_url: str, api_style: str = "openai_chat") -> Provider:
    return registry.provider_save(
        provider=Provider(name=name, api_style=api_style, base_url=base_url), actor=None
    )


def _version(provider: Provider, model_id: str, **kwargs) -> ModelVersion:
    return registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=model_id, **kwargs), actor=None
    )


@pytest.fixture
def fleet(provider):
    """Versions on five vendors' endpoints, as a team using several clouds registers them."""
    anthropic = _provider("Anthropic", "https://api.anthropic.com", "anthropic_messages")
    bedrock = _provider(
        "Bedrock", "https://bedrock-runtime.us-east-1.amazonaws.com", "anthropic_messages"
    )
    vertex = _provider(
        "Vertex",
        "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5",
        "anthropic_messages",
    )
    azure = _provider("Azure", "https://contoso.openai.azure.com/openai/v1")
    google = _provider("Google", "https://generativelanguage.googleapis.com/v1beta/openai")
    return {
        "4o": _version(provider, "gpt-4o-2024-08-06"),
        "4o-azure": _version(azure, "gpt-4o-2024-08-06"),
        "4o-nov": _version(provider, "gpt-4o-2024-11-20"),
        "turbo": _version(provider, "gpt-4-turbo-2024-04-09", input_price=Decimal("10")),
        "sonnet": _version(anthropic, "claude-sonnet-4-5-20250929"),
        "sonnet-bedrock": _version(bedrock, "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        "haiku-vertex": _version(vertex, "claude-haiku-4-5@20251001"),
        # Typed by hand, and wrong: the catalog says 2025-09-24.
        "gemini": _version(google, "gemini-1.5-pro-002", deprecates=date(2026, 1, 1)),
        "unknown": _version(provider, "gpt-4.1-2025-04-14"),
    }


def _import(**kwargs):
    return catalog_apply(catalog=catalog_parse(SAMPLE.read_bytes()), actor=None, **kwargs)


def _events():
    return AuditEvent.objects.filter(action="model_version.catalog")


def test_it_reads_prices_per_million_tokens_exactly_and_ignores_the_sample_spec():
    catalog = catalog_parse(SAMPLE.read_bytes())
    assert "sample_spec" not in catalog.entries
    entry = catalog.entries["gpt-4o-mini-2024-07-18"].values
    # 1.5e-07 USD a token is 0.15 USD per million: no 0.15000000000000002 from float maths.
    assert entry["input_price"] == Decimal("0.1500")
    assert str(entry["output_price"]) == "0.6000"
    assert entry["context_window"] == 128000
    assert entry["max_output_tokens"] == 16384
    gemini = catalog.entries["gemini-1.5-pro-002"].values
    assert gemini["deprecates"] == date(2025, 9, 24)
    assert gemini["context_window"] == 2097152


def test_malformed_entries_are_reported_by_key_and_field_and_skipped():
    catalog = catalog_parse(SAMPLE.read_bytes())
    problems = {(p.key, p.field): p.message for p in catalog.problems}
    assert "'free'" in problems[("gpt-4-turbo-2024-04-09", "input_cost_per_token")]
    assert "not a calendar date" in problems[("gpt-3.5-turbo-0125", "deprecation_date")]
    assert "gpt-4-turbo-2024-04-09" not in catalog.entries
    assert "gpt-3.5-turbo-0125" not in catalog.entries
    assert len(catalog.problems) == 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[1, 2]", "holds a list"),
        ('"gpt-4o"', "holds a str"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_json_object_is_refused(text, says):
    with pytest.raises(CatalogError, match=says):
        catalog_parse(text)


def test_an_entry_that_is_not_an_object_is_a_problem_not_a_crash():
    catalog = catalog_parse(json.dumps({"gpt-4o-2024-08-06": "cheap", "x": None}))
    assert [(p.key, p.field) for p in catalog.problems] == [
        ("gpt-4o-2024-08-06", ""),
        ("x", ""),
    ]


@pytest.mark.parametrize(
    ("key", "bare"),
    [
        ("azure/gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("openrouter/openai/gpt-4o-2024-11-20", "gpt-4o-2024-11-20"),
        ("vertex_ai/claude-haiku-4-5@20251001", "claude-haiku-4-5@20251001"),
        ("bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001"),
        ("gemini/gemini-1.5-pro-002", "gemini-1.5-pro-002"),
    ],
)
def test_known_routes_are_stripped(key, bare):
    assert bare in [form for _, form in name_forms(key)]


def test_a_plain_id_has_no_other_form():
    assert name_forms("gpt-4o-2024-08-06") == []


def test_it_matches_the_provider_route_then_exact_ids_then_routes_and_creates_nothing(fleet):
    count = ModelVersion.objects.count()
    summary = _import()
    assert ModelVersion.objects.count() == count
    for v in fleet.values():
        v.refresh_from_db()
    assert fleet["4o"].input_price == Decimal("2.5")  # the OpenAI entry
    assert fleet["4o-azure"].input_price == Decimal("2.75")  # azure/ wins on an Azure host
    assert fleet["4o-nov"].output_price == Decimal("10")  # through openrouter/openai/
    assert fleet["sonnet"].input_price == Decimal("3")  # the exact key, not Bedrock's price
    assert fleet["sonnet-bedrock"].input_price == Decimal("3.3")
    assert fleet["haiku-vertex"].output_price == Decimal("5")
    # AI Studio's own price (gemini/), not Vertex's under the bare id.
    assert fleet["gemini"].input_price == Decimal("3.5")
    assert fleet["unknown"].input_price is None and fleet["unknown"].catalog_synced is None
    assert fleet["turbo"].input_price == Decimal("10")  # malformed entry: left as it was
    assert fleet["4o"].catalog_synced is not None
    assert summary.matched == 7 and summary.changed == 7 and summary.unchanged == 0
    # 14 usable entries (16 less the two malformed), 7 of them used.
    assert summary.unmatched == 14 - 7
    assert len(summary.problems) == 2


def test_each_changed_version_is_audited_with_only_its_changed_fields(fleet):
    ModelVersion.objects.filter(pk=fleet["4o"].pk).update(
        input_price=Decimal("2.5"), context_window=128000
    )
    _import()
    event = _events().get(object_id=str(fleet["4o"].code))
    assert event.before == {"output_price": None, "max_output_tokens": None}
    assert event.after == {"output_price": "10.0000", "max_output_tokens": 16384}
    assert "gpt-4o-2024-08-06" in event.reason


def test_a_hand_typed_deprecation_date_the_catalog_contradicts_is_updated_and_said(fleet):
    _import()
    fleet["gemini"].refresh_from_db()
    assert fleet["gemini"].deprecates == date(2025, 9, 24)
    event = _events().get(object_id=str(fleet["gemini"].code))
    assert event.before["deprecates"] == "2026-01-01"
    assert event.after["deprecates"] == "2025-09-24"
    assert "typed by hand" in event.reason and "contradicts" in event.reason


def test_a_date_the_catalog_itself_moves_is_said_to_come_from_the_catalog(provider):
    version = _version(provider, "gpt-4o-mini-2024-07-18")
    for day in ("2026-07-18", "2026-10-01"):
        text = json.dumps({"gpt-4o-mini-2024-07-18": {"deprecation_date": day}})
        catalog_apply(catalog=catalog_parse(text), actor=None)
    first, second = _events().filter(object_id=str(version.code)).order_by("id")
    assert first.before == {"deprecates": None} and "contradicts" not in first.reason
    assert second.after == {"deprecates": "2026-10-01"}
    assert "(from the catalog)" in second.reason and "typed by hand" not in second.reason


def test_a_second_import_of_the_same_file_writes_no_event(fleet):
    _import()
    first = _events().count()
    summary = _import()
    assert _events().count() == first
    assert summary.changed == 0 and summary.unchanged == 7


def test_a_dry_run_writes_nothing_and_says_what_would_change(fleet):
    events = AuditEvent.objects.count()
    summary = _import(dry_run=True)
    assert AuditEvent.objects.count() == events
    fleet["4o"].refresh_from_db()
    assert fleet["4o"].input_price is None and fleet["4o"].catalog_synced is None
    assert summary.changed == 7 and "would change 7" in str(summary)


def test_a_catalog_date_before_the_release_is_reported_not_applied(provider):
    version = _version(provider, "gpt-4o-mini-2024-07-18", released=date(2024, 7, 18))
    text = json.dumps({"gpt-4o-mini-2024-07-18": {"deprecation_date": "2023-01-01"}})
    summary = catalog_apply(catalog=catalog_parse(text), actor=None)
    version.refresh_from_db()
    assert version.deprecates is None
    assert [(p.key, p.field) for p in summary.problems] == [
        ("gpt-4o-mini-2024-07-18", "deprecation_date")
    ]


# --- the command --------------------------------------------------------------------------------


def test_the_command_imports_a_file_and_prints_the_changes(fleet):
    out, err = StringIO(), StringIO()
    call_command("import_catalog", str(SAMPLE), stdout=out, stderr=err)
    assert "gemini-1.5-pro-002" in out.getvalue() and "typed by hand" in out.getvalue()
    assert "skipped gpt-4-turbo-2024-04-09.input_cost_per_token" in err.getvalue()
    assert _events().count() == 7


def test_the_command_dry_run_changes_nothing(fleet):
    out = StringIO()
    call_command("import_catalog", str(SAMPLE), "--dry-run", stdout=out, stderr=StringIO())
    assert "would change 7" in out.getvalue()
    assert _events().count() == 0


def test_the_command_fails_on_a_file_it_cannot_use(tmp_path, db):
    bad = tmp_path / "catalog.json"
    bad.write_text("[]")
    with pytest.raises(CommandError, match="JSON object"):
        call_command("import_catalog", str(bad))
    with pytest.raises(CommandError, match="Cannot read the catalog file"):
        call_command("import_catalog", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="https"):
        call_command("import_catalog", "http://example.com/catalog.json")


def test_the_command_exit_code_is_1_on_a_refused_file_and_0_on_success(
    tmp_path, fleet, capsys, monkeypatch
):
    from django.core.management import execute_from_command_line

    # run_from_argv closes the connections at the end, the test's own included.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)

    bad = tmp_path / "catalog.json"
    bad.write_text('"nope"')
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "import_catalog", str(bad)])
    assert exited.value.code == 1
    assert "JSON object" in capsys.readouterr().err
    # Problems in single entries are reported, not failures of the import.
    execute_from_command_line(["manage.py", "import_catalog", str(SAMPLE)])
    assert "changed 7" in capsys.readouterr().out


# --- reading a URL ------------------------------------------------------------------------------


def test_a_url_to_an_internal_address_is_refused_before_any_request(settings):
    settings.PROVIDER_ALLOWED_HOSTS = []
    with pytest.raises(CatalogError, match="egress policy"):
        catalog_read("https://169.254.169.254/latest/catalog.json")


def test_a_url_is_fetched_with_a_size_cap(monkeypatch, settings):
    import httpx

    settings.PROVIDER_ALLOWED_HOSTS = ["catalog.test"]
    body = SAMPLE.read_bytes()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    real = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=transport, **kw))
    assert catalog_read("https://catalog.test/model_prices.json") == body
    monkeypatch.setattr("registry.catalog.MAX_CATALOG_BYTES", 100)
    with pytest.raises(CatalogError, match="larger than 100 bytes"):
        catalog_read("https://catalog.test/model_prices.json")


def test_a_url_that_does_not_answer_200_is_refused(monkeypatch, settings):
    import httpx

    settings.PROVIDER_ALLOWED_HOSTS = ["catalog.test"]
    transport = httpx.MockTransport(lambda request: httpx.Response(302, headers={"location": "/"}))
    real = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=transport, **kw))
    with pytest.raises(CatalogError, match="HTTP 302"):
        catalog_read("https://catalog.test/model_prices.json")


# --- the beat task ------------------------------------------------------------------------------


def test_the_beat_task_is_idle_without_a_source(settings, fleet):
    settings.MODEL_CATALOG_SOURCE = ""
    assert tasks.import_catalog().startswith("idle")
    assert _events().count() == 0


def test_the_beat_task_reads_the_configured_path(settings, fleet):
    settings.MODEL_CATALOG_SOURCE = str(SAMPLE)
    assert "changed 7" in tasks.import_catalog()
    assert _events().count() == 7


def test_the_beat_task_logs_a_catalog_it_cannot_read_and_does_not_raise(
    settings, tmp_path, db, caplog
):
    settings.MODEL_CATALOG_SOURCE = str(tmp_path / "gone.json")
    assert tasks.import_catalog().startswith("failed")
    assert "Cannot read the catalog file" in caplog.text
