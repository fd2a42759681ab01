"""The uploaded files of one import: `file://` references resolved by relative path, and the
text formats promptfoo reads (YAML, JSON, JSONL, CSV), each error naming the file and line.

Nothing here touches the disk or the network: a reference resolves only to a file uploaded
with the config, so an import can never read the server's files.
"""

import csv
import fnmatch
import io
import json
import posixpath
from dataclasses import dataclass
from typing import Any

import yaml

# Values a loaded file may expand to, aliases counted each time they are used: YAML anchors are
# shared when loaded, but every later walk (the preview, the stored cases) expands them, so a
# few lines of nested aliases (a "billion laughs" file) would take the server's memory.
MAX_EXPANDED_VALUES = 200_000
_TOO_DEEP = "nests too deeply to be a promptfoo file; flatten it"


class FileProblem(ValueError):
    """A file cannot be read; `where` is "name line N" (or the name), the message says why."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _norm(path: str) -> str:
    path = path.replace("\\", "/").strip()
    normed = posixpath.normpath(path)
    return normed.lstrip("/") if normed != "." else ""


@dataclass
class Uploads:
    """Uploaded files by their relative path (the command passes paths relative to the main
    config's folder; the page's browser gives bare file names)."""

    files: dict[str, bytes]

    def __post_init__(self) -> None:
        self.files = {_norm(name): data for name, data in self.files.items()}

    def names(self) -> list[str]:
        return sorted(self.files)

    def find(self, ref: str, *, base: str) -> str | None:
        """The uploaded name a reference (`file://` stripped) means, or None.

        1. The path relative to the referring file's folder (promptfoo's rule).
        2. The path as written, from the top of the upload.
        3. The bare file name, when exactly one upload has it: a browser sends no folders, so
           `file://data/cases.csv` finds an uploaded `cases.csv`.
        """
        candidates = [_norm(posixpath.join(base, ref)), _norm(ref)]
        for name in candidates:
            if name in self.files:
                return name
        bare = posixpath.basename(_norm(ref))
        matches = [n for n in self.files if posixpath.basename(n) == bare]
        return matches[0] if len(matches) == 1 else None

    def glob(self, pattern: str, *, base: str) -> list[str]:
        """Uploaded names matching a glob (`tests/*.yaml`), tried like `find`."""
        for full in (_norm(posixpath.join(base, pattern)), _norm(pattern)):
            hits = sorted(n for n in self.files if fnmatch.fnmatchcase(n, full))
            if hits:
                return hits
        bare = posixpath.basename(_norm(pattern))
        return sorted(n for n in self.files if fnmatch.fnmatchcase(posixpath.basename(n), bare))

    def text(self, name: str) -> str:
        data = self.files[name]
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise FileProblem(
                f"{name} line {line}", "is not UTF-8 text; save it as UTF-8"
            ) from None


def folder(name: str) -> str:
    return posixpath.dirname(name)


def _expanded_size(value: Any, budget: int) -> int:
    """How many values `value` expands to, counting stops past `budget`; shared (aliased)
    containers count every time they appear, as a walk of them would meet them."""
    seen: dict[int, int] = {}

    def size(item: Any) -> int:
        if not isinstance(item, dict | list):
            return 1
        known = seen.get(id(item))
        if known is not None:
            return known
        total = 1
        for child in item.values() if isinstance(item, dict) else item:
            total += size(child)
            if total > budget:
                break
        seen[id(item)] = total
        return total

    return size(value)


class _StrictLoader(yaml.SafeLoader):
    """safe_load, refusing a key given twice in one mapping, as promptfoo's YAML reader does
    (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{key[:60]}' is given twice", key_node.start_mark
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(name: str, text: str) -> Any:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise FileProblem(name, _TOO_DEEP) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{name} line {mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        if "'\\t'" in problem:  # the commonest mistake in hand-edited configs
            column = f", column {mark.column + 1}" if mark is not None else ""
            raise FileProblem(
                f"{where}{column}",
                "is indented with a tab, which YAML does not allow; indent with spaces",
            ) from None
        raise FileProblem(where, f"is not valid YAML: {problem}") from None
    try:
        expanded = _expanded_size(data, MAX_EXPANDED_VALUES)
    except RecursionError:
        raise FileProblem(name, _TOO_DEEP) from None
    if expanded > MAX_EXPANDED_VALUES:
        raise FileProblem(
            name,
            f"expands to more than {MAX_EXPANDED_VALUES} values through its aliases (*name); "
            "write the values out or use fewer nested aliases",
        )
    return data


def load_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(f"{name} line {exc.lineno}", f"is not valid JSON: {exc.msg}") from None
    except (RecursionError, ValueError) as exc:  # 5,000 digits is a ValueError, not a decode one
        message = _TOO_DEEP if isinstance(exc, RecursionError) else f"is not valid JSON: {exc}"
        raise FileProblem(name, message[:300]) from None


def load_structured(name: str, text: str) -> Any:
    """JSON for .json, YAML otherwise (YAML is a superset, but JSON's errors read better)."""
    return load_json(name, text) if name.lower().endswith(".json") else load_yaml(name, text)


def load_jsonl(name: str, text: str) -> list[tuple[int, Any]]:
    """(line, object) for each non-blank line."""
    out: list[tuple[int, Any]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            out.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            raise FileProblem(f"{name} line {number}", f"is not valid JSON: {exc.msg}") from None
        except (RecursionError, ValueError) as exc:
            message = _TOO_DEEP if isinstance(exc, RecursionError) else f"is not valid JSON: {exc}"
            raise FileProblem(f"{name} line {number}", message[:300]) from None
    return out


def load_csv(name: str, text: str) -> list[tuple[int, dict[str, str]]]:
    """(line where the row starts, {column: cell}) for each non-empty row. Quoted cells may hold
    commas, quotes and newlines; a row with the wrong number of cells is refused."""
    # A cell may be as long as the whole upload (a pasted document): csv's default limit of
    # 128 KiB would refuse it. The limit is process-wide, so it is only ever raised.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FileProblem(name, "is empty; give a header row naming the variables") from None
    except csv.Error as exc:
        raise FileProblem(f"{name} line 1", f"is not valid CSV: {exc}") from None
    if not any(header):
        raise FileProblem(f"{name} line 1", "has an empty header row; name the variables")
    rows: list[tuple[int, dict[str, str]]] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise FileProblem(f"{name} line {start}", f"is not valid CSV: {exc}") from None
        if any(c.strip() for c in cells):
            if len(cells) != len(header):
                raise FileProblem(
                    f"{name} line {start}",
                    f"has {len(cells)} cells but the header has {len(header)}; quote cells "
                    'that hold commas ("like, this")',
                )
            rows.append((start, dict(zip(header, cells, strict=True))))
        start = reader.line_num + 1
    return rows
