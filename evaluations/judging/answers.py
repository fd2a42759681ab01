"""Reading the judge's answer: one JSON object, possibly in a ```json fence or with prose around.

Every reader returns the fields or raises `Unreadable` with what was wrong. An answer that cannot
be read is an error, never a pass or a fail: guessing would turn a confused judge into evidence.
"""

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
# How much of an unreadable answer an error quotes (the answer is untrusted, and may be long).
EXCERPT = 160
# At most this many `{` are tried as the start of an object: a judge answer is short, and a
# pathological one must not cost quadratic time.
MAX_STARTS = 50


class Unreadable(ValueError):
    """The judge answered, but not with the JSON asked for."""


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[:EXCERPT] + "…"


def _objects(text: str) -> list[object]:
    """Candidate JSON values in the text: the whole text, each fenced block, then each object
    that starts at a `{` (prose before or after it is ignored)."""
    found: list[object] = []
    stripped = text.strip()
    blocks = [stripped] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    for block in blocks:
        try:
            found.append(json.loads(block))
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for match in itertools.islice(re.finditer(r"\{", text), MAX_STARTS):
        try:
            value, _end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        found.append(value)
    return found


def json_object(text: str, *, required: str) -> dict[str, Any]:
    """The first JSON object in the answer that has the key `required`."""
    if not text.strip():
        raise Unreadable("the answer was empty")
    objects = [value for value in _objects(text) if isinstance(value, dict)]
    for value in objects:
        if required in value:
            return value
    if objects:
        raise Unreadable(f'its JSON object has no "{required}" key')
    raise Unreadable(f"no JSON object found in {excerpt(text)!r}")


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Unreadable(f'"pass" must be true or false, got {excerpt(json.dumps(value))}')


def _reasoning(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unreadable('"reasoning" must be a string')
    return value.strip()


@dataclass(frozen=True)
class PointAnswer:
    passed: bool
    score: float
    reasoning: str


def read_grade(text: str) -> PointAnswer:
    data = json_object(text, required="pass")
    passed = _boolean(data["pass"])
    raw = data.get("score")
    if raw is None:
        # A judge that says pass/fail but forgets the score still gave a readable verdict.
        score = 1.0 if passed else 0.0
    elif isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
        raise Unreadable(f'"score" must be a number from 0 to 1, got {excerpt(json.dumps(raw))}')
    else:
        score = float(raw)
    return PointAnswer(passed=passed, score=score, reasoning=_reasoning(data.get("reasoning")))


@dataclass(frozen=True)
class PairAnswer:
    winner: str  # "A" | "B" | "tie"
    reasoning: str


def read_pair(text: str) -> PairAnswer:
    data = json_object(text, required="winner")
    raw = data["winner"]
    winner = raw.strip() if isinstance(raw, str) else ""
    winner = {"a": "A", "b": "B", "tie": "tie"}.get(winner.lower(), "")
    if not winner:
        raise Unreadable(f'"winner" must be "A", "B" or "tie", got {excerpt(json.dumps(raw))}')
    return PairAnswer(winner=winner, reasoning=_reasoning(data.get("reasoning")))
