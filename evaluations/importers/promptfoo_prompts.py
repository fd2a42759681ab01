"""promptfoo `prompts`: text (Nunjucks `{{ var }}`, filled as is by evaluations/cases.py),
`file://` text files (split on `---` lines), JSON / YAML / JSONL chat message lists, and
`{raw|id, label}` objects. Prompt functions (`file://x.py`) are code and are reported."""

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from evaluations.case_fields import clean_messages
from evaluations.importers.files import FileProblem, Uploads, folder, load_jsonl, load_structured
from evaluations.importers.plan import ImportPlan
from evaluations.importers.promptfoo_tests import is_code_ref, missing

_TAG = re.compile(r"\{%-?\s*(\w+)")
_FILTERED = re.compile(r"\{\{-?(?P<body>[^}]*\|[^}]*)\}\}")
_FILTER_NAME = re.compile(r"\|\s*([A-Za-z_]\w*)")
_IDENT = re.compile(r"[A-Za-z_]\w*")
# promptfoo reads a prompt entry as a file path when it looks like one (`prompts: [a.txt]`).
_PROMPT_FILE = re.compile(r"^[^\s{}]+\.(?:txt|md|j2|njk|json|jsonl|ya?ml|py|js)$", re.IGNORECASE)
# The `---` line between prompts in one file, CRLF files included.
_SEPARATOR = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)


def nunjucks_notes(text: str) -> list[str]:
    """What of a prompt's Nunjucks is not run: each filtered placeholder with its variable and
    filters (sent as written), and each tag."""
    notes: list[str] = []
    for match in _FILTERED.finditer(text):
        body = match["body"]
        filters = ", ".join(dict.fromkeys(_FILTER_NAME.findall(body)))
        variable = next(iter(_IDENT.findall(body)), "?")
        shown = match[0] if len(match[0]) <= 60 else match[0][:59] + "…"
        notes.append(
            f"uses Nunjucks tags or filters: {shown} applies the filter {filters} to variable "
            f"'{variable}', which is not run, so the placeholder is sent as written; give the "
            "value it should produce as a variable of its own (a column) and write {{ name }}"
        )
    tags = sorted(set(_TAG.findall(text)))
    if tags:
        notes.append(
            f"uses Nunjucks tags or filters: tags {', '.join('{% ' + t + ' %}' for t in tags)} "
            "are not run (sent as written); only {{ var }} placeholders are filled"
        )
    return notes


@dataclass
class Prompt:
    label: str
    template: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)


class Prompts:
    def __init__(self, plan: ImportPlan, uploads: Uploads, main: str) -> None:
        self.plan, self.uploads, self.main = plan, uploads, main

    def prompts(self, raw: Any) -> list[Prompt]:
        if raw is None:
            return []
        if isinstance(raw, dict):  # the older {path: label} form
            raw = [{"id": key, "label": value} for key, value in raw.items()]
        entries = raw if isinstance(raw, list) else [raw]
        out: list[Prompt] = []
        for index, entry in enumerate(entries):
            label = f"prompt {index + 1}"
            text: Any = entry
            if isinstance(entry, dict):
                text = entry.get("raw", entry.get("id"))
                label = str(entry.get("label") or label)
            if not isinstance(text, str):
                self.plan.problem(f"prompts[{index}]", "give a prompt as text or {raw, label}")
            elif text.startswith("file://") or _PROMPT_FILE.match(text.strip()):
                given = label if isinstance(entry, dict) and entry.get("label") else None
                out.extend(self._prompt_file(text.strip(), index, given))
            else:
                out.append(Prompt(label=label, template=text))
        for prompt in out:
            texts = [prompt.template] + [str(m.get("content", "")) for m in prompt.messages]
            for note in nunjucks_notes("\n".join(texts)):
                self.plan.warn(f"prompt '{prompt.label}'", note)
        return out

    def _prompt_file(self, ref: str, index: int, label: str | None) -> list[Prompt]:
        where = f"prompts[{index}]"
        if is_code_ref(ref):
            self.plan.warn(where, f"prompt function '{ref}' is code, which is not run; left out")
            return []
        path = ref.removeprefix("file://")
        name = self.uploads.find(path, base=folder(self.main))
        if name is None and not ref.startswith("file://"):
            self.plan.problem(
                where,
                f"'{ref}' reads as a prompt file path (promptfoo loads it), but no such file "
                "was uploaded; add it to the upload",
            )
            return []
        if name is None:
            self.plan.problem(where, missing("prompts", path))
            return []
        base = label or posixpath.basename(name)
        try:
            text = self.uploads.text(name)
            if name.lower().endswith((".json", ".yaml", ".yml", ".jsonl")):
                return self._chat_prompts(name, text, base)
        except FileProblem as exc:
            self.plan.problem(exc.where, exc.message)
            return []
        parts = [p.strip() for p in _SEPARATOR.split(text) if p.strip()]
        if len(parts) == 1:
            return [Prompt(label=base, template=parts[0])]
        return [Prompt(label=f"{base} #{n}", template=p) for n, p in enumerate(parts, 1)]

    def _chat_prompts(self, name: str, text: str, label: str) -> list[Prompt]:
        if name.lower().endswith(".jsonl"):
            chats = [(f"{label} line {n}", value) for n, value in load_jsonl(name, text)]
        else:
            chats = [(label, load_structured(name, text))]
        out = []
        for chat_label, value in chats:
            if isinstance(value, str):
                out.append(Prompt(label=chat_label, template=value))
                continue
            try:
                messages = clean_messages(value, field="messages")
            except ValidationError as exc:
                for key, errors in exc.message_dict.items():
                    self.plan.problem(f"{name} {key}", " ".join(errors))
                continue
            out.append(Prompt(label=chat_label, messages=messages))
        return out
