"""Every malformed shape of the promptfoo files and the model catalog (issue 11): each is a
clear error naming the file and line (or the catalog entry and field), never an exception, and
nothing is half-imported. The pair files are in test_imports.py; the happy paths and the first
hostile cases in tests/evaluations/test_hostile_inputs.py and tests/registry/test_catalog.py."""

import json

import pytest

from evaluations.importers.files import MAX_EXPANDED_VALUES
from evaluations.models import Case, Suite
from evaluations.services.importing import ImportRefused, import_apply, import_plan
from registry.catalog import CatalogError, catalog_parse, catalog_read
from registry.models import ModelVersion

MB = 1024 * 1024


# --- promptfoo files --------------------------------------------------------------------------

CONFIG = b"description: Hostile\nprompts: ['{{q}}']\ntests:\n  - vars: {q: hi}\n"
BOMB = b"""description: laughs
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
prompts: ['{{q}}']
tests:
  - vars: {q: *g}
"""
PROMPTFOO_SHAPES = {
    "an empty config": ({"promptfooconfig.yaml": b""}, "is not a promptfoo config"),
    "a BOM and nothing": ({"promptfooconfig.yaml": b"\xef\xbb\xbf"}, "is not a promptfoo config"),
    "Latin-1": (
        {"promptfooconfig.yaml": CONFIG.replace(b"hi", "café".encode("latin-1"))},
        "promptfooconfig.yaml line 4: is not UTF-8",
    ),
    "a YAML bomb": ({"promptfooconfig.yaml": BOMB}, "expands to more than"),
    "YAML nested 20,000 deep": (
        {"promptfooconfig.yaml": b"prompts: ['{{q}}']\ntests: " + b"[" * 20_000},
        "nests too deeply",
    ),
    "JSON nested 100,000 deep": ({"promptfooconfig.json": b"[" * 100_000}, "nests too deeply"),
    "a JSON number of 5,000 digits": (
        {"promptfooconfig.json": b'{"prompts": ["{{q}}"], "tests": 1' + b"0" * 5000 + b"}"},
        "is not valid JSON",
    ),
    "JSONL nested 100,000 deep": ({"cases.jsonl": b"[" * 100_000}, "cases.jsonl line 1"),
    "a JSONL line that is not an object": (
        {"cases.jsonl": b'{"name": "a", "vars": {"q": "x"}}\r\n[1, 2]\n'},
        "cases.jsonl line 2: each line is one JSON object",
    ),
    "a raw NUL in YAML": (
        {"promptfooconfig.yaml": CONFIG.replace(b"hi", b"h\x00i")},
        "is not valid YAML",
    ),
    "a key given twice": (
        {"promptfooconfig.yaml": CONFIG + b"prompts: ['{{r}}']\n"},
        "promptfooconfig.yaml line 5: is not valid YAML: the key 'prompts' is given twice",
    ),
    "a tab indent": (
        {"promptfooconfig.yaml": CONFIG.replace(b"  - vars", b"\t- vars")},
        "indented with a tab",
    ),
    "tests not a list": (
        {"promptfooconfig.yaml": b"prompts: ['{{q}}']\ntests: 5\n"},
        "tests[0]: each test is a mapping",
    ),
    "a weight of 1e400": (
        {
            "promptfooconfig.yaml": CONFIG
            + b"    assert: [{type: equals, value: hi, weight: 1e400}]\n"
        },
        "assert[0].weight",
    ),
    "a CSV of tests with a short row": (
        {
            "promptfooconfig.yaml": b"prompts: ['{{q}}']\ntests: file://cases.csv\n",
            "cases.csv": b"q,expected\r\nhi,there\r\nalone\r\n",
        },
        "cases.csv line 3: has 1 cells",
    ),
    "50 MB of files": ({"promptfooconfig.yaml": b"#" * (50 * MB)}, "MB per import"),
}


@pytest.mark.parametrize(("files", "says"), PROMPTFOO_SHAPES.values(), ids=PROMPTFOO_SHAPES.keys())
def test_a_malformed_promptfoo_import_is_refused_naming_the_file_and_line(feature, files, says):
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    problems = [str(p) for p in plan.problems]
    assert any(says in p for p in problems), problems
    with pytest.raises(ImportRefused):
        import_apply(plan=plan, actor=None)
    assert not Suite.objects.exists() and not Case.objects.exists()


def test_anchors_that_expand_modestly_still_import(feature):
    """Aliases are how promptfoo configs share assertions: only an explosion is refused."""
    config = b"""description: Shared
x-assert: &shared [{type: contains, value: hi}]
prompts: ['{{q}}']
tests:
  - vars: {q: hi}
    assert: *shared
  - vars: {q: hello}
    assert: *shared
"""
    plan = import_plan(
        feature=feature, files={"promptfooconfig.yaml": config}, main=None, actor=None
    )
    assert not plan.problems, [str(p) for p in plan.problems]
    assert len(plan.cases) == 2
    assert MAX_EXPANDED_VALUES >= 100_000


@pytest.mark.parametrize("value", ['"a\\0b"', '"\\ud800"'], ids=["escaped NUL", "lone surrogate"])
def test_unstorable_text_in_a_promptfoo_file_imports_nothing(feature, value):
    config = CONFIG.replace(b"hi", value.encode())
    plan = import_plan(
        feature=feature, files={"promptfooconfig.yaml": config}, main=None, actor=None
    )
    with pytest.raises(ImportRefused, match=r"variables\.q"):
        import_apply(plan=plan, actor=None)
    assert not Suite.objects.exists() and not Case.objects.exists()


# --- the model catalog ------------------------------------------------------------------------

ENTRY = {"input_cost_per_token": 2.5e-06, "max_input_tokens": 128000}
CATALOG_REFUSED = {
    "empty": (b"", "not valid JSON"),
    "whitespace": (b" \r\n", "not valid JSON"),
    "Latin-1": ('{"café": {}}'.encode("latin-1"), "not valid JSON"),
    "a list": (b"[]", "must be a JSON object"),
    "nested 100,000 deep": (b"[" * 100_000, "nests too deeply"),
    "5,000 digits": (b'{"m": {"max_tokens": 1' + b"0" * 5000 + b"}}", "not valid JSON"),
    "a raw NUL": (b'{"m": {"mode": "c\x00hat"}}', "not valid JSON"),
}


@pytest.mark.parametrize(("data", "says"), CATALOG_REFUSED.values(), ids=CATALOG_REFUSED.keys())
def test_a_catalog_that_cannot_be_used_is_refused_whole(data, says):
    with pytest.raises(CatalogError, match=says):
        catalog_parse(data)


CATALOG_PROBLEMS = {
    "a price of 1e400": ({"m": {"input_cost_per_token": "1e400"}}, "m.input_cost_per_token"),
    "a price of -1e400": ({"m": {"input_cost_per_token": "-1e400"}}, "m.input_cost_per_token"),
    "a price of 1e30": ({"m": {"input_cost_per_token": "1E+30"}}, "m.input_cost_per_token"),
    "a price of NaN": ({"m": {"input_cost_per_token": "NaN"}}, "m.input_cost_per_token"),
    "tokens of 1e400": ({"m": {"max_tokens": "1e400"}}, "m.max_tokens"),
    "a string price": ({"m": {"output_cost_per_token": '"cheap"'}}, "m.output_cost_per_token"),
    "a date that is a number": ({"m": {"deprecation_date": "20260101"}}, "m.deprecation_date"),
    "an entry that is a list": ({"m": "[1]"}, "m: must be an object"),
}


@pytest.mark.parametrize(("raw", "names"), CATALOG_PROBLEMS.values(), ids=CATALOG_PROBLEMS.keys())
def test_a_bad_catalog_entry_is_named_and_skipped_and_the_others_are_read(raw, names):
    ((key, fields),) = raw.items()
    text = (
        "{"
        + f'"gpt-4o-2024-08-06": {json.dumps(ENTRY)}, '
        + (
            f'"{key}": {fields}'
            if isinstance(fields, str)
            else f'"{key}": {{' + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
        )
        + "}"
    )
    catalog = catalog_parse(text.encode())
    assert list(catalog.entries) == ["gpt-4o-2024-08-06"]
    assert any(str(p).startswith(names) for p in catalog.problems), catalog.problems


def test_a_model_given_twice_is_named_and_neither_is_applied():
    text = b'{"m": {"max_tokens": 1000}, "ok": {"max_tokens": 5}, "m": {"max_tokens": 9}}'
    catalog = catalog_parse(text)
    assert list(catalog.entries) == ["ok"]
    assert [str(p) for p in catalog.problems] == ["m: appears twice in the catalog; entry skipped"]


def test_a_field_given_twice_in_an_entry_is_named_and_the_entry_skipped():
    catalog = catalog_parse(b'{"m": {"max_tokens": 1000, "max_tokens": 9}}')
    assert not catalog.entries
    assert [str(p) for p in catalog.problems] == [
        "m.max_tokens: is given twice in this entry; entry skipped"
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_a_catalog_with_a_bom_and_any_newline_is_read(newline):
    text = b"\xef\xbb\xbf{" + newline + b'"m": {"max_tokens": 8192}' + newline + b"}" + newline
    assert catalog_parse(text).entries["m"].values == {"context_window": 8192}


def test_a_50_mb_catalog_file_is_refused_before_it_is_read(tmp_path, db):
    path = tmp_path / "catalog.json"
    with path.open("wb") as handle:
        handle.truncate(50 * MB)  # sparse: the size is what is checked
    with pytest.raises(CatalogError, match="larger than"):
        catalog_read(str(path))
    assert not ModelVersion.objects.exists()
