"""Redaction applied to inputs and outputs before anything is stored.

Each detector finds spans, and only those spans are replaced: the text around a match, line
breaks included, is never touched, and text no detector recognises comes out byte for byte
(tests/traffic/redaction_corpus.py holds both directions). The detectors (README, "Privacy"):

- emails: a local part, "@", a domain with at least one dot and a top-level label of letters;
  image names such as icon@2x.png are not addresses.
- cards: 13-19 digits written together or in the groups printed on cards (4-4-4-4, 4-6-5, ...)
  with spaces or dashes, starting with 2-6 like every major scheme, passing the Luhn check, and
  never a slice of a longer number.
- phones: what the phonenumbers library (Google's libphonenumber metadata) finds and holds VALID:
  "+" numbers for every country, national formats for the regions in REDACT_PHONE_REGION.
- custom: the feature's own regular expressions (`redact_custom`), each match "[redacted]".
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, cast

import phonenumbers
from django.conf import settings
from phonenumbers import Leniency, PhoneNumberMatcher

# Letters of Latin scripts (jürgen@, josé@): a wider \w would run the address into the Japanese
# or Chinese words written against it without a space.
_LATIN = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
EMAIL = re.compile(
    # Not the tail of a longer word or address.
    rf"(?<![{_LATIN}._%+-])"
    # Local part: dots and apostrophes only inside (o'brien@..., not the quote before 'bob@...').
    rf"[{_LATIN}_%+-](?:[{_LATIN}_.%+'-]{{0,62}}[{_LATIN}_%+-])?"
    r"@"
    rf"(?:[{_LATIN}](?:[{_LATIN}-]{{0,61}}[{_LATIN}])?\.)+"
    # Retina image names (icon@2x.png) have the shape of an address.
    r"(?!(?:png|jpe?g|gif|svg|webp)(?![A-Za-z0-9-]))"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})(?![A-Za-z0-9-])"
)

# A maximal run of 13 digits or more joined by single spaces or dashes; a card is all of it or a
# stretch of whole groups in it (a number followed by its expiry: "4111 1111 1111 1111 12/26").
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ \-\u00a0]?[0-9]){12,}")
_GROUP = re.compile(r"[0-9]+")

# Characters libphonenumber accepts inside a number, except line breaks: a number is written on
# one line, and a list number after a year ("1994.\n\n6.") must never look like one.
_PHONE_SEPARATORS = (
    " \t\u00a0\u00ad\u2000-\u200b\u202f\u2060\u3000"
    ".\\-\u2010-\u2015\u2212\u30fc\uff0d/\uff0f()\uff08\uff09\\[\\]\uff3b\uff3d~\u2053\u223c\uff5e"
)
# Few numbers anywhere are shorter than this (with the country code); nothing shorter is looked at.
_PHONE_MIN_DIGITS = 7
_PHONE_RUN = re.compile(
    rf"[+\uff0b(\uff08]{{0,2}}\d(?:[{_PHONE_SEPARATORS}]*\d){{{_PHONE_MIN_DIGITS - 1},}}"
)
_DIGIT = re.compile(r"\d")
# A sequence of more groups than this may hold a number somewhere; only the matcher can say.
_MAX_GROUPS_CHECKED = 24
# Characters (times regions) the matcher may be shown per text: this plus half the text's length.
# A real answer uses a tenth of it (one phone number takes ~30); a hostile one is held to
# ~40 ms plus ~5 us per character of text.
_MATCHER_BUDGET = 4000
# How far either side of a candidate the library may look for context (a letter glued to the
# digits, ":30" after a date and hour): one token each way, at most this many characters.
_CONTEXT_CHARS = 48
_LEFT_CONTEXT = re.compile(r"\S*\s*\S*\Z")
_RIGHT_CONTEXT = re.compile(r"\S*\s*\S*")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Redactor:
    emails: bool = False
    phones: bool = False
    cards: bool = False
    custom: tuple[re.Pattern[str], ...] = ()
    # ISO 3166 regions whose national formats are recognised; "+" numbers need none.
    phone_regions: tuple[str, ...] = ("US",)

    def text(self, value: str) -> str:
        # Order matters only where detectors overlap: an address holds digits a phone number
        # could claim, and a card number looks like a long phone number.
        if self.emails and "@" in value:
            value = _replace(value, (m.span() for m in EMAIL.finditer(value)), "[email]")
        if self.cards:
            value = _replace(value, _card_spans(value), "[card]")
        if self.phones:
            value = _replace(value, _phone_spans(value, self.phone_regions), "[phone]")
        for pattern in self.custom:
            # An empty match recognises nothing; replacing it would insert labels everywhere.
            spans = (m.span() for m in pattern.finditer(value) if m.end() > m.start())
            value = _replace(value, spans, "[redacted]")
        return value

    def value(self, obj: T) -> T:
        """Redact every string inside a JSON-like value (dicts, lists); keys are left alone."""
        if isinstance(obj, str):
            return cast(T, self.text(obj))
        if isinstance(obj, dict):
            return cast(T, {key: self.value(item) for key, item in obj.items()})
        if isinstance(obj, list | tuple):
            return cast(T, [self.value(item) for item in obj])
        return obj

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self._message(m) for m in messages]

    def _message(self, message: dict[str, Any]) -> dict[str, Any]:
        content = message.get("content")
        if isinstance(content, str):
            return {**message, "content": self.text(content)}
        if isinstance(content, list):
            # Content parts: only the text parts are prose; an image part's data is left whole.
            parts = [
                {**part, "text": self.text(part["text"])}
                if isinstance(part, dict) and isinstance(part.get("text"), str)
                else part
                for part in content
            ]
            return {**message, "content": parts}
        return message


def redactor_for(
    *,
    emails: bool,
    phones: bool,
    cards: bool,
    custom: Sequence[str],
    phone_regions: Sequence[str] | None = None,
) -> Redactor:
    regions = settings.REDACT_PHONE_REGION if phone_regions is None else phone_regions
    return Redactor(
        emails=emails,
        phones=phones,
        cards=cards,
        custom=tuple(re.compile(p) for p in custom),
        phone_regions=tuple(regions),
    )


def feature_redactor(feature: Any) -> Redactor:
    return redactor_for(
        emails=feature.redact_emails,
        phones=feature.redact_phones,
        cards=feature.redact_cards,
        custom=feature.redact_custom,
    )


def _replace(text: str, spans: Iterable[tuple[int, int]], label: str) -> str:
    """Replace exactly these spans (overlapping ones merged); everything else stays as it was."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in merged:
        pieces += [text[done:start], label]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


# --- cards --------------------------------------------------------------------------------------
# Group lengths as printed: 4-4-4-4 (most), 4-6-5 (Amex), 4-6-4 (Diners), then the rarer lengths
# of 4-digit groups with a short last one (13-19 digits). Earlier layouts win a tie.
_CARD_LAYOUTS: tuple[tuple[int, ...], ...] = (
    (4, 4, 4, 4),
    (4, 6, 5),
    (4, 6, 4),
    (4, 4, 4, 4, 3),
    (4, 4, 4, 3),
    (4, 4, 4, 2),
    (4, 4, 4, 1),
    (4, 4, 4, 4, 2),
    (4, 4, 4, 4, 1),
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn_ok(digits)


def _card_spans(text: str) -> Iterable[tuple[int, int]]:
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP.finditer(run[0])]
        if len(groups) == 1:
            if _is_card(run[0]):
                yield run.span()
            continue
        yield from _grouped_cards(text, groups)


def _grouped_cards(text: str, groups: list[tuple[int, int]]) -> Iterable[tuple[int, int]]:
    """Cards among whole groups of one run: each stretch must use one separator throughout."""
    lengths = [end - start for start, end in groups]
    i = 0
    while i < len(groups):
        found = None
        for layout in _CARD_LAYOUTS if lengths[i] == 4 else ():
            j = i + len(layout)
            if tuple(lengths[i:j]) != layout:
                continue
            start, end = groups[i][0], groups[j - 1][1]
            separators = {text[groups[k][1]] for k in range(i, j - 1)}
            digits = "".join(text[s:e] for s, e in groups[i:j])
            if len(separators) == 1 and _is_card(digits):
                found = (start, end, j)
                break
        if found is None:
            i += 1
            continue
        yield found[0], found[1]
        i = found[2]


# --- phones -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _NationalForm:
    """What a national number of one region can look like, from libphonenumber's metadata."""

    lengths: frozenset[int]
    prefix: str  # the trunk prefix written before national numbers (0 in Europe, 1 in the US)
    pattern: re.Pattern[str] | None  # every valid national number matches it; None: no check
    international: re.Pattern[str] | None  # the prefix dialled before a country code (00, 011)

    def admits(self, groups: list[str]) -> bool:
        """Could these digit groups, or a stretch of them, be a valid number of the region?

        A stretch, because one sequence may hold two numbers ("415 555 2671 / 415 555 2672")
        or a number and something else ("SN 8842 415 555 2671").
        """
        if self.pattern is None or not self.lengths or len(groups) > _MAX_GROUPS_CHECKED:
            return True
        if self.international and self.international.match("".join(groups)):
            return True
        longest = max(self.lengths) + len(self.prefix)
        for i in range(len(groups)):
            digits = ""
            for group in groups[i:]:
                digits += group
                if len(digits) > longest:
                    break
                if self._reads(digits):
                    return True
        return False

    def _reads(self, digits: str) -> bool:
        readings = [digits]
        if self.prefix and digits.startswith(self.prefix):
            readings.append(digits[len(self.prefix) :])
        return any(
            len(r) in self.lengths and self.pattern is not None and self.pattern.fullmatch(r)
            for r in readings
        )


@cache
def _national_form(region: str) -> _NationalForm:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.general_desc is None:
        return _NationalForm(frozenset(), "", None, None)
    desc = metadata.general_desc
    prefix = metadata.national_prefix or ""
    # Regions that rewrite national numbers while parsing (carrier codes, Argentina's 15) are
    # left to the library whole.
    simple = metadata.national_prefix_transform_rule is None and (
        metadata.national_prefix_for_parsing in (None, prefix)
    )
    pattern = desc.national_number_pattern
    international = metadata.international_prefix
    return _NationalForm(
        lengths=frozenset(desc.possible_length or ()),
        prefix=prefix,
        pattern=re.compile(pattern) if simple and pattern else None,
        international=re.compile(international) if international else None,
    )


def _phone_spans(text: str, regions: tuple[str, ...]) -> Iterable[tuple[int, int]]:
    """Numbers libphonenumber holds valid.

    1. Find the sequences of digits and phone punctuation on one line with 7 digits or more.
    2. Trim off the digit groups glued into a longer token (an identifier, a version, a time)
       and drop what is left if it is shaped like another kind of number (_looks_like_a_phone)
       or, without "+", holds no digits the metadata of a configured region admits. The
       library's matcher costs 0.3-3 ms per sequence it is shown; this keeps an answer full of
       dates, versions and IDs cheap.
    3. Show the matcher each remaining sequence with a token of context either side (a letter
       glued on, ":30" after a date and hour) and take its matches that overlap the sequence.
    4. Within a budget: the matcher costs about 10 us per character, so a hostile body of
       "1 1 1 ..." would cost seconds. Past the budget, what passed step 2 is redacted whole:
       redaction errs on the side of removing, never of leaking.
    """
    budget = _MATCHER_BUDGET + len(text) // 2
    for run in _PHONE_RUN.finditer(text):
        found = _trimmed(text, run)
        if found is None:
            continue
        lo, hi = found
        if text[lo] in "+\uff0b" or text[lo + 1 : lo + 2] in ("+", "\uff0b"):
            candidates: tuple[str, ...] = regions[:1]  # the country code says where it is
        else:
            groups = _groups(text, lo, hi)
            candidates = tuple(r for r in regions if _national_form(r).admits(groups))
        if not candidates:
            continue
        # No context on a side where glued groups were cut off: the matcher would read them
        # back in ("415 555 2671 14:30" is a number and a time, not a timestamp).
        left = _LEFT_CONTEXT.search(text, max(0, lo - _CONTEXT_CHARS), lo)
        start = left.start() if left and lo == run.start() else lo
        right = _RIGHT_CONTEXT.match(text, hi, hi + _CONTEXT_CHARS)
        end = right.end() if right and hi == run.end() else hi
        window = text[start:end]
        budget -= len(window) * len(candidates)
        if budget < 0:
            yield lo, hi
            continue
        for region in candidates:
            for match in PhoneNumberMatcher(window, region, leniency=Leniency.VALID):
                span = (start + match.start, start + match.end)
                if span[0] < hi and span[1] > lo and _looks_like_a_phone(text, *span):
                    yield span


def _trimmed(text: str, run: re.Match[str]) -> tuple[int, int] | None:
    """The part of a run that may be a number, or None: glued-on digit groups are cut off."""
    lo, hi = run.span()
    if _glued_before(text, lo) or _glued_after(text, hi):
        groups = [m.span() for m in _DIGIT_GROUP.finditer(text, lo, hi)]
        first, last = 0, len(groups)
        while first < last:
            lo = run.start() if first == 0 else groups[first][0]
            hi = groups[last - 1][1]
            if _glued_before(text, lo):
                first += 1
            elif _glued_after(text, hi):
                last -= 1
            else:
                break
        if first == last or len(_DIGIT.findall(text, lo, hi)) < _PHONE_MIN_DIGITS:
            return None
    return (lo, hi) if _OTHER_NUMBERS.fullmatch(text, lo, hi) is None else None


def _groups(text: str, lo: int, hi: int) -> list[str]:
    """The digit groups of a number as ASCII digits (full-width and other scripts mapped)."""
    return [
        group if group.isascii() else phonenumbers.normalize_digits_only(group)
        for group in _DIGIT_GROUP.findall(text, lo, hi)
    ]


def _looks_like_a_phone(text: str, start: int, end: int) -> bool:
    """Valid digits in the shape of something else are not a phone number.

    1. Glued into a longer token: a segment of an identifier (INV-2024-000123, nonce-2484-...,
       a dotted version), a negative number (-2147024891), a date before its hour (...06 14:30).
    2. The shape of another kind of number: an IPv4 address, a date, a decimal, a version with a
       one-digit part (127.0.6533.99), an ISBN (978-3-16-148410-0 ends in one check digit).
    """
    if _glued_before(text, start) or _glued_after(text, end):
        return False
    return _OTHER_NUMBERS.fullmatch(text, start, end) is None


def _glued_before(text: str, start: int) -> bool:
    before = text[start - 1] if start else " "
    if before == ":":  # the minutes of 14:30 or the 9 of 16:9, not Tel:415...
        return start > 1 and text[start - 2].isdecimal()
    return _continues(before) or before in "-\u2010\u2011\u2212._/\\#@"


def _glued_after(text: str, end: int) -> bool:
    after = text[end] if end < len(text) else " "
    after_next = text[end + 1] if end + 1 < len(text) else " "
    return (
        _continues(after)
        or after in "-\u2010\u2011\u2212_@"
        or (after in ".:/" and _continues(after_next))
    )


def _continues(char: str) -> bool:
    # Digits and Latin letters continue a token; Japanese or Arabic script beside a number is
    # ordinary writing (電話番号は03-1234-5678です).
    return char.isdecimal() or (char.isalpha() and (char.isascii() or "\u00c0" <= char <= "\u024f"))


_DIGIT_GROUP = re.compile(r"\d+")
_OTHER_NUMBERS = re.compile(
    "|".join(
        [
            r"\d{1,3}(?:\.\d{1,3}){3}",  # IPv4 address
            # Dates: 06.08.2024, 6/8/24, 06-08-2024, 2024-08-06, 2024.08.06
            r"\d{1,2}\.\d{1,2}\.\d{2,4}|\d{1,2}/\d{1,2}/\d{2,4}|\d{1,2}-\d{1,2}-\d{2,4}",
            r"\d{4}\.\d{1,2}\.\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}-\d{1,2}-\d{1,2}",
            r"\d+[.,]\d+",  # 2.718281828
            r"\d+(?:\.\d+)*\.\d(?:\.\d+)*",  # a dotted version with a one-digit part
            r"[\d-]*\d-\d",  # a hyphenated number ending in one check digit (ISBN)
            r"\d+/\d+/\d+",  # two slashes: a date or a German tax number (21/815/08150)
        ]
    )
)
