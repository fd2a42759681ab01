"""Importing cases from JSONL: the product's own case fields, one JSON object a line."""

import json
from pathlib import Path

from evaluations.models import Case, Suite
from evaluations.services.importing import import_apply, import_plan
from evaluations.services.suites import case_create, suite_create
from evaluations.views.export import case_line

FIXTURES = Path(__file__).parent / "promptfoo" / "jsonl"


def plan_for(feature, name: str, data: bytes | None = None):
    data = data if data is not None else (FIXTURES / name).read_bytes()
    return import_plan(feature=feature, files={name: data}, main=None, actor=None)


def test_each_line_is_a_case(feature):
    plan = plan_for(feature, "support-cases.jsonl")
    assert plan.problems == [] and plan.source == "jsonl"
    assert plan.suite_name == "support-cases"
    chat, polite, structured = plan.cases
    assert chat.name == "refund, chat form" and chat.critical is True
    assert chat.messages[1]["content"] == "Can I get a refund for order {{order}}?"
    assert chat.variables == {"order": "A-1234"}
    assert (polite.dimension, polite.weight, polite.threshold) == ("tone", 2.0, 0.5)
    assert polite.prompt == "Antworte höflich: {{question}}"
    assert polite.reference == "Ihr Paket ist unterwegs."
    assert structured.assertions[0]["value"] == {"type": "object", "required": ["priority"]}
    # The blank line 3 is skipped; lines keep their numbers.
    assert structured.source_ref == "support-cases.jsonl line 4"


def test_errors_name_the_line_and_field(feature):
    plan = plan_for(feature, "bad.jsonl")
    problems = [str(p) for p in plan.problems]
    assert problems == ["bad.jsonl line 4: is not valid JSON: Expecting ',' delimiter"]
    # With the broken line fixed, every field problem is named.
    lines = (FIXTURES / "bad.jsonl").read_text().splitlines()[:3]
    plan = plan_for(feature, "bad.jsonl", "\n".join(lines).encode())
    problems = [str(p) for p in plan.problems]
    assert problems[0].startswith("bad.jsonl line 2: asserts: is not a known field")
    assert "bad.jsonl line 3: dimension: 'style' is not one of format, tone" in problems[1]
    assert problems[2] == "bad.jsonl line 3: weight: give a number of 0 or more"
    assert len(plan.cases) == 1 and not plan.ok


def test_a_malformed_assertion_names_line_and_field(feature):
    line = {"name": "x", "vars": {"q": "hi"}, "assert": [{"type": "regex", "value": "(["}]}
    plan = plan_for(feature, "cases.jsonl", json.dumps(line).encode())
    assert str(plan.problems[0]).startswith(
        "cases.jsonl line 1: assert[0].value: not a valid regular expression"
    )


def test_a_line_needs_messages_or_vars(feature):
    plan = plan_for(feature, "cases.jsonl", b'{"name": "nothing to send"}\n')
    assert "messages: give 'messages'" in str(plan.problems[0])


def test_apply_creates_the_cases(feature, release):
    suite = import_apply(plan=plan_for(feature, "support-cases.jsonl"), actor=release)
    cases = list(suite.cases.order_by("position"))
    assert [c.name for c in cases] == ["refund, chat form", "Höflichkeit", "JSON answer"]
    assert {c.source for c in cases} == {Case.Source.JSONL}
    assert cases[0].critical and cases[1].weight == 2.0


def test_an_exported_suite_imports_again(feature, release):
    suite = suite_create(feature=feature, actor=release, name="hand written", prompt="Q: {q}")
    case_create(
        suite=suite, actor=release, name="order", variables={"q": "Where is A-1?"},
        assertions=[{"type": "contains", "value": "A-1"}], dimension="accuracy", critical=True,
    )  # fmt: skip
    exported = "".join(json.dumps(case_line(c)) + "\n" for c in suite.cases.all()).encode()
    plan = plan_for(feature, "hand-written-copy.jsonl", exported)
    assert plan.problems == []
    copy = import_apply(plan=plan, actor=release)
    case = copy.cases.get()
    assert (case.name, case.variables, case.critical, case.dimension) == (
        "order", {"q": "Where is A-1?"}, True, "accuracy",
    )  # fmt: skip
    assert Suite.objects.count() == 2


def test_an_empty_file_is_a_problem(feature):
    plan = plan_for(feature, "empty.jsonl", b"\n\n")
    assert "holds no cases" in str(plan.problems)
