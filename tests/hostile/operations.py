"""Every API write operation, as the hostile-input tests drive them: its URL, a valid body,
where text goes in it, and wrong types per field with the field the refusal must name."""

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.hostile.world import KNOWN_REQUEST, World

Body = Callable[[World], dict]


@dataclass(frozen=True)
class Op:
    name: str
    url: Callable[[World], str]
    body: Body  # a valid body
    text: str  # where a string goes: a dotted path into body, the field the refusal names
    wrong: list[tuple[str, object, str]] = field(default_factory=list)  # (path, value, field)
    session: bool = False  # a signed-in release manager, not a token


def pair_record(**extra) -> dict:
    return {
        "request_id": "pair-1",
        "input": "Where is my parcel?",
        "baseline_output": "It ships Monday.",
        "baseline_model": "gpt-4o-2024-05-13",
        "candidate_output": "It ships on Monday.",
        "candidate_model": "gpt-4o-2024-11-20",
        **extra,
    }


OPS = [
    Op(
        "ingest",
        lambda w: "/api/v1/ingest",
        lambda w: {
            "feature": w.feature.key,
            "request_id": "req-h-1",
            "messages": [{"role": "user", "content": "Hi"}],
            "output": "Hello",
        },
        "output",
        [
            ("feature", 5, "feature"),
            ("request_id", ["a"], "request_id"),
            ("messages", "Hi", "messages"),
            ("messages.0.content", {"text": "Hi"}, "messages[0].content"),
            ("latency_ms", "fast", "latency_ms"),
            ("prompt_tokens", 1.5, "prompt_tokens"),
        ],
    ),
    Op(
        "feedback",
        lambda w: "/api/v1/feedback",
        lambda w: {
            "feature": w.feature.key,
            "request_id": KNOWN_REQUEST,
            "thumbs": "up",
            "comment": "ok",
        },
        "comment",
        [
            ("feature", 5, "feature"),
            ("request_id", 7, "request_id"),
            ("thumbs", True, "thumbs"),
            ("comment", ["ok"], "comment"),
        ],
    ),
    Op(
        "pairs",
        lambda w: f"/api/v1/rollouts/{w.rollout.code}/pairs",
        lambda w: {"records": [pair_record()]},
        "records.0.input",
        [
            ("records", "x", "records"),
            ("records.0", "x", "records[0]"),
            ("records.0.baseline_latency_ms", "slow", "records[0].baseline_latency_ms"),
            ("records.0.candidate_model", 7, "records[0].candidate_model"),
            ("records.0.metadata", [1], "records[0].metadata"),
        ],
    ),
    Op(
        "gates",
        lambda w: "/api/v1/gates",
        lambda w: {"feature": w.feature.key, "candidate": w.candidate, "trials": 1},
        "feature",
        [
            ("feature", 5, "feature"),
            ("candidate", 12, "candidate"),
            ("trials", "2", "trials"),
            ("trials", True, "trials"),
        ],
    ),
    Op(
        "rollback",
        lambda w: f"/api/v1/rollouts/{w.rollout.code}/rollback",
        lambda w: {"reason": "Guardrail breach"},
        "reason",
        [("reason", 5, "reason"), ("reason", ["x"], "reason")],
        session=True,
    ),
]
