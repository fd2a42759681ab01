"""Side-by-side word diffs, computed per page view (never stored)."""

import difflib
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s+|[^\s]+")
# Beyond this many words a word diff costs more than it helps a reader; show the texts plain.
MAX_WORDS = 5000


@dataclass(frozen=True)
class Segment:
    kind: str  # "same", "del" (only on the left), "ins" (only on the right)
    text: str


def word_diff(left: str, right: str) -> tuple[list[Segment], list[Segment]]:
    """The two texts cut into segments: unchanged words, words only on the left (deleted) and
    words only on the right (inserted). Whitespace stays attached so layout survives."""
    a, b = _TOKEN.findall(left), _TOKEN.findall(right)
    if len(a) > MAX_WORDS or len(b) > MAX_WORDS:
        return [Segment("same", left)], [Segment("same", right)]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out_a: list[Segment] = []
    out_b: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out_a.append(Segment("same", "".join(a[i1:i2])))
            out_b.append(Segment("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            out_a.append(Segment("del", "".join(a[i1:i2])))
        if j2 > j1:
            out_b.append(Segment("ins", "".join(b[j1:j2])))
    return out_a, out_b
