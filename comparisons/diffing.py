"""Side-by-side diffs of two outputs, at the granularity that reads best, computed once per pair.

How the granularity is chosen (`pair_diff`):
1. Identical texts: nothing to mark (mode "identical").
2. Words: a word diff (longest common subsequence of words, via rapidfuzz). When the two
   answers are close (word similarity >= WORDS_MIN_SIMILARITY) it is shown (mode "words").
3. Otherwise the answer was rewritten, and a word diff would mark most of both texts (on real
   model upgrades the median was 76-82% of the words): the texts are cut into sentences (and
   lines: list items, headings, table rows and code lines count as one unit each) and each unit
   is matched against every unit on the other side with rapidfuzz's `fuzz.ratio` on a
   normalised form (lower case, punctuation and Markdown markers removed). Only units with no
   counterpart scoring >= SENTENCE_MATCH are marked (mode "sentences"), whatever their order;
   a unit whose best counterpart scores >= NEAR_MATCH gets a word diff against it, so a
   changed number in an otherwise kept sentence is still seen.
4. Texts too long for either (MAX_WORDS words, MAX_UNITS units) or an empty side: no diff,
   with a reason the page shows (mode "none"), never a silent "unchanged".

Marks are ranges of characters in the original text, so the text is shown byte-exact. They are
the same neutral mark on both sides: the review may be blinded, and red/green or strike-through
would tell the reviewer which side the tool thinks is "before".
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import Indel

# Bump when the output of pair_diff changes: stored diffs of another version are recomputed.
VERSION = 1
# Word similarity (2 * common words / all words) from which two answers count as "close". Real
# rewrites measured 0.12-0.40; edited answers (a fixed number, a reworded sentence) 0.8+.
WORDS_MIN_SIMILARITY = 0.6
# fuzz.ratio (0-100) from which a sentence on the other side counts as its counterpart: a
# reworded sentence keeping most of its words scores 55-85, unrelated ones 20-50 (measured on
# the rewrite pairs in tests/comparisons/rewrite_pairs.py).
SENTENCE_MATCH = 55
# From this score a counterpart is the same sentence edited: its changed words are marked.
NEAR_MATCH = 85
# Beyond these sizes a diff costs more than it helps; the page says so.
MAX_WORDS = 40_000
MAX_UNITS = 1_500

# A word, or one CJK/kana/hangul character (those scripts do not separate words by spaces).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_LINE = re.compile(r"[^\n]+")
# After . ! ? … : ; and a space, or after a CJK full stop, exclamation or question mark.
_SENTENCE_END = re.compile(r"(?<=[.!?…:;])\s+|(?<=[\u3002\uff01\uff1f])\s*")
_FENCE = re.compile(r"^\s*(```|~~~)")
_MARKERS = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#{1,6}\s+|>\s*|\|)+")


class Mode:
    IDENTICAL = "identical"
    WORDS = "words"
    SENTENCES = "sentences"
    NONE = "none"


Ranges = list[list[int]]


@dataclass(frozen=True)
class PairDiff:
    """Marks on both texts, plus what the page needs to explain them."""

    mode: str
    left: Ranges
    right: Ranges
    left_len: int
    right_len: int
    # Share of each side's words inside a mark (0..1).
    marked: tuple[float, float] = (0.0, 0.0)
    # Why no diff is shown (mode "none"): "too_long" or "empty", with its figures in `detail`.
    reason: str = ""
    detail: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "mode": self.mode,
            "left": self.left,
            "right": self.right,
            "len": [self.left_len, self.right_len],
            "marked": list(self.marked),
            "reason": self.reason,
            "detail": list(self.detail),
        }

    @classmethod
    def from_json(cls, data: Any, *, left: str, right: str) -> "PairDiff | None":
        """The stored diff, or None if it is missing, of another version, or of other texts."""
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        if data.get("len") != [len(left), len(right)]:
            return None
        return cls(
            mode=data["mode"],
            left=data["left"],
            right=data["right"],
            left_len=len(left),
            right_len=len(right),
            marked=(data["marked"][0], data["marked"][1]),
            reason=data["reason"],
            detail=tuple(data["detail"]),
        )

    def swapped(self) -> "PairDiff":
        return PairDiff(
            mode=self.mode,
            left=self.right,
            right=self.left,
            left_len=self.right_len,
            right_len=self.left_len,
            marked=(self.marked[1], self.marked[0]),
            reason=self.reason,
            detail=(*self.detail[1::-1], *self.detail[2:]),
        )


@dataclass(frozen=True)
class Segment:
    kind: str  # "same", "del" (only on the left), "ins" (only on the right)
    text: str


def _spans(pattern: re.Pattern[str], text: str, offset: int = 0) -> list[tuple[int, int]]:
    return [(m.start() + offset, m.end() + offset) for m in pattern.finditer(text)]


def _merge(ranges: list[tuple[int, int]], text: str) -> Ranges:
    """Sorted ranges joined where only whitespace separates them (one mark, not ten)."""
    out: Ranges = []
    for start, end in sorted(ranges):
        if out and (start <= out[-1][1] or not text[out[-1][1] : start].strip()):
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _word_marks(
    a_text: str,
    b_text: str,
    a_words: list[tuple[int, int]],
    b_words: list[tuple[int, int]],
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """Word spans only in a, only in b, and how many words both have in common."""
    a = [a_text[s:e] for s, e in a_words]
    b = [b_text[s:e] for s, e in b_words]
    only_a: list[tuple[int, int]] = []
    only_b: list[tuple[int, int]] = []
    common = 0
    for op in Indel.opcodes(a, b):
        if op.tag == "equal":
            common += op.src_end - op.src_start
            continue
        if op.src_end > op.src_start:
            only_a.append((a_words[op.src_start][0], a_words[op.src_end - 1][1]))
        if op.dest_end > op.dest_start:
            only_b.append((b_words[op.dest_start][0], b_words[op.dest_end - 1][1]))
    return only_a, only_b, common


def _units(text: str) -> list[tuple[int, int]]:
    """Sentences of prose lines; code lines, table rows, list items and headings whole."""
    units: list[tuple[int, int]] = []
    in_code = False
    for start, end in _spans(_LINE, text):
        line = text[start:end]
        if _FENCE.match(line):
            in_code = not in_code
            pieces = [(start, end)]
        elif in_code or line.lstrip().startswith(("|", "    ", "\t")):
            pieces = [(start, end)]
        else:
            # Split after the list/heading marker, so "1." is not a sentence of its own.
            marker = _MARKERS.match(line)
            pos = start + (marker.end() if marker else 0)
            pieces = []
            for m in _SENTENCE_END.finditer(line, pos - start):
                pieces.append((pos, start + m.start()))
                pos = start + m.end()
            pieces.append((pos, end))
        for s, e in pieces:
            piece = text[s:e]
            stripped = piece.strip()
            if stripped:
                lead = len(piece) - len(piece.lstrip())
                units.append((s + lead, s + lead + len(stripped)))
    return units


def _key(unit: str) -> str:
    return utils.default_process(_MARKERS.sub("", unit))


def _sentence_marks(
    a_text: str, b_text: str, a_units: list[tuple[int, int]], b_units: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Ranges of a's units with no counterpart in b (and changed words of near matches)."""
    b_keys = [_key(b_text[s:e]) for s, e in b_units]
    exact = set(b_keys)
    marks: list[tuple[int, int]] = []
    for s, e in a_units:
        key = _key(a_text[s:e])
        if not key or key in exact:  # bare punctuation ("---", a fence) or the same sentence
            continue
        best = process.extractOne(key, b_keys, scorer=fuzz.ratio, score_cutoff=SENTENCE_MATCH)
        if best is None:
            marks.append((s, e))
        elif best[1] >= NEAR_MATCH:
            bs, be = b_units[best[2]]
            words = _spans(_WORD, a_text[s:e], s)
            other = _spans(_WORD, b_text[bs:be], bs)
            only_a, _only_b, _common = _word_marks(a_text, b_text, words, other)
            marks.extend(only_a)
    return marks


def _share(words: list[tuple[int, int]], marks: Ranges) -> float:
    """Share of `words` that fall inside a mark."""
    if not words:
        return 0.0
    inside, i = 0, 0
    for start, end in words:
        while i < len(marks) and marks[i][1] <= start:
            i += 1
        if i < len(marks) and marks[i][0] < end:
            inside += 1
    return round(inside / len(words), 4)


def pair_diff(left: str, right: str) -> PairDiff:
    """The diff shown for two outputs (see the module docstring for the choice of mode)."""
    n, m = len(left), len(right)
    if left == right:
        return PairDiff(Mode.IDENTICAL, [], [], n, m)
    if not left.strip() or not right.strip():
        detail: tuple[int, ...] = (len(left.strip()), len(right.strip()))
        return PairDiff(Mode.NONE, [], [], n, m, reason="empty", detail=detail)
    a_words, b_words = _spans(_WORD, left), _spans(_WORD, right)
    if len(a_words) > MAX_WORDS or len(b_words) > MAX_WORDS:
        detail = (len(a_words), len(b_words), MAX_WORDS)
        return PairDiff(Mode.NONE, [], [], n, m, reason="too_long", detail=detail)
    only_a, only_b, common = _word_marks(left, right, a_words, b_words)
    if 2 * common / (len(a_words) + len(b_words)) >= WORDS_MIN_SIMILARITY:
        mode, a_marks, b_marks = Mode.WORDS, _merge(only_a, left), _merge(only_b, right)
    else:
        a_units, b_units = _units(left), _units(right)
        if len(a_units) > MAX_UNITS or len(b_units) > MAX_UNITS:
            detail = (len(a_units), len(b_units), MAX_UNITS)
            return PairDiff(Mode.NONE, [], [], n, m, reason="too_many_sentences", detail=detail)
        mode = Mode.SENTENCES
        a_marks = _merge(_sentence_marks(left, right, a_units, b_units), left)
        b_marks = _merge(_sentence_marks(right, left, b_units, a_units), right)
    marked = (_share(a_words, a_marks), _share(b_words, b_marks))
    return PairDiff(mode, a_marks, b_marks, n, m, marked=marked)


def segments(text: str, marks: Sequence[Sequence[int]], kind: str) -> list[Segment]:
    """`text` cut at its marks: unmarked pieces are "same", marked ones `kind`."""
    out: list[Segment] = []
    pos = 0
    for start, end in marks:
        if start > pos:
            out.append(Segment("same", text[pos:start]))
        out.append(Segment(kind, text[start:end]))
        pos = end
    if pos < len(text) or not out:
        out.append(Segment("same", text[pos:]))
    return out


def word_diff(left: str, right: str) -> tuple[list[Segment], list[Segment]]:
    """The two texts cut into segments: unchanged text, words only on the left ("del") and
    words only on the right ("ins"). Every character stays, so layout survives."""
    a_words, b_words = _spans(_WORD, left), _spans(_WORD, right)
    only_a, only_b, _common = _word_marks(left, right, a_words, b_words)
    return (
        segments(left, _merge(only_a, left), "del"),
        segments(right, _merge(only_b, right), "ins"),
    )


VIEWS = ("rendered", "diff", "raw")


def diff_shown(diff: PairDiff) -> bool:
    return diff.mode in (Mode.WORDS, Mode.SENTENCES)


def output_view(requested: str, diff: PairDiff) -> str:
    """How the outputs are shown: the view asked for (?view=) if it exists, else the diff when
    there is one (what changed is what a reviewer looks for first), else rendered Markdown."""
    if requested in VIEWS and (requested != "diff" or diff_shown(diff)):
        return requested
    return "diff" if diff_shown(diff) else "rendered"


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def diff_note(diff: PairDiff, names: tuple[str, str] = ("A", "B")) -> str:
    """One sentence for the page: which diff is shown and why, or why none is."""
    a, b = names
    if diff.mode == Mode.IDENTICAL:
        return "The two outputs are identical."
    if diff.mode == Mode.WORDS:
        return (
            f"Diff by words (the answers are close): marked {_pct(diff.marked[0])} of {a}'s words "
            f"and {_pct(diff.marked[1])} of {b}'s, the same mark on both sides."
        )
    if diff.mode == Mode.SENTENCES:
        return (
            f"Diff by sentences (the answer was rewritten, a word diff would mark most of it): "
            f"marked only sentences and lines with no similar one on the other side, "
            f"{_pct(diff.marked[0])} of {a}'s words and {_pct(diff.marked[1])} of {b}'s. "
            "Reworded sentences that have a counterpart are not marked."
        )
    if diff.reason == "empty":
        empty = [name for name, n in zip(names, diff.detail, strict=False) if n == 0] or [a, b]
        return f"No diff: output {' and '.join(empty)} has no text to compare."
    if diff.reason == "too_long":
        n, m, limit = diff.detail
        return (
            f"No diff: the outputs are too long to compare ({n:,} and {m:,} words, the limit is "
            f"{limit:,}). Read them side by side."
        )
    n, m, limit = diff.detail
    return (
        f"No diff: the answer was rewritten and has too many sentences to align ({n:,} and "
        f"{m:,}, the limit is {limit:,}). Read them side by side."
    )
