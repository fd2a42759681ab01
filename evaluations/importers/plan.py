"""What an import would create, before it does: the plan shared by the promptfoo and JSONL
importers, the preview page, the command and `import_apply`.

A plan is plain data (JSON round-trip via `to_json` / `from_json`), so the page can stage it
signed in the session between the preview and the confirm, and the confirm creates exactly what
the preview showed.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

# Documented on the page and in the README; `import_plan` refuses more, naming the limit.
MAX_FILES = 20
MAX_TOTAL_BYTES = 10 * 1024 * 1024
MAX_CASES = 5000
# How many cases the preview lists in full (the count covers all of them).
PREVIEW_CASES = 50
# More problems than this are counted, not listed.
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class Note:
    """A problem (blocks the import) or a warning (reported, the rest is imported): where it is
    ("promptfooconfig.yaml line 12", 'test 4 ("refund in French")', "cases.jsonl line 3") and
    what to do about it."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(slots=True)
class CasePlan:
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    reference: str = ""
    assertions: list[dict[str, Any]] = field(default_factory=list)
    dimension: str = "other"
    critical: bool = False
    weight: float = 1.0
    threshold: float | None = None
    source_ref: str = ""


@dataclass(slots=True)
class ProviderPlan:
    """A promptfoo provider: matched to registered configs, or why it cannot be."""

    given: str  # as written in the config: "openai:chat:gpt-4o-mini"
    model_id: str  # without the provider prefix: "gpt-4o-mini"
    configs: list[str] = field(default_factory=list)  # names of configs on that version
    note: str = ""  # floating (with the pinned id to use), not registered, not a model


@dataclass(slots=True)
class ImportPlan:
    feature_key: str
    source: str  # Case.Source value: "promptfoo" or "jsonl"
    main: str
    suite_name: str = ""
    suite_description: str = ""
    suite_prompt: str = ""
    files: list[str] = field(default_factory=list)
    cases: list[CasePlan] = field(default_factory=list)
    providers: list[ProviderPlan] = field(default_factory=list)
    problems: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    problem_count: int = 0

    def problem(self, where: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(Note(where, message))

    def warn(self, where: str, message: str) -> None:
        note = Note(where, message)
        if note not in self.warnings:
            self.warnings.append(note)

    @property
    def ok(self) -> bool:
        return not self.problem_count and bool(self.cases)

    @property
    def preview_cases(self) -> list[CasePlan]:
        return self.cases[:PREVIEW_CASES]

    @property
    def assertion_count(self) -> int:
        return sum(len(c.assertions) for c in self.cases)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ImportPlan":
        data = dict(data)
        data["cases"] = [CasePlan(**c) for c in data.get("cases", [])]
        data["providers"] = [ProviderPlan(**p) for p in data.get("providers", [])]
        data["problems"] = [Note(**n) for n in data.get("problems", [])]
        data["warnings"] = [Note(**n) for n in data.get("warnings", [])]
        return cls(**data)
