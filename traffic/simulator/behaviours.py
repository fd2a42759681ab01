"""The simulated model versions: how each one behaves, and the pure functions that answer.

Everything here is a pure function of the prompt (model id, messages, response_format): the same
request always gets the same answer, latency, refusal and failure. Demos and tests are then
reproducible, and a "regression" between two versions is a property of the table below rather
than of chance. Choices are seeded with sha256, never `random`, so they do not depend on the
Python version or on process state.
"""

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

Verbosity = Literal["terse", "normal", "chatty"]
Tone = Literal["formal", "casual"]
T = TypeVar("T")

FAILURE_STATUSES = frozenset({429, 500, 503})
REFUSAL = "I'm sorry, but I can't help with that request."
# Failures and refusals hit when an input's bucket (0..9_999) is below rate x 10_000.
BUCKETS = 10_000
# Answers are built from this much of the user's message at most, so a 2 MB message costs no
# more CPU than a long email (usage still counts the whole prompt).
READ_LIMIT = 20_000
# Rough tokens per whitespace-separated word for English text (OpenAI's rule of thumb).
TOKENS_PER_WORD = 1.3


@dataclass(frozen=True)
class Behaviour:
    """How one simulated model version behaves. Every field is documented in README.md."""

    # Base delay before answering, in milliseconds (times settings.SIMULATOR_LATENCY_SCALE).
    latency_ms: int = 0
    # Extra delay of 0..latency_jitter_ms, deterministic per input.
    latency_jitter_ms: int = 0
    # Fraction (0..1) of distinct inputs that get an HTTP error instead of an answer.
    failure_rate: float = 0.0
    # The HTTP status of those errors: 500, 429 (with Retry-After) or 503.
    failure_status: int = 500
    # "terse" drops pleasantries and shortens; "chatty" adds a preamble and a closing sentence.
    verbosity: Verbosity = "normal"
    # "formal" or "casual" wording of greetings, closings and bullets.
    tone: Tone = "formal"
    # Wrap JSON answers in ```json fences (a classic format regression).
    json_fence: bool = False
    # Renames applied to the keys of JSON answers, e.g. {"intent": "label"} (a schema regression).
    rename_keys: Mapping[str, str] = field(default_factory=dict)
    # Fraction (0..1) of distinct inputs answered with REFUSAL instead.
    refusal_rate: float = 0.0

    def __post_init__(self) -> None:
        # A typo in the table should stop start-up, not surface as odd answers in a demo.
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ValueError("latency_ms and latency_jitter_ms must be >= 0")
        for name in ("failure_rate", "refusal_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.failure_status not in FAILURE_STATUSES:
            raise ValueError(f"failure_status must be one of {sorted(FAILURE_STATUSES)}")
        if self.verbosity not in ("terse", "normal", "chatty"):
            raise ValueError("verbosity must be terse, normal or chatty")
        if self.tone not in ("formal", "casual"):
            raise ValueError("tone must be formal or casual")


# The simulated model ids. Tests may replace entries with monkeypatch.setitem(BEHAVIOURS, ...).
BEHAVIOURS: dict[str, Behaviour] = {
    # The demo's incumbent, retiring soon.
    "sim-chat-2025-01-15": Behaviour(
        latency_ms=300, latency_jitter_ms=150, failure_rate=0.01, failure_status=500
    ),
    # The safe upgrade: same contract, a little faster, different wording.
    "sim-chat-2025-06-01": Behaviour(
        latency_ms=250, latency_jitter_ms=100, failure_rate=0.01, failure_status=500
    ),
    # The candidate with regressions: fenced and renamed JSON, refusals, slower, flakier, chatty.
    "sim-chat-2025-10-01": Behaviour(
        latency_ms=400,
        latency_jitter_ms=250,
        failure_rate=0.03,
        failure_status=429,
        verbosity="chatty",
        tone="casual",
        json_fence=True,
        rename_keys={"intent": "label"},
        refusal_rate=0.05,
    ),
    # For tests and benchmarks: instant and never fails.
    "sim-fast-2025-01-01": Behaviour(),
    # Always fails, to exercise retries and error handling.
    "sim-flaky-2025-01-01": Behaviour(latency_ms=50, failure_rate=1.0, failure_status=503),
}


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Prompt:
    """The part of a chat request that determines the answer (temperature is ignored on purpose:
    a simulator that is random at temperature > 0 would make tests flaky)."""

    model: str
    messages: tuple[Message, ...]
    # "text", "json_object" or "json_schema" (the OpenAI response_format type).
    response_format: str = "text"


# --- Deterministic seeds ----------------------------------------------------------------------


def _digest(*parts: object) -> int:
    canonical = json.dumps(parts, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return int.from_bytes(hashlib.sha256(canonical.encode("ascii")).digest()[:8], "big")


def _messages_key(prompt: Prompt) -> list[list[str]]:
    return [[m.role, m.content] for m in prompt.messages]


def seed(prompt: Prompt, salt: str) -> int:
    """A 64-bit number fixed by the whole prompt and a salt naming what it decides."""
    return _digest(prompt.model, _messages_key(prompt), prompt.response_format, salt)


def _hits(rate: float, bucket: int) -> bool:
    return bucket < round(rate * BUCKETS)


def fails(prompt: Prompt, behaviour: Behaviour) -> bool:
    # Keyed on (model, messages) only, as documented: a failing conversation fails whatever
    # response_format the caller asks for.
    bucket = _digest(prompt.model, _messages_key(prompt), "fail") % BUCKETS
    return _hits(behaviour.failure_rate, bucket)


def refuses(prompt: Prompt, behaviour: Behaviour) -> bool:
    return _hits(behaviour.refusal_rate, seed(prompt, "refuse") % BUCKETS)


def latency_ms(prompt: Prompt, behaviour: Behaviour) -> int:
    """Unscaled delay for this input: the base plus a jitter fixed by the input."""
    return behaviour.latency_ms + seed(prompt, "latency") % (behaviour.latency_jitter_ms + 1)


def completion_id(prompt: Prompt) -> str:
    return f"simcmpl-{seed(prompt, 'id'):016x}"


def model_created(model_id: str) -> int:
    """Unix time of the date in the model id (its snapshot date), else 0.

    Used as `created` in responses too, so identical requests get byte-identical bodies.
    """
    match = re.search(r"(\d{4})-(\d{2})-(\d{2})$", model_id)
    if not match:
        return 0
    try:
        year, month, day = (int(part) for part in match.groups())
        when = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return 0
    return int(when.timestamp())


def count_tokens(text: str) -> int:
    """About 1.3 tokens per word: close enough for cost dashboards, and deterministic."""
    return math.ceil(len(text.split()) * TOKENS_PER_WORD)


def pieces(text: str) -> list[str]:
    """Split into word pieces (each with its leading whitespace) that concatenate back to text.

    Used both to stream and to cut an answer at max_tokens, so the two always agree.
    """
    return re.findall(r"\s*\S+|\s+$", text)


def truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    """(content, finish_reason): cut to the words that fit in max_tokens, like a real model."""
    if max_tokens is None:
        return text, "stop"
    words = pieces(text)
    keep = int(max_tokens / TOKENS_PER_WORD)
    if len([w for w in words if w.strip()]) <= keep:
        return text, "stop"
    return "".join(words[:keep]), "length"


# --- Reading the prompt -----------------------------------------------------------------------


def system_text(prompt: Prompt) -> str:
    return "\n".join(m.content for m in prompt.messages if m.role in ("system", "developer"))


def last_user_text(prompt: Prompt) -> str:
    """The last user message, of which only the first READ_LIMIT characters are read."""
    for message in reversed(prompt.messages):
        if message.role == "user":
            return message.content[:READ_LIMIT]
    return ""


def wants_json(prompt: Prompt) -> bool:
    if prompt.response_format in ("json_object", "json_schema"):
        return True
    return re.search(r"\bjson\b", system_text(prompt), re.IGNORECASE) is not None


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Keyword -> intent. Whole words, lower-cased; ties go to the earlier intent.
INTENT_KEYWORDS: dict[str, frozenset[str]] = {
    "billing": _words(
        "invoice invoices refund refunds refunded charge charged charges billing bill billed "
        "payment payments paid subscription price pricing receipt"
    ),
    "bug": _words(
        "error errors crash crashes crashed crashing broken bug bugs fails failed failing "
        "exception freezes frozen glitch"
    ),
    "account": _words(
        "password passwords login log-in logged signin sign-in account username 2fa locked "
        "reset email"
    ),
}


def classify_intent(text: str) -> str:
    words = re.findall(r"[a-z0-9][a-z0-9-]*", text.lower())
    scores = {intent: sum(w in keys for w in words) for intent, keys in INTENT_KEYWORDS.items()}
    best = max(scores, key=lambda intent: scores[intent])  # max keeps the first of equals
    return best if scores[best] else "other"


# "Hi team," / "Hello!" / "Dear support," at the start: agents do not echo greetings back.
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|greetings|dear\s+\w+|good\s+(morning|afternoon|evening))\b"
    r"[^,.!?\n]{0,30}[,.!]\s*",
    re.IGNORECASE,
)
_LEADING_CONJUNCTION = re.compile(r"^(and|but|also|so|then)\s+", re.IGNORECASE)
# Fragments shorter than this ("Also", "Thanks") make poor bullets and topics.
MIN_FRAGMENT_WORDS = 3


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;])\s+|\n+", _GREETING.sub("", text, count=1))
    return [p.strip() for p in parts if p.strip(" \t.!?;,")]


def _phrases(sentence: str) -> list[str]:
    # One space between words keeps this split linear (a "\s+and" pattern backtracks
    # quadratically over a long run of whitespace).
    flat = " ".join(sentence.split())
    parts = re.split(r"[,;:] ?| (?:and|but) ", flat)
    parts = [
        re.sub(r"^(and|but|also|so|then)\s+", "", p.strip(), flags=re.IGNORECASE) for p in parts
    ]
    return [p for p in parts if len(p.split()) >= MIN_FRAGMENT_WORDS]


def _clip(text: str, words: int) -> str:
    kept = text.split()[:words]
    return " ".join(kept).rstrip(" .!?;,:")


def topic(text: str) -> str:
    """The first clause of the question, clipped: what a support agent would echo back."""
    sentences = _sentences(text)
    if not sentences:
        return "your request"
    clauses = _phrases(sentences[0]) or [sentences[0]]
    return _clip(clauses[0], 10)


def _pick(options: Sequence[str], seed_value: int) -> str:
    return options[seed_value % len(options)]


def _rotate(options: Sequence[T], count: int, seed_value: int) -> list[T]:
    """`count` distinct options, in a rotation fixed by the seed."""
    start = seed_value % len(options)
    return [options[(start + i) % len(options)] for i in range(min(count, len(options)))]


# --- Wording ----------------------------------------------------------------------------------

OPENERS: dict[Tone, tuple[str, ...]] = {
    "formal": (
        'Thank you for contacting us about "{topic}".',
        'Thank you for your message regarding "{topic}".',
        'We appreciate you letting us know about "{topic}".',
    ),
    "casual": (
        'Thanks for reaching out about "{topic}"!',
        'Hey there, thanks for the heads-up about "{topic}".',
        'Got it, you\'re asking about "{topic}".',
    ),
}
CLOSERS: dict[Tone, tuple[str, ...]] = {
    "formal": (
        "Please let us know if there is anything else we can help with.",
        "Kind regards, the Support Team.",
        "Do not hesitate to reply to this message if the issue persists.",
    ),
    "casual": (
        "Give us a shout if anything else comes up!",
        "Hope that sorts it out!",
        "Just reply here if it's still acting up.",
    ),
}
# What "chatty" adds around the answer.
PREAMBLES: dict[Tone, str] = {
    "formal": "That is an excellent question, and I am glad to walk you through it in detail.",
    "casual": "Ooh, great question, I'm super happy to dig into this with you!",
}
SIGN_OFFS: dict[Tone, str] = {
    "formal": "I hope this helps, and I wish you a wonderful day.",
    "casual": "Have an awesome day, and thanks so much for being such a great customer!",
}
STEPS: dict[str, tuple[str, ...]] = {
    "billing": (
        "I have asked our billing team to review the charges on your account.",
        "You can download every invoice from Settings > Billing.",
        "Duplicate charges are usually pending authorisations that drop off within 3-5 days.",
        "If a charge is still wrong after that, our billing team will review it with you.",
    ),
    "bug": (
        "Could you share the exact error message and the time it happened?",
        "Updating to the latest version of the app fixes most crashes of this kind.",
        "I have opened a ticket so our engineers can reproduce the problem.",
        "Clearing the cache and restarting the app is a good first workaround.",
    ),
    "account": (
        "You can reset your password from the sign-in page with the Forgot password link.",
        "For security, an account locks for 15 minutes after five failed sign-in attempts.",
        "Please check that the email address on the account is the one you are using.",
        "If two-factor codes are rejected, check that your phone's clock is set automatically.",
    ),
    "other": (
        "I have passed your question to the right team, who will follow up by email.",
        "Our help centre has a step-by-step guide on this topic.",
        "Could you share a few more details so we can point you in the right direction?",
        "A specialist will get back to you within one business day.",
    ),
}
SUMMARY_INTROS: dict[Tone, str] = {
    "formal": "Here is a summary of the main points:",
    "casual": "Here's the gist!",
}
SUMMARY_FILLERS = (
    "No further details were provided",
    "The customer is waiting for a reply",
    "A follow-up may be needed",
)
BULLET_COUNT: dict[Verbosity, int] = {"terse": 3, "normal": 4, "chatty": 5}
STEP_COUNT: dict[Verbosity, int] = {"terse": 1, "normal": 2, "chatty": 3}


def support_reply(text: str, behaviour: Behaviour, seed_value: int) -> str:
    steps = _rotate(STEPS[classify_intent(text)], STEP_COUNT[behaviour.verbosity], seed_value)
    if behaviour.verbosity == "terse":
        return " ".join(steps)
    tone = behaviour.tone
    opener = _pick(OPENERS[tone], seed_value >> 8).format(topic=topic(text))
    parts = [opener, *steps, _pick(CLOSERS[tone], seed_value >> 16)]
    if behaviour.verbosity == "chatty":
        parts = [PREAMBLES[tone], *parts, SIGN_OFFS[tone]]
    return " ".join(parts)


def summary_bullets(text: str, behaviour: Behaviour, seed_value: int) -> list[str]:
    """3-5 bullets made from the sentences (or, if too few, the phrases) of the text."""
    count = BULLET_COUNT[behaviour.verbosity]
    fragments = _sentences(text)
    if len(fragments) < count:
        fragments = [p for sentence in fragments for p in _phrases(sentence)]
    fragments = [f for f in fragments if len(f.split()) >= MIN_FRAGMENT_WORDS]
    if len(fragments) > count:
        # Keep the opening sentence (it usually states the problem) and a seeded spread of the
        # rest, in their original order.
        rest = _rotate(range(1, len(fragments)), count - 1, seed_value)
        fragments = [fragments[i] for i in sorted([0, *rest])]
    fragments += SUMMARY_FILLERS[: max(0, 3 - len(fragments))]
    words = 8 if behaviour.verbosity == "terse" else 16
    bullets = []
    for fragment in fragments:
        clipped = _clip(fragment, words)
        end = "?" if fragment.endswith("?") else "."
        bullets.append(clipped[:1].upper() + clipped[1:] + end)
    return bullets


def summary(text: str, behaviour: Behaviour, seed_value: int) -> str:
    marker = "-" if behaviour.tone == "formal" else "*"
    lines = [f"{marker} {b}" for b in summary_bullets(text, behaviour, seed_value)]
    if behaviour.verbosity == "chatty":
        lines = [SUMMARY_INTROS[behaviour.tone], *lines, SIGN_OFFS[behaviour.tone]]
    return "\n".join(lines)


def _rename(value: object, renames: Mapping[str, str]) -> object:
    if isinstance(value, dict):
        return {renames.get(k, k): _rename(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, renames) for v in value]
    return value


def json_answer(prompt: Prompt, behaviour: Behaviour, seed_value: int) -> str:
    text, system = last_user_text(prompt), system_text(prompt).lower()
    if "intent" in system:
        # 0.50-0.99 in steps of 0.01; n / 100 keeps the float's repr at two decimals.
        confidence = (50 + seed_value % 50) / 100
        data: object = {"intent": classify_intent(text), "confidence": confidence}
    elif "summar" in system:
        data = {"answer": summary(text, behaviour, seed_value)}
    else:
        data = {"answer": support_reply(text, behaviour, seed_value)}
    body = json.dumps(_rename(data, behaviour.rename_keys), ensure_ascii=False)
    return f"```json\n{body}\n```" if behaviour.json_fence else body


def answer(prompt: Prompt, behaviour: Behaviour) -> str:
    """The assistant's message content for this prompt (before any max_tokens cut)."""
    if refuses(prompt, behaviour):
        return REFUSAL
    seed_value = seed(prompt, "answer")
    if wants_json(prompt):
        return json_answer(prompt, behaviour, seed_value)
    text = last_user_text(prompt)
    if "summar" in system_text(prompt).lower():
        return summary(text, behaviour, seed_value)
    return support_reply(text, behaviour, seed_value)
