import re
from datetime import UTC, datetime

# A "+" in a query string arrives as a space: "...T14:30:00 01:00" meant "...T14:30:00+01:00".
_LOST_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class BadInstant(ValueError):
    pass


def parse_instant(raw: str, *, field: str = "at") -> datetime:
    """Parse an ISO 8601 instant into an aware UTC datetime; no offset means UTC."""
    text = _LOST_PLUS.sub(r"\1+\2", (raw or "").strip())
    example = "use e.g. 2026-11-25T14:30:00Z"
    if not text:
        raise BadInstant(f"{field}: give an ISO 8601 timestamp; {example}.")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInstant(
            f"{field}: {text[:40]!r} is not an ISO 8601 timestamp; {example}."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadInstant(f"{field}: {text[:40]!r} is out of range; {example}.") from None
