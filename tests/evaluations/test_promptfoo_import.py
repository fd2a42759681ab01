"""Importing promptfoo configs: realistic files in tests/evaluations/promptfoo/."""

# ruff: noqa: RUF001  (curly quotes, dashes and Japanese punctuation are the test data)

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evaluations.importers.plan import MAX_CASES, MAX_FILES, MAX_TOTAL_BYTES
from evaluations.models import Case, Suite
from evaluations.services.importing import ImportRefused, import_apply, import_plan
from registry.models import AuditEvent, ModelVersion

FIXTURES = Path(__file__).parent / "promptfoo"


def files_of(folder: str, *, flat: bool = False) -> dict[str, bytes]:
    """The fixture folder as an upload: paths relative to it, or bare names (a browser)."""
    root = FIXTURES / folder
    return {
        (p.name if flat else p.relative_to(root).as_posix()): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def plan_of(feature, folder: str, main: str | None = None, **kwargs):
    return import_plan(feature=feature, files=files_of(folder, **kwargs), main=main, actor=None)


def by_name(plan, name: str):
    return next(c for c in plan.cases if c.name == name)


def texts(notes) -> list[str]:
    return [str(n) for n in notes]


@pytest.fixture
def support(feature):
    return plan_of(feature, "support-reply")


def test_it_makes_one_case_per_prompt_and_test(support):
    assert support.problems == []
    assert support.suite_name == "Support reply – tone & refund policy"
    # 4 inline + 2 from the tests/*.yaml glob + 4 CSV rows, times 3 prompts.
    assert len(support.cases) == 30
    names = {c.name for c in support.cases}
    assert {
        "refund within 30 days · reply.txt",
        "refund within 30 days · chat",
        "refund within 30 days · terse",
        "parcel lost in transit · chat",
        "angry customer, stay calm · terse",
    } <= names


def test_prompts_keep_their_placeholders_and_chat_form(support):
    text = by_name(support, "Rückerstattung auf Deutsch · reply.txt")
    assert "Reply to the customer in {{language}}" in text.prompt
    assert text.messages == []
    chat = by_name(support, "Rückerstattung auf Deutsch · chat")
    assert [m["role"] for m in chat.messages] == ["system", "user"]
    assert chat.messages[1]["content"] == "Please answer in {{language}}.\n\n{{question}}"
    assert chat.variables["question"].startswith("Ich habe das Abo gekündigt – wann")
    # A file:// var is the file's text.
    assert chat.variables["policy"].startswith("Refunds are available within 30 days")
    terse = by_name(support, "返金の問い合わせ (Japanese) · terse")
    assert terse.prompt.startswith("Answer the customer in {{language}}")
    assert terse.variables["question"] == "先週購入したプランを返金してもらえますか？"


def test_curly_quotes_survive(support):
    case = by_name(support, "refund within 30 days · chat")
    assert "“Pro” plan" in case.variables["question"]
    assert "it’s not" in case.variables["question"]


def test_default_test_assertions_come_first(support):
    for case in support.cases:
        if case.name.startswith("angry customer"):
            # options.transform rewrites its output: its checks were left out, not run as is.
            assert case.assertions == []
            continue
        assert [a["type"] for a in case.assertions[:2]] == ["not-is-refusal", "max-length"]
    assert by_name(support, "refund within 30 days · terse").assertions[2:] == [
        {"type": "icontains", "value": "refund", "threshold": None, "weight": 2.0,
         "metric": "accuracy"},
        {"type": "not-contains", "value": "unfortunately", "threshold": None, "weight": 1.0,
         "metric": "tone"},
    ]  # fmt: skip


def test_threshold_weight_metric_and_critical(support):
    case = by_name(support, "refund within 30 days · reply.txt")
    assert case.threshold == 0.75
    assert case.critical is True
    assert case.assertions[1]["weight"] == 0.5  # defaultTest's max-length
    # The test's own metric names the dimension before defaultTest's "safety".
    assert case.dimension == "accuracy"
    assert by_name(support, "angry customer, stay calm · chat").dimension == "tone"
    # metadata.dimension wins; "Accuracy" in any case counts.
    assert by_name(support, "parcel lost in transit · chat").dimension == "accuracy"
    assert by_name(support, "Rückerstattung auf Deutsch · chat").critical is False


def test_a_tests_glob_and_relative_var_paths(support):
    calm = by_name(support, "angry customer, stay calm · reply.txt")
    # tests/tone.yaml says file://../data/policy.txt: relative to its own folder.
    assert calm.variables["policy"].startswith("Refunds are available")
    assert calm.source_ref == "tests/tone.yaml[0] · reply.txt"


def test_csv_expected_columns(support):
    polite = by_name(support, "csv: refund, polite · reply.txt")
    assert polite.variables["question"] == "Can I get a refund, please? I paid on 3 March."
    assert [(a["type"], a["value"], a["metric"]) for a in polite.assertions[2:]] == [
        ("contains", "refund", "accuracy"),
        ("not-icontains", "unfortunately", "accuracy"),
    ]
    assert polite.source_ref == "data/cases.csv line 2 · reply.txt"
    quoted = by_name(support, "csv: quoted cancel · chat")
    assert quoted.variables["question"] == 'He said "cancel it" – did you?'
    assert [a["type"] for a in quoted.assertions[2:]] == ["icontains", "is-json"]
    german = by_name(support, "csv: multi-line German · terse")
    assert german.variables["question"] == "Zeile eins\nZeile zwei: wo ist mein Geld?"
    similar = german.assertions[2]
    assert (similar["type"], similar["threshold"]) == ("similar", 0.7)
    assert similar["value"] == "Ihr Geld kommt in 5 Tagen zurück."
    # Plain text in __expected means equals.
    equals = by_name(support, "csv: plain expected is equals · chat").assertions[2]
    assert (equals["type"], equals["value"]) == ("equals", "Thank you")


def test_unsupported_types_are_reported_by_name_and_test(support):
    warnings = texts(support.warnings)
    assert any(
        w.startswith(
            "test 4 (\"refund in French\"): assertion type 'javascript' is not supported; "
            "it was left out"
        )
        for w in warnings
    )
    assert any(
        w.startswith('test 3 ("返金の問い合わせ (Japanese)"): assertion type') for w in warnings
    )
    assert any(w.startswith('test 9 ("csv: multi-line German"): assertion type') for w in warnings)
    assert (
        "tests: external dataset 'https://huggingface.co/datasets/acme/support-tickets/resolve/"
        "main/test.csv' is not loaded; it was left out"
    ) in warnings
    assert any(
        "options.transform rewrites the output before its 4 assertion(s)" in w
        and "angry customer" in w
        for w in warnings
    )
    # The javascript entries are left out of the cases themselves.
    french = by_name(support, "refund in French · chat")
    assert [a["type"] for a in french.assertions] == ["not-is-refusal", "max-length", "similar"]


def test_floating_providers_are_reported_with_the_pinned_id(feature):
    plan = plan_of(feature, "summarize")
    warnings = " ".join(texts(plan.warnings))
    assert "'gpt-4' is a floating alias" in warnings and "'gpt-4-0613'" in warnings
    assert "'claude-3-5-sonnet-latest'" in warnings and "'claude-3-5-sonnet-20241022'" in warnings
    # Never registered as is.
    assert not ModelVersion.objects.filter(model_id__in=["gpt-4", "claude-3-5-sonnet-latest"])
    floating = next(p for p in plan.providers if p.given == "openai:gpt-4")
    assert floating.configs == [] and "gpt-4-0613" in floating.note


def test_matched_providers_list_the_configs_to_run_on(support, make_config, make_version, feature):
    make_config("support 4o (Aug)", make_version("gpt-4o-2024-08-06"))
    plan = plan_of(feature, "support-reply")
    matched = next(p for p in plan.providers if p.given == "openai:gpt-4o-2024-08-06")
    assert matched.configs == ["support 4o (Aug)"]
    unknown = next(p for p in plan.providers if p.model_id == "gemini-1.5-pro-002")
    assert "not registered" in unknown.note


def test_default_test_only_assertions_threshold_and_metadata_from_csv(feature):
    plan = plan_of(feature, "summarize")
    assert plan.problems == []
    assert plan.suite_prompt.startswith("Summarise this support ticket")
    first, second, third = plan.cases
    assert [a["type"] for a in second.assertions] == ["max-length", "not-icontains", "contains"]
    assert second.threshold == 0.5  # defaultTest's
    assert first.threshold == 1.0 and first.critical is True  # __threshold, __metadata:critical
    assert third.assertions[2] == {
        "type": "llm-rubric",
        "value": "mentions the password reset and the email provider",
        "threshold": None,
        "weight": 1.0,
        "metric": "",
    }
    assert "tickets.csv: column '__prefix' is not supported; it was left out" in texts(
        plan.warnings
    )


def test_a_missing_referenced_file_is_a_problem(feature):
    files = {"missing-file.yaml": (FIXTURES / "broken/missing-file.yaml").read_bytes()}
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    assert texts(plan.problems) == [
        "tests: tests refers to file://data/cases.csv, which was not uploaded; add it to the upload"
    ]


def test_a_missing_var_file_names_the_var(feature):
    files = files_of("support-reply")
    del files["data/policy.txt"]
    plan = import_plan(feature=feature, files=files, main="promptfooconfig.yaml", actor=None)
    assert (
        "test 1 (\"refund within 30 days\"): var 'policy' refers to file://data/policy.txt, "
        "which was not uploaded; add it to the upload"
    ) in texts(plan.problems)


def test_malformed_yaml_names_the_line(feature):
    files = {"bad-yaml.yaml": (FIXTURES / "broken/bad-yaml.yaml").read_bytes()}
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    assert len(plan.problems) == 1
    assert plan.problems[0].where == "bad-yaml.yaml line 7"
    assert "is not valid YAML" in plan.problems[0].message


def test_malformed_csv_names_the_line(feature):
    files = {
        name: (FIXTURES / "broken" / name).read_bytes() for name in ("bad-csv.yaml", "bad.csv")
    }
    plan = import_plan(feature=feature, files=files, main="bad-csv.yaml", actor=None)
    assert [p.where for p in plan.problems] == ["bad.csv line 3"]
    assert "is not valid CSV" in plan.problems[0].message


def test_a_malformed_regex_names_the_test_and_field(feature):
    files = {"bad-regex.yaml": (FIXTURES / "broken/bad-regex.yaml").read_bytes()}
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    assert len(plan.problems) == 1
    assert str(plan.problems[0]).startswith(
        'test 1 ("order id format"): assert[1].value: not a valid regular expression'
    )


def test_several_configs_need_a_main(feature):
    files = {
        "a.yaml": (FIXTURES / "broken/bad-regex.yaml").read_bytes(),
        "b.yaml": (FIXTURES / "broken/bad-yaml.yaml").read_bytes(),
    }
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    assert "choose the main config" in plan.problems[0].message


def test_flat_browser_uploads_resolve_by_file_name(feature):
    plan = plan_of(feature, "support-reply", flat=True)
    assert plan.problems == []
    assert len(plan.cases) == 30


@pytest.mark.parametrize("limit", ["files", "bytes", "cases"])
def test_limits_are_refused_naming_the_limit(feature, limit):
    config = b'prompts: ["Say {{q}}"]\ntests: file://many.csv\n'
    if limit == "files":
        files = {f"f{i}.txt": b"x" for i in range(MAX_FILES + 1)}
        expected = f"at most {MAX_FILES} per import"
    elif limit == "bytes":
        files = {"promptfooconfig.yaml": config, "big.txt": b"x" * (MAX_TOTAL_BYTES + 1)}
        expected = "at most 10 MB per import"
    else:
        rows = "q,__expected\n" + "".join(f"n{i},contains:n\n" for i in range(MAX_CASES + 1))
        files = {"promptfooconfig.yaml": config, "many.csv": rows.encode()}
        expected = f"more than {MAX_CASES} cases"
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    assert not plan.ok
    assert expected in " ".join(texts(plan.problems))


def test_apply_creates_exactly_what_the_preview_said(feature, release):
    plan = plan_of(feature, "summarize")
    suite = import_apply(plan=plan, actor=release)
    assert suite.name == "Summarize ticket" and suite.prompt == plan.suite_prompt
    cases = list(suite.cases.order_by("position"))
    assert [c.name for c in cases] == [c.name for c in plan.cases]
    assert [c.assertions for c in cases] == [c.assertions for c in plan.cases]
    assert [(c.threshold, c.critical, c.dimension) for c in cases] == [
        (c.threshold, c.critical, c.dimension) for c in plan.cases
    ]
    assert {c.source for c in cases} == {Case.Source.PROMPTFOO}
    event = AuditEvent.objects.get(action="eval_suite.import")
    assert event.after is not None
    assert event.after["cases"] == 3 and event.actor == release


def test_apply_refuses_a_plan_with_problems_and_writes_nothing(feature, release):
    files = {"bad-regex.yaml": (FIXTURES / "broken/bad-regex.yaml").read_bytes()}
    plan = import_plan(feature=feature, files=files, main=None, actor=None)
    with pytest.raises(ImportRefused):
        import_apply(plan=plan, actor=release)
    assert not Suite.objects.exists() and not Case.objects.exists()


def test_applying_twice_imports_once(feature, release):
    plan = plan_of(feature, "summarize")
    import_apply(plan=plan, actor=release)
    with pytest.raises(ImportRefused, match="already"):
        import_apply(plan=plan, actor=release)
    assert Suite.objects.count() == 1 and Case.objects.count() == 3
    # And a new preview says so before anyone confirms.
    assert "already has a suite named 'Summarize ticket'" in str(
        plan_of(feature, "summarize").problems
    )


def test_the_command_prints_the_plan_and_creates(feature):
    root = FIXTURES / "summarize"
    out = StringIO()
    args = ["import_promptfoo", "--feature", feature.key, str(root / "promptfooconfig.yaml")]
    call_command(*args, str(root / "tickets.csv"), "--dry-run", stdout=out)
    assert "3 cases" in out.getvalue() and "gpt-4-0613" in out.getvalue()
    assert not Suite.objects.exists()
    call_command(*args, str(root / "tickets.csv"), stdout=StringIO())
    assert Suite.objects.get().cases.count() == 3


def test_the_command_fails_on_problems(feature):
    root = FIXTURES / "broken"
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command(
            "import_promptfoo", "--feature", feature.key, str(root / "missing-file.yaml"),
            stdout=StringIO(), stderr=err,
        )  # fmt: skip
    assert "file://data/cases.csv, which was not uploaded" in err.getvalue()
    assert not Suite.objects.exists()


def test_nunjucks_tags_and_prompt_functions_are_reported(feature):
    config = (
        b"prompts:\n"
        b'  - "{% if vip %}Dear {{ name | title }}{% endif %} {{ q }}"\n'
        b"  - file://prompts.py:make_prompt\n"
        b"tests:\n  - vars: {q: hi, name: ann, vip: true}\n"
    )
    plan = import_plan(
        feature=feature, files={"promptfooconfig.yaml": config}, main=None, actor=None
    )
    warnings = texts(plan.warnings)
    assert any(w.startswith("prompt 'prompt 1': uses Nunjucks tags or filters") for w in warnings)
    assert any("prompt function 'file://prompts.py:make_prompt' is code" in w for w in warnings)
    assert len(plan.cases) == 1
