"""promptfoo `tests`: inline objects, or `file://` CSV / YAML / JSON / JSONL files and globs,
flattened to one list of raw test objects, each knowing where it came from.

External datasets (`https://`, `huggingface://`, ...) and test generators (`file://x.py`) are
not loaded: each is reported by name, never dropped silently.
"""

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evaluations.importers import asserts
from evaluations.importers.files import (
    FileProblem,
    Uploads,
    folder,
    load_csv,
    load_jsonl,
    load_structured,
)
from evaluations.importers.plan import ImportPlan

_EXTERNAL = re.compile(r"^(?:https?|huggingface|hf|gs|s3|sheets?)://", re.IGNORECASE)
_CODE_EXT = (".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".sh")
_GLOB = re.compile(r"[*?\[]")
_EXPECTED_COLUMN = re.compile(r"^__expected\d*$")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


@dataclass
class RawTest:
    origin: str  # "promptfooconfig.yaml tests[2]", "cases.csv line 4"
    base: str  # folder that the test's own file:// references are relative to
    data: dict[str, Any] = field(default_factory=dict)


def is_code_ref(ref: str) -> bool:
    path = re.sub(r":[A-Za-z_][A-Za-z0-9_]*$", "", ref.removeprefix("file://"))  # gen.py:fn
    return path.lower().endswith(_CODE_EXT)


def missing(what: str, ref: str) -> str:
    return f"{what} refers to file://{ref}, which was not uploaded; add it to the upload"


def collect(raw: Any, *, plan: ImportPlan, uploads: Uploads, main: str) -> list[RawTest]:
    """Every test of the config, in promptfoo's order (inline, then each file's rows)."""
    if raw is None:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    out: list[RawTest] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            out.append(RawTest(f"{main} tests[{index}]", folder(main), entry))
        elif isinstance(entry, str):
            out.extend(_from_reference(entry, plan=plan, uploads=uploads, main=main))
        else:
            plan.problem(f"{main} tests[{index}]", "each test is a mapping or a file:// path")
    return out


def _from_reference(entry: str, *, plan: ImportPlan, uploads: Uploads, main: str) -> list[RawTest]:
    if _EXTERNAL.match(entry):
        plan.warn("tests", f"external dataset '{entry}' is not loaded; it was left out")
        return []
    ref = entry.removeprefix("file://")
    if is_code_ref(entry):
        plan.warn("tests", f"test generator '{entry}' is code Rollout Desk does not run; left out")
        return []
    if _GLOB.search(ref):
        # Never the config itself: flat browser uploads make `tests/*.yaml` match it too.
        names = [n for n in uploads.glob(ref, base=folder(main)) if n != main]
        if not names:
            plan.problem(
                "tests",
                f"tests refers to file://{ref}, which matched no uploaded file; add the files "
                "to the upload",
            )
    else:
        found = uploads.find(ref, base=folder(main))
        names = [found] if found else []
        if not found:
            plan.problem("tests", missing("tests", ref))
    out: list[RawTest] = []
    for name in names:
        try:
            out.extend(_load_tests_file(name, plan=plan, uploads=uploads))
        except FileProblem as exc:
            plan.problem(exc.where, exc.message)
    return out


def _load_tests_file(name: str, *, plan: ImportPlan, uploads: Uploads) -> Iterator[RawTest]:
    text = uploads.text(name)
    lowered = name.lower()
    if lowered.endswith(".csv"):
        yield from _csv_tests(name, text, plan=plan)
        return
    if lowered.endswith(".jsonl"):
        rows = load_jsonl(name, text)
    else:
        data = load_structured(name, text)
        items = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
        if items is None:
            raise FileProblem(name, "must hold a list of tests (mappings with vars and assert)")
        rows = [(i, item) for i, item in enumerate(items)]
    for position, item in rows:
        where = f"{name} line {position}" if lowered.endswith(".jsonl") else f"{name}[{position}]"
        if not isinstance(item, dict):
            plan.problem(where, "each test is a mapping with vars and assert")
            continue
        yield RawTest(where, folder(name), item)


def _csv_tests(name: str, text: str, *, plan: ImportPlan) -> Iterator[RawTest]:
    """promptfoo's CSV: one test a row, a column per variable; `__expected`, `__expected1`...
    hold assertions (`contains:refund`, plain text = equals), and `__description`, `__metric`,
    `__threshold` (empty: none), `__metadata:<key>` and `__metadata:<key>[]` (a list) the
    test's other fields."""
    for line, row in load_csv(name, text):
        where = f"{name} line {line}"
        test: dict[str, Any] = {"vars": {}, "assert": [], "metadata": {}}
        metric = ""
        for column, cell in row.items():
            if not column.startswith("__"):
                test["vars"][column] = cell
            elif _EXPECTED_COLUMN.match(column):
                if cell.strip():
                    test["assert"].append(asserts.from_expected(cell))
            elif column == "__description":
                if cell.strip():
                    test["description"] = cell.strip()
            elif column == "__metric":
                metric = cell.strip()
            elif column == "__threshold":
                if cell.strip():
                    try:
                        test["threshold"] = float(cell)
                    except ValueError:
                        plan.problem(where, f"__threshold {cell[:40]!r} is not a number (0 to 1)")
            elif column.startswith("__metadata:"):
                key = column.removeprefix("__metadata:")
                if not cell.strip():
                    continue  # promptfoo's rule: an empty cell sets nothing
                if key.endswith("[]"):
                    test["metadata"][key[:-2]] = metadata_list(cell)
                else:
                    test["metadata"][key] = cell
            else:
                plan.warn(name, f"column '{column}' is not supported; it was left out")
        if metric:
            for entry in test["assert"]:
                entry.setdefault("metric", metric)
        yield RawTest(where, folder(name), test)


def metadata_list(cell: str) -> list[str]:
    """A `__metadata:<key>[]` cell as promptfoo reads it: comma-separated items, trimmed, with
    `\\,` for a comma inside an item ("physics,advanced\\,theory" -> physics, "advanced,theory")."""
    items = (item.strip().replace("\\,", ",") for item in _UNESCAPED_COMMA.split(cell))
    return [item for item in items if item]


def load_var(
    value: str, *, what: str, where: str, base: str, plan: ImportPlan, uploads: Uploads
) -> tuple[bool, Any]:
    """(ok, value) for a `file://` var or assertion value: text, or parsed JSON / YAML."""
    ref = value.removeprefix("file://")
    if is_code_ref(value):
        plan.warn(where, f"{what} is computed by code ({value}), which is not run; left out")
        return False, None
    found = uploads.find(ref, base=base)
    if not found:
        plan.problem(where, missing(what, ref))
        return False, None
    try:
        text = uploads.text(found)
        if posixpath.splitext(found)[1].lower() in (".json", ".yaml", ".yml"):
            return True, load_structured(found, text)
    except FileProblem as exc:
        plan.problem(exc.where, exc.message)
        return False, None
    return True, text
