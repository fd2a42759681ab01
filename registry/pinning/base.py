"""What every vendor's pinning rule shares: the error, the context, and date checks."""

import re
from dataclasses import dataclass
from datetime import date


class FloatingAliasError(ValueError):
    """The model id (or its weights revision) names a moving target; the message says what to pin
    instead, and `field` names the form field to show it on."""

    def __init__(self, message: str, *, field: str = "model_id") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PinningContext:
    api_style: str  # "openai_chat" or "anthropic_messages"
    self_hosted: bool = False
    weights_revision: str = ""
    # The provider's API root: its host tells Azure, Bedrock, Vertex... apart. Optional, because
    # an id's own shape (a Bedrock "anthropic." prefix, a Vertex "@date") usually says enough.
    base_url: str = ""


ISO_DATE = re.compile(r"-(\d{4})-(\d{2})-(\d{2})$")
COMPACT_DATE = re.compile(r"-(\d{4})(\d{2})(\d{2})$")


def is_date(year: str | int, month: str | int, day: str | int) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return 2020 <= int(year) <= 2099


def is_month_day(month: str, day: str) -> bool:
    # 2024 is a leap year: Feb 29 is a valid -MMDD snapshot.
    return is_date(2024, month, day)


def strip_latest(model_id: str) -> str:
    return re.sub(r"[-_.:@]?latest$", "", model_id, flags=re.IGNORECASE)
