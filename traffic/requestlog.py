"""The one builder of request-log rows, for the gateway's recorder and for ingest alike, and the
release of the raw input those rows keep for their shadow runs.

Two copies of this once drifted (ingest shadowed failed calls, the gateway did not); both paths
now describe their call as a LoggedCall and get the row from `request_log_build`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from registry.models import RequestLog, ShadowJob
from traffic.assignment import Route
from traffic.providers import ErrorKind
from traffic.redaction import Redactor

# What ingest records when the application reports an error without naming its kind.
APP_ERROR = "app_error"

# Failures that mean the request never reached a model, or was refused by the provider as
# invalid: the missing API key, an unknown API style, a base URL the egress policy refuses, a
# 4xx other than 429. A shadow run would
# send the candidate a request the baseline never answered, so there is nothing to compare.
# (Names, not ErrorKind members: a kind added later is shadowed unless listed here.)
NOT_SHADOWED_ERRORS: frozenset[str] = frozenset(
    {
        ErrorKind.CLIENT_ERROR.value,
        ErrorKind.NO_API_KEY.value,
        "blocked_address",
        # The provider refused the account, or the call was never sent (open circuit).
        ErrorKind.AUTH_REJECTED.value,
        ErrorKind.QUOTA_EXHAUSTED.value,
        ErrorKind.CIRCUIT_OPEN.value,
    }
)

# Keys whose strings name structure (a role, a tool, an id), never what a user wrote: kept as
# they are, so a stored tool call still says which tool it called.
_STRUCTURAL_KEYS = frozenset({"role", "type", "id", "name", "tool_call_id"})

_OPEN_JOBS = (ShadowJob.Status.QUEUED, ShadowJob.Status.CLAIMED)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggedCall:
    """One production call, normalised: what the gateway saw, or what an application reported.

    `messages` and `variables` are the input as the provider received it, unredacted; the
    builder decides what of it is kept.
    """

    route: Route
    source: str  # RequestLog.Source
    variant: str
    config_id: int
    # False for an older config of the feature that a stale client still uses: logged, never
    # part of the rollout, never shadowed.
    current: bool
    request_id: str
    unit_key: str
    messages: list[dict[str, Any]]
    variables: dict[str, Any]
    params: dict[str, Any]  # the replayed pass-through parameters (traffic/passthrough.py)
    output: str
    finish_reason: str
    tool_calls: list[dict[str, Any]]
    error_kind: str  # "" for a complete answer
    error: str
    latency_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    started: datetime


def shadowed(*, error_kind: str) -> bool:
    """Whether a call with this outcome gets a shadow run (when its feature is shadowing).

    The rule, the same for the gateway and ingest: a call is shadowed when the served config
    produced a complete answer, or failed on the provider's side (timeout, rate limit, 5xx,
    connection, an answer that could not be read, an error the application reported without a
    kind): the point is to see the other config on the same input, and a candidate that answers
    where the baseline failed is evidence too. A call refused before a model saw it (no API key,
    an unknown API style) or refused by the provider as invalid (4xx other than 429) is not:
    the candidate would be sent a request that was never answered.
    """
    return error_kind not in NOT_SHADOWED_ERRORS


def redact_json(value: Any, redactor: Redactor) -> Any:
    """Every string inside a JSON value redacted, except structural ones (roles, tool names,
    ids); the shape is kept."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, list):
        return [redact_json(item, redactor) for item in value]
    if isinstance(value, dict):
        return {
            key: item if key in _STRUCTURAL_KEYS else redact_json(item, redactor)
            for key, item in value.items()
        }
    return value


def request_log_build(*, call: LoggedCall) -> RequestLog:
    """The request-log row of one call, not saved: the input, output, error, variables and tool
    calls redacted; the pass-through parameters; the shadow config when the call is shadowed
    (see `shadowed`), and then the raw input, kept only for that shadow run."""
    route = call.route
    redactor = route.redactor
    shadow = route.other(call.variant) if call.current else None
    if shadow is not None and not shadowed(error_kind=call.error_kind):
        shadow = None
    return RequestLog(
        feature_id=route.feature_id,
        request_id=call.request_id,
        unit_key=call.unit_key,
        source=call.source,
        config_id=call.config_id,
        variant=call.variant,
        rollout_id=route.rollout_id if call.current else None,
        messages=redact_json(call.messages, redactor),
        variables=redact_json(call.variables, redactor),
        params=call.params,
        raw_messages=call.messages if shadow is not None else None,
        raw_variables=call.variables if shadow is not None else None,
        shadow_config_id=shadow.id if shadow is not None else None,
        output=redactor.text(call.output),
        finish_reason=call.finish_reason,
        tool_calls=redact_json(call.tool_calls, redactor),
        error_kind=call.error_kind,
        error=redactor.text(call.error),
        latency_ms=call.latency_ms,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        started=call.started,
    )


def raw_input_release(*, log_ids: Iterable[int]) -> int:
    """Clear the raw input of these logs unless a shadow job of theirs is still open. Returns
    how many logs were cleared."""
    ids = list(log_ids)
    if not ids:
        return 0
    return _release(RequestLog.objects.filter(pk__in=ids, raw_messages__isnull=False))


def raw_input_purge(*, batch: int = 5000) -> int:
    """Clear the raw input of every log whose shadow jobs have all ended (done or failed), or
    that has none: the safety net behind the release at the end of each job (the sweep runs
    it, so a job the sweep gives up on loses its input within one sweep). Batched."""
    cleared = 0
    while True:
        ended = RequestLog.objects.filter(raw_messages__isnull=False).exclude(
            shadow_jobs__status__in=_OPEN_JOBS
        )
        ids = list(ended.values_list("pk", flat=True)[:batch])
        cleared += _release(RequestLog.objects.filter(pk__in=ids)) if ids else 0
        if len(ids) < batch:
            return cleared


def _release(logs: QuerySet[RequestLog]) -> int:
    # Re-checked in the UPDATE itself: a job opened since the selection keeps its input.
    return logs.exclude(shadow_jobs__status__in=_OPEN_JOBS).update(
        raw_messages=None, raw_variables=None
    )
