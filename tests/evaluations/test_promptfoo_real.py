"""promptfoo files as real users write them (fixtures modelled on promptfoo's own examples):
rubric placeholders filled at scoring time, severity columns, list metadata, bare prompt paths,
function-call checks, transforms, and files with a BOM, CRLF, tabs, long cells, emoji and RTL."""

# ruff: noqa: RUF001  (curly quotes, dashes and Arabic text are the test data)

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from evaluations.case_scoring import case_spec
from evaluations.executor import run_execute
from evaluations.importers.promptfoo_tests import metadata_list
from evaluations.models import CaseResult, Suite
from evaluations.services.importing import import_apply, import_plan
from evaluations.services.runs import run_create
from registry.models import ModelConfig, ModelVersion, Provider
from registry.services import registry

FIXTURES = Path(__file__).parent / "promptfoo"
JUDGE_MODEL = "judge-model-2025-01-01"


def files_of(folder: str) -> dict[str, bytes]:
    root = FIXTURES / folder
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def plan_for(feature, files: dict[str, bytes], main: str | None = "promptfooconfig.yaml"):
    return import_plan(feature=feature, files=files, main=main, actor=None)


def texts(notes) -> list[str]:
    return [str(n) for n in notes]


def completion(text: str) -> dict:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


# --- scoring: {{var}} in assertion values --------------------------------------------------


@pytest.fixture
def world(transactional_db, settings, monkeypatch):
    """A feature with a served config and a judge config on one stub provider."""
    monkeypatch.setattr("evaluations.services.runs._enqueue", lambda run: None)
    settings.EVAL_PROVIDER_CONCURRENCY = 4
    provider = registry.provider_save(
        provider=Provider(
            name="Stub", api_style="openai_chat", base_url="http://127.0.0.1:9/v1", api_key_env=""
        ),
        actor=None,
    )

    def config(name: str, model_id: str) -> ModelConfig:
        version = registry.model_version_save(
            version=ModelVersion(
                provider=provider, model_id=model_id, input_price=Decimal("1"),
                output_price=Decimal("1"),
            ),
            actor=None,
        )  # fmt: skip
        return registry.config_create(
            config=ModelConfig(name=name, model_version=version, system_prompt=""), actor=None
        )

    served = config("v1", "gpt-4o-2024-08-06")
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=served, actor=None
    )
    return {"feature": feature, "config": served, "judge": config("judge", JUDGE_MODEL)}


def imported_run(world, folder: str, *, judged: bool = False):
    plan = plan_for(world["feature"], files_of(folder))
    assert plan.problems == []
    suite = import_apply(plan=plan, actor=None)
    if judged:
        Suite.objects.filter(pk=suite.pk).update(judge_config=world["judge"])
    return run_create(suite=suite, config=world["config"], actor=None)


def test_a_default_test_rubric_is_filled_with_each_rows_variables_when_graded(world):
    run = imported_run(world, "rubric-severity", judged=True)
    rubrics: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] != JUDGE_MODEL:
            return httpx.Response(200, json=completion(body["messages"][-1]["content"]))
        rubrics.append(json.dumps(body["messages"], ensure_ascii=False))
        grade = {"pass": True, "score": 0.9, "reasoning": "fine"}
        return httpx.Response(200, json=completion(json.dumps(grade)))

    run_execute(run.pk, transport=httpx.MockTransport(answer))

    # 4 rows x 2 rubrics, each naming that row's message, context and language, never "{{".
    assert len(rubrics) == 8
    assert not any("{{" in r for r in rubrics)
    assert sum("¿pueden revisarlo?" in r and "0,14 EUR/kWh" in r for r in rubrics) == 1
    assert sum("written in es only" in r for r in rubrics) == 2
    assert sum("written in en only" in r for r in rubrics) == 2
    results = CaseResult.objects.filter(run=run)
    assert {r.status for r in results} == {"pass"}


def test_contains_placeholders_pass_or_fail_on_the_filled_value(world):
    run = imported_run(world, "bare-prompts")

    def answer(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        # The Riverside notice names the time; the Old Town one gets it wrong.
        text = "Riverside: power back at 18:30." if "Riverside" in prompt else "Back at 07:00."
        return httpx.Response(200, json=completion(text))

    run_execute(run.pk, transport=httpx.MockTransport(answer))

    results = {r.case.name: r for r in CaseResult.objects.filter(run=run).select_related("case")}
    evening = results["evening return · notice.txt"]
    assert evening.status == "pass"
    assert [o["type"] for o in evening.outcomes] == ["contains", "icontains-any"]
    overnight = results["overnight works · notice.txt"]
    assert overnight.status == "fail"
    assert "06:00 tomorrow" in overnight.outcomes[0]["reason"]


def test_list_values_and_the_reference_are_filled_too():
    spec = case_spec(
        messages=[],
        variables={"city": "Zürich", "pattern": "("},
        reference="Weather in {{city}}",
        assertions=[
            {"type": "contains-any", "value": ["{{ city }}", "Zurich"]},
            {"type": "is-json", "value": {"type": "object", "title": "{{city}}"}},
        ],
        threshold=None,
    )
    assert spec.problem == ""
    assert spec.reference == "Weather in Zürich"
    assert spec.assertions[0]["value"] == ["Zürich", "Zurich"]
    # A schema is structure, not text: left as written.
    assert spec.assertions[1]["value"]["title"] == "{{city}}"


def test_a_variable_that_breaks_a_regex_is_that_cases_error():
    spec = case_spec(
        messages=[],
        variables={"pattern": "(unclosed"},
        reference="",
        assertions=[{"type": "regex", "value": "^{{pattern}}$"}],
        threshold=None,
    )
    assert spec.assertions == []
    assert spec.problem.startswith("the case's assertions cannot run:")


# --- CSV columns: severity, threshold, description, list metadata ------------------------


def test_severity_high_or_critical_marks_a_row_critical(feature):
    plan = plan_for(feature, files_of("rubric-severity"))
    assert plan.problems == []
    cases = {c.name: c for c in plan.cases}
    assert list(cases) == [
        "ES double meter reading",
        "EN move-out final bill",
        "ES tariff question, mixed languages",
        "EN vague outage answer",
    ]
    assert [c.critical for c in cases.values()] == [True, True, False, False]
    # An empty __threshold means none (every rubric must pass); "0" is a real threshold.
    assert cases["ES double meter reading"].threshold is None
    assert cases["ES tariff question, mixed languages"].threshold == 0.0
    assert cases["ES double meter reading"].dimension == "accuracy"  # the first metric's
    warnings = texts(plan.warnings)
    assert (
        "metadata.severity: 2 case(s) with severity high or critical are marked critical: a "
        "regression on any of them blocks the gate (set metadata.critical: false to opt out)"
    ) in warnings
    assert any(
        w.startswith("providers[0]: 'echo' is not a model: it is promptfoo's echo provider")
        for w in warnings
    )
    assert any(
        w.startswith("defaultTest: options.provider 'openai:gpt-4.1-mini' (the provider that "
                     "grades llm-rubric) is not used: the suite's judge config grades")
        for w in warnings
    )  # fmt: skip
    assert plan.providers[0].given == "echo" and plan.providers[0].configs == []


def test_an_explicit_critical_false_wins_over_severity(feature):
    files = files_of("rubric-severity")
    csv = files["tickets.csv"].decode()
    csv = csv.replace("__threshold\n", "__threshold,__metadata:critical\n", 1)
    csv = "\n".join(line + ("," if i else "") for i, line in enumerate(csv.splitlines()))
    csv = csv.replace('"high",,', '"high",,false', 1)
    files["tickets.csv"] = csv.encode()
    plan = plan_for(feature, files)
    assert plan.problems == []
    assert [c.critical for c in plan.cases] == [False, True, False, False]


def test_list_metadata_splits_on_commas_that_are_not_escaped():
    assert metadata_list("hardware,billing\\, monthly,onboarding") == [
        "hardware",
        "billing, monthly",
        "onboarding",
    ]
    assert metadata_list(" one ,, two ") == ["one", "two"]


def test_metadata_that_has_no_place_on_a_case_is_reported(feature):
    plan = plan_for(feature, files_of("csv-metadata"))
    assert plan.problems == []
    assert [c.name for c in plan.cases] == [
        "smart meter basics",
        "refunds",
        "Arabic topic, right to left",
    ]
    assert (
        "metadata: metadata keys area, labels are not kept: a case keeps only dimension, "
        "critical, weight, reference and severity (high or critical marks it critical)"
    ) in texts(plan.warnings)


# --- prompts and tests in their other spellings --------------------------------------------


def test_a_single_prompt_string_and_a_single_tests_file_string(feature):
    plan = plan_for(feature, files_of("csv-metadata"))
    assert plan.suite_prompt == "Explain {{topic}} to a new support agent in three sentences."
    first = plan.cases[0]
    assert first.variables == {"topic": "smart meters", "keyword": "reading"}
    assert first.assertions[0]["value"] == "{{keyword}}"  # filled when scored
    assert first.assertions[1]["type"] == "llm-rubric"


def test_bare_prompt_paths_and_crlf_separated_prompts(feature):
    files = files_of("bare-prompts")
    files["variants.txt"] = files["variants.txt"].replace(b"\n", b"\r\n")
    plan = plan_for(feature, files)
    assert plan.problems == []
    assert [c.name for c in plan.cases[:3]] == [
        "evening return · notice.txt",
        "evening return · variants.txt #1",
        "evening return · variants.txt #2",
    ]
    # The CRLF inside a prompt is kept as written; the separator line is not.
    assert plan.cases[1].prompt == (
        "Write an outage notice for {{area}} in a {{ (style | load).tone }} tone.\r\n"
        "Supply returns at {{eta}}."
    )
    assert "---" not in plan.cases[2].prompt


def test_nunjucks_filters_are_reported_naming_the_variable(feature):
    plan = plan_for(feature, files_of("bare-prompts"))
    warnings = texts(plan.warnings)
    assert (
        "prompt 'variants.txt #1': uses Nunjucks tags or filters: {{ (style | load).tone }} "
        "applies the filter load to variable 'style', which is not run, so the placeholder is "
        "sent as written; give the value it should produce as a variable of its own (a "
        "column) and write {{ name }}"
    ) in warnings
    assert any(w.startswith("prompt 'variants.txt #2': uses Nunjucks tags") for w in warnings)


def test_a_bare_prompt_path_that_was_not_uploaded_is_a_problem(feature):
    files = files_of("bare-prompts")
    del files["notice.txt"]
    plan = plan_for(feature, files)
    assert texts(plan.problems) == [
        "prompts[0]: 'notice.txt' reads as a prompt file path (promptfoo loads it), but no such "
        "file was uploaded; add it to the upload"
    ]


# --- function calls and transforms ---------------------------------------------------------


def test_function_call_checks_become_tool_call_with_the_functions_schema(feature):
    plan = plan_for(feature, files_of("function-call"))
    assert plan.problems == []
    boston, edinburgh, manchester = plan.cases
    expected = {
        "type": "tool-call",
        "value": {
            "name": "lookup_outage",
            "arguments": {},
            "schema": {
                "type": "object",
                "properties": {"postcode": {"type": "string"}},
                "required": ["postcode"],
            },
        },
        "threshold": None,
        "weight": 1.0,
        "metric": "",
    }
    # is-json checked the call in promptfoo; javascript is code: both left out.
    assert boston.assertions == [expected]
    assert edinburgh.assertions == [expected]  # the transformed equals is left out
    assert manchester.assertions == []  # options.transform: nothing runs untransformed
    warnings = texts(plan.warnings)
    where = "test 1 (promptfooconfig.yaml tests[0])"
    assert (
        f"{where}: assert[1] (is-valid-openai-tools-call): mapped to tool-call lookup_outage "
        "with its parameters as the schema"
    ) in warnings
    assert any(w.startswith(f"{where}: assert[0] (is-json) was left out") for w in warnings)
    assert (
        "test 2 (promptfooconfig.yaml tests[1]): assert[0] (equals) uses 'transform' "
        "(output[0].function.name), which is not supported: it is code Rollout Desk does not "
        "run, and checking the untransformed output would judge something else; it was left out"
    ) in warnings
    assert (
        "test 3 (promptfooconfig.yaml tests[2]): options.transform rewrites the output before "
        "its 1 assertion(s) are checked; that is code Rollout Desk does not run, so they were "
        "left out rather than run on the untransformed output"
    ) in warnings


def test_function_checks_are_left_out_when_the_function_is_not_known(feature):
    files = files_of("function-call")
    del files["lookup_outage.yaml"]
    plan = plan_for(feature, files)
    assert plan.cases[0].assertions == []
    assert (
        "test 1 (promptfooconfig.yaml tests[0]): assert[1] (is-valid-openai-tools-call) was "
        "left out: the provider tools in file://lookup_outage.yaml were not uploaded, so the "
        "function to check is unknown; upload it, or write a tool-call assertion with the name"
    ) in texts(plan.warnings)


def test_several_functions_cannot_become_one_tool_call(feature):
    files = files_of("function-call")
    files["lookup_outage.yaml"] += (
        b"- type: function\n  function:\n    name: report_outage\n    parameters: {type: object}\n"
    )
    plan = plan_for(feature, files)
    assert plan.cases[0].assertions == []
    assert any(
        "was left out: the providers define 2 functions (lookup_outage, report_outage) and "
        "tool-call checks one" in w
        for w in texts(plan.warnings)
    )


# --- bytes: BOM, CRLF, tabs, long cells, emoji, RTL ----------------------------------------

AWKWARD = {
    "family": "👩‍👩‍👧 family plan",  # a ZWJ sequence must not be split
    "arabic": "\u200fهل يمكنني تغيير موعد القراءة؟",  # RTL mark first
    "multiline": "Line one,\r\nline two “quoted”\r\n\ttabbed",
    "long": "kWh " * 60_000,  # 240 KB: past csv's default 128 KiB cell limit
}


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_csv_cells_survive_byte_exact_with_a_bom_and_crlf(feature):
    header = ",".join(AWKWARD) + ",__expected"
    row = ",".join(_csv_cell(v) for v in AWKWARD.values()) + ",icontains:{{family}}"
    data = "\ufeff" + header + "\r\n" + row + "\r\n"
    config = b"prompts: ['{{family}} {{arabic}}']\r\ntests: file://rows.csv\r\n"
    files = {"promptfooconfig.yaml": b"\xef\xbb\xbf" + config, "rows.csv": data.encode()}
    plan = plan_for(feature, files)
    assert plan.problems == []
    (case,) = plan.cases
    assert case.variables == AWKWARD  # the BOM is not part of the first column's name
    assert plan.suite_prompt == "{{family}} {{arabic}}"


def test_a_tab_in_yaml_names_the_line_and_column(feature):
    config = b"prompts:\n  - 'Hi {{name}}'\ntests:\n  - vars:\n\t    name: Ann\n"
    plan = plan_for(feature, {"promptfooconfig.yaml": config})
    assert texts(plan.problems) == [
        "promptfooconfig.yaml line 5, column 1: is indented with a tab, which YAML does not "
        "allow; indent with spaces"
    ]
