"""Importing pairs: JSONL and CSV, per-line errors, all or nothing, the pinning mark, the
command, and that imported pairs are scored and queued like shadow pairs."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from comparisons.batches import ImportBatch, ImportedPair
from comparisons.models import ShadowPair
from comparisons.services import importing
from comparisons.services.offline import offline_comparison_create
from comparisons.services.review import next_pair_for
from registry.models import AuditEvent, Rollout
from rollouts.services import rollouts
from tests.comparisons.import_corpus import COMBINING, EMOJI, RTL, realistic_records


@pytest.fixture
def draft(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-08-06"))
    return rollouts.rollout_create(
        feature=feature, candidate=candidate, actor=None, review_sample_percent=100
    )


def _jsonl(records: list[dict]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()


def _csv(records: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(importing.CSV_COLUMNS))
    writer.writeheader()
    for r in records:
        row = {
            k: (json.dumps(v, ensure_ascii=False) if k in ("messages", "metadata") else v)
            for k, v in r.items()
        }
        writer.writerow(row)
    return out.getvalue().encode()


def _import(rollout, data: bytes, name: str):
    parsed = importing.parse_file(data, file_name=name)
    return importing.pairs_import(
        rollout=rollout, parsed=parsed, actor="test", source="command", file_name=name
    )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_realistic_pairs_are_stored_byte_exact_and_reviewed_like_shadow_pairs(
    draft, fmt, reviewer_user
):
    records = realistic_records()
    data = _jsonl(records) if fmt == "jsonl" else _csv(records)
    batch = _import(draft, data, f"pairs.{fmt}")
    assert (batch.records, batch.pairs, batch.unpinned) == (3, 3, 0)
    pairs = {p.request_key: p for p in ShadowPair.objects.filter(rollout=draft)}
    long_pair = pairs["ext-1"]
    assert long_pair.baseline_output == records[0]["baseline_output"]  # 15 KB, byte-exact
    assert len(long_pair.baseline_output.encode()) >= 15 * 1024
    assert long_pair.candidate_output.encode() == records[0]["candidate_output"].encode()
    assert long_pair.messages == [{"role": "user", "content": "How do I return a damaged item?"}]
    assert long_pair.baseline_latency_ms == 812.5 and long_pair.request is None
    assert pairs["ext-2"].baseline_output == EMOJI and pairs["ext-2"].candidate_output == RTL
    generated = next(p for key, p in pairs.items() if key.startswith("import:"))
    assert generated.baseline_output == COMBINING  # decomposed marks not normalised
    # Scored like a shadow pair: the curly-apostrophe refusal is flagged, all are queued.
    assert generated.flagged and generated.metrics
    assert all(p.queued for p in pairs.values())
    assert long_pair.imported.metadata == {"source": "eval-export", "ticket": "A-17"}
    # ...and the review queue of a draft rollout hands them out.
    assert next_pair_for(reviewer_user) is not None
    event = AuditEvent.objects.get(action="pairs.import")
    assert event.object_id == str(batch.pk) or event.object_repr


@pytest.fixture
def reviewer_user(cast):
    return cast["reviewer"]


def test_errors_name_the_line_and_the_field_and_nothing_is_written(draft):
    good = realistic_records()[0]
    bad_model = {**good, "request_id": "b1", "baseline_model": ""}
    no_input = {k: v for k, v in good.items() if k != "input"} | {"request_id": "b2"}
    bad_latency = {**good, "request_id": "b3", "candidate_latency_ms": -1}
    lines = [
        json.dumps(good),
        "",
        json.dumps(bad_model),
        "{not json",
        json.dumps(no_input),
        json.dumps(bad_latency),
        json.dumps({**good, "request_id": "ext-1"}),
    ]
    parsed = importing.parse_jsonl("\n".join(lines).encode())
    errors = [str(e) for e in parsed.errors]
    assert any(e.startswith("line 3: baseline_model:") for e in errors), errors
    assert any(e.startswith("line 4: (record): is not valid JSON") for e in errors), errors
    assert any(e.startswith("line 5: input:") for e in errors), errors
    assert any(e.startswith("line 6: candidate_latency_ms:") for e in errors), errors
    assert any(e.startswith("line 7: request_id:") and "line 1" in e for e in errors), errors
    with pytest.raises(importing.ImportRefused):
        importing.pairs_import(rollout=draft, parsed=parsed, actor="t", source="command")
    # All or nothing: the good first line was not imported either.
    assert not ShadowPair.objects.exists() and not ImportBatch.objects.exists()


def test_csv_errors_name_the_line_where_the_row_starts(draft):
    records = realistic_records()
    records[1]["baseline_latency_ms"] = "fast"  # not a number; row 2 starts after multi-line row 1
    parsed = importing.parse_csv(_csv(records))
    [error] = parsed.errors
    first_row_lines = (
        1 + records[0]["baseline_output"].count("\n") + records[0]["candidate_output"].count("\n")
    )
    assert error.where == f"line {1 + first_row_lines + 1}"
    assert error.field == "baseline_latency_ms"


def test_text_with_nul_is_refused_not_altered(draft):
    record = {**realistic_records()[0], "candidate_output": "a\u0000b"}
    [error] = importing.parse_jsonl(_jsonl([record])).errors
    assert (error.where, error.field) == ("line 1", "candidate_output")


def test_a_request_id_already_paired_in_the_rollout_refuses_the_whole_import(draft):
    _import(draft, _jsonl(realistic_records()[:1]), "a.jsonl")
    with pytest.raises(importing.ImportRefused) as refused:
        _import(draft, _jsonl(realistic_records()), "b.jsonl")
    assert str(refused.value.errors[0]).startswith("line 1: request_id:")
    assert ShadowPair.objects.count() == 1


def test_an_unpinned_model_id_is_imported_as_is_and_marked(draft):
    records = realistic_records()[:2]
    records[0]["candidate_model"] = "gpt-4o"  # a floating alias
    batch = _import(draft, _jsonl(records), "a.jsonl")
    assert (batch.pairs, batch.unpinned) == (2, 1)
    item = ImportedPair.objects.get(pair__request_key="ext-1")
    assert item.unpinned and item.candidate_model == "gpt-4o"
    assert "candidate:" in item.unpinned_note and "gpt-4o-2024-08-06" in item.unpinned_note
    assert not ImportedPair.objects.get(pair__request_key="ext-2").unpinned


def test_an_ended_rollout_takes_no_imports(draft):
    rollouts.rollout_abort(rollout=draft, actor=None, reason="the upgrade was called off")
    with pytest.raises(importing.DomainError, match="aborted"):
        _import(draft, _jsonl(realistic_records()), "a.jsonl")


def test_the_command_creates_an_offline_comparison_and_imports(
    tmp_path, feature, make_config, make_version
):
    candidate = make_config("support v2", make_version("gpt-4o-2024-08-06"))
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(_jsonl(realistic_records()))
    out = io.StringIO()
    args = [
        str(path),
        "--feature",
        feature.key,
        "--baseline-config",
        str(feature.served_config.code),
        "--candidate-config",
        str(candidate.code),
    ]
    call_command("import_pairs", *args, "--dry-run", stdout=out)
    assert "Would import 3 pairs" in out.getvalue()
    assert not Rollout.objects.exists() and not ShadowPair.objects.exists()
    call_command("import_pairs", *args, stdout=out)
    rollout = Rollout.objects.get()
    assert rollout.status == Rollout.Status.OFFLINE
    assert ShadowPair.objects.filter(rollout=rollout).count() == 3
    assert ImportBatch.objects.get().source == "command"


def test_the_command_prints_every_problem_and_writes_nothing(tmp_path, draft):
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(_jsonl(realistic_records()) + b'\n{"input": "x"}\n')
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_pairs", str(path), "--rollout", str(draft.code), stderr=err)
    assert "line 4: baseline_output: is required" in err.getvalue()
    assert not ShadowPair.objects.exists()


def test_offline_comparisons_never_block_a_live_rollout(feature, make_config, make_version):
    candidate = make_config("support v2", make_version("gpt-4o-2024-08-06"))
    offline_comparison_create(
        feature=feature,
        baseline=feature.served_config,
        candidate=candidate,
        actor=None,
        name="4o vs 4o-08",
    )
    # The one-active-rollout rule passes it by: a live rollout can still start.
    rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    assert Rollout.objects.filter(status__in=Rollout.ACTIVE).count() == 1


def test_the_pair_page_shows_the_unpinned_mark(draft, client_for):
    records = realistic_records()[:1]
    records[0]["baseline_model"] = "gpt-4o-latest"
    _import(draft, _jsonl(records), "a.jsonl")
    pair = ShadowPair.objects.get()
    page = client_for("release").get(f"/pairs/{pair.code}/").content.decode()
    assert "unpinned, imported as is" in page and "baseline:" in page


def test_a_preview_nobody_confirms_is_purged_with_its_records(draft, client):
    from datetime import timedelta

    from comparisons.services.retention import purge_expired
    from registry.errors import DomainError
    from registry.services.audit import db_now

    parsed = importing.parse_file(_jsonl(realistic_records()), file_name="a.jsonl")
    fresh, _ = importing.import_stage(rollout=draft, parsed=parsed, actor=None, file_name="a")
    old, _ = importing.import_stage(rollout=draft, parsed=parsed, actor=None, file_name="b")
    ImportBatch.objects.filter(pk=old.pk).update(created=db_now() - timedelta(hours=25))
    assert purge_expired()["staged_imports"] == 1
    assert list(ImportBatch.objects.values_list("pk", flat=True)) == [fresh.pk]
    with pytest.raises(DomainError, match="expired"):
        importing.import_confirm(batch_code=old.code, actor=None)
    assert not ShadowPair.objects.filter(rollout=draft).exists()
