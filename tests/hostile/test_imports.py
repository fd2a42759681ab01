"""Every malformed shape of the pair imports (issue 11): JSONL and CSV files and the import page
(the API's are in test_api_inputs.py). Each is a clear error naming the line and the field,
never an exception, and nothing is half-imported. The happy paths and the first hostile cases
are in tests/comparisons/test_importing.py; these are the shapes it misses. Promptfoo files and
the model catalog: test_imports_files.py."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from comparisons.batches import ImportBatch
from comparisons.models import ShadowPair
from comparisons.services import importing

MB = 1024 * 1024


def _pair(n: int = 1, **extra) -> dict:
    return {
        "request_id": f"p-{n}",
        "input": "Where is my parcel?",
        "baseline_output": "Monday.",
        "baseline_model": "gpt-4o-2024-05-13",
        "candidate_output": "On Monday.",
        "candidate_model": "gpt-4o-2024-11-20",
        **extra,
    }


def _jsonl(*records, newline: str = "\n") -> bytes:
    return newline.join(json.dumps(r) for r in records).encode()


def _csv(*records: dict) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def _errors(parsed) -> list[str]:
    return [str(e) for e in parsed.errors]


# --- pairs: JSONL -----------------------------------------------------------------------------

JSONL_SHAPES = {
    "empty file": (b"", "(file): holds no records"),
    "only blank lines": (b"\n\r\n  \n", "(file): holds no records"),
    "a BOM and nothing": (b"\xef\xbb\xbf", "(file): holds no records"),
    "Latin-1": ('{"input": "café"}'.encode("latin-1"), "line 1: (file): is not UTF-8"),
    "UTF-16": (_jsonl(_pair()).decode().encode("utf-16"), "line 1: (file): is not UTF-8"),
    "a list, not an object": (b"[1, 2]", "line 1: (record)"),
    "a string, not an object": (b'"text"', "line 1: (record)"),
    "truncated": (b'{"input": "a", ', "line 1: (record): is not valid JSON"),
    "nested 100,000 deep": (b"[" * 100_000, "line 1: (record): is not valid JSON"),
    "metadata nested 100,000 deep": (
        _jsonl(_pair()).replace(
            b'"input"', b'"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b', "input"'
        ),
        "line 1: (record)",
    ),
    "metadata nested 40 deep": (
        _jsonl(_pair(metadata={"a": json.loads("[" * 40 + "]" * 40)})),
        "line 1: metadata.a",
    ),
    "1e400": (
        _jsonl(_pair(baseline_latency_ms=0)).replace(
            b'"baseline_latency_ms": 0', b'"baseline_latency_ms": 1e400'
        ),
        "line 1: baseline_latency_ms: ",
    ),
    "5,000 digits": (b'{"baseline_tokens": 1' + b"0" * 5000 + b"}", "line 1: (record)"),
    "escaped NUL": (_jsonl(_pair(input="a\x00b")), "line 1: input"),
    "lone surrogate": (_jsonl(_pair()).replace(b"Monday.", b"\\ud800"), "line 1: baseline_output"),
    "a raw NUL byte": (_jsonl(_pair()).replace(b"Monday.", b"Mon\x00day."), "line 1: (record)"),
    "mistyped field": (_jsonl(_pair(baseline_tokens="many")), "line 1: baseline_tokens"),
    "extra field": (_jsonl(_pair(temperature=0.2)), "line 1: temperature: is not a known field"),
    "both input and messages": (
        _jsonl(_pair(messages=[{"role": "user", "content": "Hi"}])),
        "line 1: input",
    ),
    "duplicated request ids": (_jsonl(_pair(1), _pair(1)), "line 2: request_id"),
    "bad third line after CRLF": (
        _jsonl(_pair(1), _pair(2), _pair(3, candidate_model=7), newline="\r\n"),
        "line 3: candidate_model",
    ),
    "bad line after mixed newlines": (
        _jsonl(_pair(1)) + b"\r\n\n" + _jsonl(_pair(2)) + b"\n\r\n" + _jsonl(_pair(3, input="")),
        "line 5: input",
    ),
}


@pytest.mark.parametrize(("data", "says"), JSONL_SHAPES.values(), ids=JSONL_SHAPES.keys())
def test_a_malformed_jsonl_file_is_refused_naming_the_line_and_field(data, says):
    parsed = importing.parse_jsonl(data)
    assert parsed.error_count, parsed.records
    assert any(says in e for e in _errors(parsed)), _errors(parsed)


def test_missing_fields_are_each_named_once():
    record = {"input": "Hi", "baseline_output": "a"}
    parsed = importing.parse_jsonl(_jsonl(record))
    fields = sorted(e.field for e in parsed.errors)
    assert fields == ["baseline_model", "candidate_model", "candidate_output"], fields


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_a_bom_and_either_newline_are_read(newline):
    data = b"\xef\xbb\xbf" + _jsonl(_pair(1), _pair(2), newline=newline) + newline.encode()
    parsed = importing.parse_jsonl(data)
    assert not parsed.errors, _errors(parsed)
    assert [r.data["request_id"] for r in parsed.records] == ["p-1", "p-2"]
    assert parsed.records[1].data["candidate_output"] == "On Monday."  # no stray \r


def test_a_50_mb_file_is_refused_for_its_size_before_it_is_read():
    parsed = importing.parse_file(b"{" * (50 * MB), file_name="pairs.jsonl")
    assert _errors(parsed) == [
        f"file: (file): is larger than {importing.MAX_FILE_BYTES} bytes; split it"
    ]


# --- pairs: CSV -------------------------------------------------------------------------------

CSV_SHAPES = {
    "empty": (b"", "line 1: (header)"),
    "a header only": (b"input,baseline_output\n", "(file): holds no records"),
    "an unknown column": (b"input,colour\nHi,red\n", "line 1: colour: is not a known column"),
    "a short row": (b"input,baseline_output\nHi\n", "line 2: (row): has 1 cells"),
    "an unterminated quote": (b'input,baseline_output\n"Hi,a\n', "(row): is not valid CSV"),
    "metadata nested 100,000 deep": (
        _csv(_pair()).replace(b"\r\n", b",metadata\r\n", 1).rstrip(b"\r\n")
        + b',"'
        + b"[" * 100_000
        + b'"\r\n',
        "line 2: metadata: is not valid JSON text",
    ),
    "messages not a list": (
        _csv({k: v for k, v in _pair().items() if k != "input"} | {"messages": '"Hi"'}),
        "line 2: messages",
    ),
    "tokens not a number": (_csv(_pair(baseline_tokens="many")), "line 2: baseline_tokens"),
    "latency 1e400": (_csv(_pair(baseline_latency_ms="1e400")), "line 2: baseline_latency_ms"),
    "NUL in a cell": (_csv(_pair(input="a\x00b")), "line 2: input"),
    "Latin-1": ("input\ncafé\n".encode("latin-1"), "line 2: (file): is not UTF-8"),
    "missing fields": (b"input,baseline_output\nHi,a\n", "line 2: candidate_output"),
}


@pytest.mark.parametrize(("data", "says"), CSV_SHAPES.values(), ids=CSV_SHAPES.keys())
def test_a_malformed_csv_file_is_refused_naming_the_line_and_field(data, says):
    parsed = importing.parse_csv(data)
    assert parsed.error_count, parsed.records
    assert any(says in e for e in _errors(parsed)), _errors(parsed)


def test_a_csv_with_a_bom_and_crlf_and_a_multi_line_cell_is_read_exactly():
    text = 'First line\r\nsecond line\n\nthird, with a comma and "quotes"'
    data = b"\xef\xbb\xbf" + _csv(_pair(1, baseline_output=text), _pair(2))
    parsed = importing.parse_csv(data)
    assert not parsed.errors, _errors(parsed)
    assert parsed.records[0].data["baseline_output"] == text
    assert parsed.records[1].line == 6  # the row after the four-line cell (lines 2-5)


# --- pairs: the import page -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("deep.jsonl", b"[" * 100_000),
        ("deep.csv", CSV_SHAPES["metadata nested 100,000 deep"][0]),
        ("bom.jsonl", b"\xef\xbb\xbf"),
        ("latin.csv", CSV_SHAPES["Latin-1"][0]),
        ("half.jsonl", _jsonl(_pair(1), _pair(2), _pair(3, baseline_model=""))),
    ],
)
def test_the_import_page_lists_the_problems_and_stages_nothing(
    client_for, shadow_rollout, name, data
):
    client = client_for("release")
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    response = client.post(f"/rollouts/{shadow_rollout.code}/import/", {"file": upload})
    assert response.status_code == 200
    page = response.content.decode()
    assert "line " in page, page[:2000]
    assert ShadowPair.objects.count() == 0
    assert not ImportBatch.objects.filter(status=ImportBatch.Status.IMPORTED).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("baseline_tokens", 2**31), ("candidate_tokens", 10**30), ("baseline_latency_ms", 1e300)],
)
def test_a_number_larger_than_its_column_is_a_problem_not_a_database_error(field, value):
    parsed = importing.parse_jsonl(_jsonl(_pair(**{field: value})))
    assert [e.field for e in parsed.errors] == [field], _errors(parsed)
