"""A promptfoo config (promptfooconfig.yaml and the files it refers to) as an import plan.

1. Read the config; report top-level keys the product does not run (scenarios, redteam, ...).
2. Prompts: strings (Nunjucks `{{ var }}`, filled as is by evaluations/cases.py), `file://`
   text (split on `---` lines) or JSON / YAML chat message lists, `{raw|id, label}` objects.
3. Providers: matched to registered model versions (importers/providers.py).
4. Tests: inline, or from files (importers/promptfoo_tests.py); `defaultTest` merged into each
   (its vars under the test's, its asserts first); list-valued vars expanded as promptfoo does.
5. One case per prompt x test, its assertions validated (importers/asserts.py).
"""

import itertools
import posixpath
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.case_fields import clean_variables
from evaluations.importers import asserts, promptfoo_tools
from evaluations.importers.files import (
    FileProblem,
    Uploads,
    folder,
    load_structured,
)
from evaluations.importers.plan import MAX_CASES, CasePlan, ImportPlan
from evaluations.importers.promptfoo_cases import case_fields, report_metadata, threshold_of
from evaluations.importers.promptfoo_prompts import Prompt, Prompts
from evaluations.importers.promptfoo_tests import RawTest, collect, load_var, missing
from evaluations.importers.providers import match_providers

_KNOWN = {"description", "prompts", "providers", "tests", "defaultTest"}
# Settings of the promptfoo CLI itself: nothing to import, so not worth a warning.
_CLI_ONLY = {
    "outputPath",
    "sharing",
    "evaluateOptions",
    "commandLineOptions",
    "writeLatestResults",
    "env",
    "tags",
    "$schema",
}
_TEST_KEYS = {"description", "vars", "assert", "threshold", "options", "metadata"}
# Options that change what is sent; the case runs without them, so they are reported.
_RUN_OPTIONS = ("transformVars", "prefix", "suffix")
# Options that rewrite the output before every assertion of the test is checked.
_OUTPUT_CODE = ("transform", "postprocess")


class _Config:
    def __init__(self, plan: ImportPlan, uploads: Uploads, main: str) -> None:
        self.plan, self.uploads, self.main = plan, uploads, main
        self.tools = promptfoo_tools.Tools()

    # --- tests -----------------------------------------------------------------------------

    def default_test(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            ref = raw.removeprefix("file://")
            name = self.uploads.find(ref, base=folder(self.main))
            if name is None:
                self.plan.problem("defaultTest", missing("defaultTest", ref))
                return {}
            try:
                raw = load_structured(name, self.uploads.text(name))
            except FileProblem as exc:
                self.plan.problem(exc.where, exc.message)
                return {}
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.plan.problem("defaultTest", "must be a mapping (vars, assert, threshold, ...)")
            return {}
        self._check_keys(raw, "defaultTest")
        return raw

    def _check_keys(self, test: dict[str, Any], where: str) -> None:
        for key in sorted(set(test) - _TEST_KEYS):
            self.plan.warn(where, f"'{key}' is not supported; it was left out")
        options = _mapping(test.get("options"))
        for key in _RUN_OPTIONS:
            if key in options:
                self.plan.warn(where, f"options.{key} is not run by Rollout Desk; left out")
        if "provider" in options:
            grader = options["provider"]
            if isinstance(grader, dict):
                grader = grader.get("id", grader)
            self.plan.warn(
                where,
                f"options.provider {str(grader)[:80]!r} (the provider that grades llm-rubric) "
                "is not used: the suite's judge config grades; set one on the suite",
            )

    def output_code(self, test: dict[str, Any], default: dict[str, Any]) -> str:
        """The options.transform / postprocess in effect for a test (its own, else
        defaultTest's), or ""."""
        for options in (_mapping(test.get("options")), _mapping(default.get("options"))):
            for key in _OUTPUT_CODE:
                if options.get(key):
                    return key
        return ""

    def variables(self, test: RawTest, raw: Any, where: str) -> list[dict[str, Any]] | None:
        """The test's vars (file:// loaded), one dict per combination of list-valued vars."""
        if raw is None:
            return [{}]
        try:
            raw = clean_variables(raw, field="vars")
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                self.plan.problem(where, f"{key}: {' '.join(errors)}")
            return None
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if isinstance(value, str) and value.startswith("file://"):
                ok, loaded = load_var(
                    value,
                    what=f"var '{name}'",
                    where=where,
                    base=test.base,
                    plan=self.plan,
                    uploads=self.uploads,
                )
                if not ok:
                    continue
                value = loaded
            values[name] = value
        if _mapping(test.data.get("options")).get("disableVarExpansion"):
            return [values]
        names = [n for n, v in values.items() if isinstance(v, list)]
        if not names:
            return [values]
        combos = itertools.product(*(values[n] for n in names))
        return [{**values, **dict(zip(names, combo, strict=True))} for combo in combos]

    def assertions(self, raw: Any, where: str, base: str) -> list[dict[str, Any]]:
        raw = promptfoo_tools.rewrite(raw, where=where, tools=self.tools, warn=self.plan.warn)

        def load_value(ref: str, what: str) -> Any:
            ok, value = load_var(
                f"file://{ref}", what=what, where=where, base=base, plan=self.plan,
                uploads=self.uploads,
            )  # fmt: skip
            return value if ok else None

        return asserts.convert(
            raw,
            where=where,
            field="assert",
            load_value=load_value,
            warn=self.plan.warn,
            problem=self.plan.problem,
        )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _given(value: object) -> bool:
    return value is not None and value != ""


def _label(number: int, test: RawTest) -> str:
    description = test.data.get("description")
    if isinstance(description, str) and description.strip():
        return f'test {number} ("{description.strip()[:80]}")'
    return f"test {number} ({test.origin})"


def plan_promptfoo(plan: ImportPlan, uploads: Uploads, main: str) -> None:
    """Fill `plan` from the promptfoo config `main` and the uploads it refers to."""
    try:
        config = load_structured(main, uploads.text(main))
    except FileProblem as exc:
        plan.problem(exc.where, exc.message)
        return
    if not isinstance(config, dict):
        plan.problem(main, "is not a promptfoo config: expected a mapping with prompts and tests")
        return
    for key in sorted(set(config) - _KNOWN - _CLI_ONLY):
        plan.warn(main, f"'{key}' is not supported; it was left out")
    cfg = _Config(plan, uploads, main)
    cfg.tools = promptfoo_tools.provider_tools(config.get("providers"), uploads=uploads, main=main)
    description = config.get("description")
    stem = posixpath.splitext(posixpath.basename(main))[0]
    plan.suite_name = (description if isinstance(description, str) else "").strip()[:200] or stem
    plan.suite_description = f"Imported from promptfoo config {main}."
    prompts = Prompts(plan, uploads, main).prompts(config.get("prompts"))
    match_providers(config.get("providers"), plan)
    default = cfg.default_test(config.get("defaultTest"))
    default_asserts = cfg.assertions(default.get("assert"), "defaultTest", folder(main))
    default_vars = _mapping(default.get("vars"))
    tests = collect(config.get("tests"), plan=plan, uploads=uploads, main=main)
    if not tests:
        tests = [RawTest(f"{main} defaultTest", folder(main), {})]
    single_text = len(prompts) == 1 and not prompts[0].messages
    if single_text:
        plan.suite_prompt = prompts[0].template
    metadata_keys: set[str] = set()
    severity_critical = 0
    for number, test in enumerate(tests, start=1):
        where = _label(number, test)
        data = test.data
        cfg._check_keys(data, where)
        own = cfg.assertions(data.get("assert"), where, test.base)
        merged_asserts = default_asserts + own
        code = cfg.output_code(data, default)
        if code and merged_asserts:
            plan.warn(
                where,
                f"options.{code} rewrites the output before its {len(merged_asserts)} "
                "assertion(s) are checked; that is code Rollout Desk does not run, so they were "
                "left out rather than run on the untransformed output",
            )
            merged_asserts = []
        metadata = {**_mapping(default.get("metadata")), **_mapping(data.get("metadata"))}
        metadata_keys.update(metadata)
        # The metrics still say what the test measures, even when its checks were left out.
        fields = case_fields(plan, where, metadata, own, default_asserts)
        by_severity = fields["critical"] and not _given(metadata.get("critical"))
        threshold = threshold_of(plan, where, data.get("threshold", default.get("threshold")))
        own_vars = data.get("vars")
        if isinstance(own_vars, dict):
            raw_vars: Any = {**default_vars, **own_vars}
        else:  # absent: the defaults; anything else: clean_variables names the problem
            raw_vars = dict(default_vars) if own_vars is None else own_vars
        combos = cfg.variables(test, raw_vars, where)
        if combos is None:
            continue
        name = str(data.get("description") or "").strip() or f"test {number}"
        for combo_index, variables in enumerate(combos):
            for prompt in prompts or [Prompt(label="")]:
                if len(plan.cases) >= MAX_CASES:
                    plan.problem(
                        "",
                        f"the import makes more than {MAX_CASES} cases (prompts x tests); "
                        "split it into several suites",
                    )
                    return
                suffix = f" [{combo_index + 1}]" if len(combos) > 1 else ""
                label = f" · {prompt.label}" if len(prompts) > 1 else ""
                if not (variables or prompt.template or prompt.messages):
                    plan.problem(where, "has nothing to send: give the config prompts or vars")
                    continue
                plan.cases.append(
                    CasePlan(
                        name=f"{name}{suffix}{label}"[:300],
                        messages=[dict(m) for m in prompt.messages],
                        variables=variables,
                        prompt="" if single_text else prompt.template,
                        assertions=[dict(a) for a in merged_asserts],
                        threshold=threshold,
                        source_ref=f"{test.origin}{label}"[:300],
                        **fields,
                    )
                )
                severity_critical += by_severity
    report_metadata(plan, metadata_keys, severity_critical)
