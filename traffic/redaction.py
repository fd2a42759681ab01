"""Redaction applied to inputs and outputs before anything is stored.

The built-in patterns are deliberately simple and documented (README, "Privacy"): they catch the
common shapes, not every possible one; features add their own patterns for the rest.
"""

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by spaces or dashes (Visa, Mastercard, Amex, ...).
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# International or national phone numbers: optional +, 7-15 digits with common separators.
PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{6,18}\d\b")


@dataclass(frozen=True, slots=True)
class Redactor:
    patterns: tuple[tuple[re.Pattern, str], ...]

    def text(self, value: str) -> str:
        for pattern, label in self.patterns:
            # Most texts hold no address at all: a substring test is far cheaper than the regex.
            if pattern is EMAIL and "@" not in value:
                continue
            value = pattern.sub(label, value)
        return value

    def messages(self, messages: list[dict]) -> list[dict]:
        return [
            {**m, "content": self.text(m["content"])} if isinstance(m.get("content"), str) else m
            for m in messages
        ]


def redactor_for(
    *, emails: bool, phones: bool, cards: bool, custom: list[str] | tuple[str, ...]
) -> Redactor:
    patterns: list[tuple[re.Pattern, str]] = []
    if emails:
        patterns.append((EMAIL, "[email]"))
    # Cards before phones: a card number also looks like a long phone number.
    if cards:
        patterns.append((CARD, "[card]"))
    if phones:
        patterns.append((PHONE, "[phone]"))
    patterns.extend((re.compile(p), "[redacted]") for p in custom)
    return Redactor(tuple(patterns))


def feature_redactor(feature) -> Redactor:
    return redactor_for(
        emails=feature.redact_emails,
        phones=feature.redact_phones,
        cards=feature.redact_cards,
        custom=feature.redact_custom,
    )
