"""What a flag on a shadow pair means, how much it weighs, and how it reads on screen.

A flag is stored as a string, ``"<kind>"`` or ``"<kind>:<side>"`` with side ``baseline`` or
``candidate`` (``refusal:candidate``, ``truncated:baseline``, ``tool_calls_changed``). The side
names which output shows the problem; pages that blind the reviewer render it through
``flag_label`` with ``sides={"baseline": "A", "candidate": "B"}`` (or the other way round), so
the stored string never reaches a blinded reviewer as such.

The review queue orders pairs by ``priority_score`` (highest first, then oldest first):

    priority = 100 * (sum of the weights of the pair's flags) + round(99 * (1 - similarity))

so any flag outranks any similarity, a heavier flag outranks a lighter one, and among pairs
with the same flags (including the unflagged random sample) the less similar come first. A
pair without a similarity (one side failed) counts as similarity 0.
"""

from collections.abc import Iterable
from dataclasses import dataclass

SIDES = ("baseline", "candidate")
BLIND_SIDES = {"baseline": "A", "candidate": "B"}  # an example; the page picks the order
OPEN_SIDES = {"baseline": "baseline", "candidate": "candidate"}


@dataclass(frozen=True)
class FlagKind:
    key: str
    weight: int
    description: str
    # How the flag reads: "{side}" is replaced by the side's display name (sided kinds only).
    label: str
    sided: bool = False


KINDS: dict[str, FlagKind] = {
    kind.key: kind
    for kind in (
        FlagKind(
            "error",
            9,
            "The call failed on this side (timeout, provider error, bad response) and not on "
            "the other.",
            "{side} failed",
            sided=True,
        ),
        FlagKind(
            "refusal",
            8,
            "This side declined to answer and the other did not (traffic/refusals.py lists "
            "the phrasings).",
            "{side} refused",
            sided=True,
        ),
        FlagKind(
            "json_broken",
            8,
            "JSON was expected (the other side is JSON, or the config asks for JSON) and this "
            "side is not valid JSON as a whole (fenced or prose-wrapped JSON counts as broken).",
            "{side} is not valid JSON",
            sided=True,
        ),
        FlagKind(
            "schema_violation",
            7,
            "This side's JSON does not satisfy its config's JSON Schema.",
            "{side} violates the JSON schema",
            sided=True,
        ),
        FlagKind(
            "tool_calls_changed",
            7,
            "The tool calls differ: a tool was added, dropped or renamed, or its arguments "
            "changed.",
            "tool calls changed",
        ),
        FlagKind(
            "json_structure_changed",
            6,
            "Both sides are JSON but keys were added or removed, or a value changed type.",
            "JSON keys or types changed",
        ),
        FlagKind(
            "truncated",
            6,
            "This side stopped at the token limit (finish_reason 'length') and the other did not.",
            "{side} was cut off",
            sided=True,
        ),
        FlagKind(
            "language_changed",
            5,
            "The two answers are in different languages (both long enough to tell).",
            "language changed",
        ),
        FlagKind(
            "format_changed",
            3,
            "Markdown versus plain text, code fences appearing or disappearing, or a list "
            "turned into prose (or back).",
            "format changed",
        ),
        FlagKind(
            "length_ratio",
            2,
            "One answer is much longer than the other: candidate/baseline length outside the "
            "feature's bounds.",
            "length changed a lot",
        ),
        FlagKind(
            "low_similarity",
            2,
            "Short label-like outputs (one line, a few words) that differ: for them a low "
            "word similarity is the change itself. Never raised for free text.",
            "short answer changed",
        ),
    )
}

# Flags written before issue 8, as their current equivalent.
LEGACY: dict[str, str] = {
    "candidate_error": "error:candidate",
    "baseline_error": "error:baseline",
    "candidate_refusal": "refusal:candidate",
    "baseline_refusal": "refusal:baseline",
    "json_broken": "json_broken:candidate",
    "structure_changed": "json_structure_changed",
}


def parse_flag(flag: str) -> tuple[str, str | None]:
    """(kind, side or None), with legacy names translated."""
    flag = LEGACY.get(flag, flag)
    kind, _, side = flag.partition(":")
    return kind, side if side in SIDES else None


def flag_label(flag: str, *, sides: dict[str, str]) -> str:
    """The flag as a reviewer reads it, naming sides only by their display names in `sides`
    (e.g. "B refused"). Unknown flags read as their words, with any side name replaced."""
    kind, side = parse_flag(flag)
    known = KINDS.get(kind)
    if known is not None:
        if known.sided and side is not None:
            return known.label.format(side=sides[side])
        return known.label.replace("{side}", "one side")
    words = flag.replace(":", " ").replace("_", " ").split()
    return " ".join(sides.get(word, word) for word in words)


def flag_description(flag: str) -> str:
    kind, _ = parse_flag(flag)
    known = KINDS.get(kind)
    return known.description if known else ""


def flag_weight(flag: str) -> int:
    kind, _ = parse_flag(flag)
    known = KINDS.get(kind)
    return known.weight if known else 1  # an unknown flag still asks for a look


def priority_score(*, flags: Iterable[str], similarity: float | None) -> int:
    """The queue's order key (see the module docstring): higher is reviewed first."""
    weight = sum(flag_weight(flag) for flag in flags)
    dissimilarity = 1.0 - (similarity if similarity is not None else 0.0)
    return 100 * weight + round(99 * min(max(dissimilarity, 0.0), 1.0))
