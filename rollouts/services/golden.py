"""Golden cases from production: a reviewed pair, or a sample of logged requests, turned into
eval cases of the feature's suite.

It lives in the top layer because it reads comparisons' pairs and labels and writes
evaluations' cases, and those two apps know nothing of each other. Every case is made through
evaluations.services.suites.case_create, so it is validated (assertions included) and audited
like a hand-written one.

The inputs are the stored, REDACTED messages: the raw input is released once the shadow job
has run, and a suite must never keep what redaction took out.
"""

import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from comparisons.metrics import parse_json
from comparisons.models import Adjudication, Label, ShadowPair
from evaluations.models import Case, Dimension, Suite
from evaluations.services.suites import case_create
from registry.errors import DomainError
from registry.models import Feature, Feedback, RequestLog
from traffic.refusals import is_refusal

# Label dimension tags -> case dimensions ("reasoning" is how older labels spelt accuracy).
DIMENSION_OF = {
    "format": Dimension.FORMAT,
    "tone": Dimension.TONE,
    "accuracy": Dimension.ACCURACY,
    "reasoning": Dimension.ACCURACY,
    "safety": Dimension.SAFETY,
}
SIMILAR_THRESHOLD = 0.6
LONG_TEXT = 600  # characters from which an answer gets a length budget
MAX_SAMPLE = 500  # requests per traffic sample
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.MULTILINE)


def suggest_assertions(
    reference: str, other: str = "", *, preferred: bool = True
) -> list[dict[str, Any]]:
    """Assertions a case built on `reference` should start with (the user edits them).

    `other` is the answer that lost (or "" when there is none); `preferred` is False when the
    reference is a served answer a user disliked, so nothing asks to resemble it.
    1. JSON reference: `is-json` with its top-level keys required; `not-contains` a code fence
       when the losing answer wrapped its JSON in one (an application's parser trips on it).
    2. Refusals: `not-is-refusal` when the other side refused and the reference did not;
       `is-refusal` when a reviewer preferred a refusal over an answer (a safety case).
    3. Free text: `similar` to the reference (0.6), and `max-length` of about twice a long one.
    """
    text = reference.strip()
    if not text:
        return []
    out: list[dict[str, Any]] = []
    value = parse_json(text)
    refused, other_refused = is_refusal(text), bool(other.strip()) and is_refusal(other)
    if value is not None:
        schema: dict[str, Any] = {"type": "array" if isinstance(value, list) else "object"}
        if isinstance(value, dict) and value:
            schema["required"] = list(value)
        out.append({"type": "is-json", "value": schema})
        if fence := _FENCE.search(other):
            out.append({"type": "not-contains", "value": fence.group().strip()})
    if (other_refused and not refused) or (refused and not preferred):
        out.append({"type": "not-is-refusal"})
    elif refused and other.strip() and preferred:
        return [*out, {"type": "is-refusal"}]  # refusals are worded freely: no similarity
    if value is None and preferred:
        # No value: `similar` compares with the case's reference at run time, so an edit of the
        # reference carries over and the assertion does not repeat a long text.
        out.append({"type": "similar", "threshold": SIMILAR_THRESHOLD})
    if len(text) >= LONG_TEXT:
        out.append({"type": "max-length", "value": -(-2 * len(text) // 100) * 100})
    return out


def case_dimension(labels: list[Label]) -> str:
    """The first dimension tag of the labels (oldest first) that names a case dimension."""
    for label in labels:
        for tag in label.dimensions or []:
            if str(tag).lower() in DIMENSION_OF:
                return DIMENSION_OF[str(tag).lower()]
    return Dimension.OTHER


def _snippet(messages: list[dict[str, Any]], limit: int = 80) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    text = " ".join(str(users[-1] if users else "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class PairProposal:
    """What "add to suite" proposes for a pair: its verdict and the case's defaults."""

    verdict: str
    preferred: str  # "candidate", "baseline", or "" (both bad: the user writes the reference)
    reference: str
    other: str
    dimension: str
    critical: bool
    name: str
    assertions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict_label(self) -> str:
        return str(Label.Verdict(self.verdict).label)


def pair_verdict(pair: ShadowPair, labels: list[Label]) -> str:
    """The pair's verdict: its adjudication, else its labels' when they agree."""
    decided = Adjudication.objects.filter(pair=pair).values_list("verdict", flat=True).first()
    if decided:
        return decided
    verdicts = {label.verdict for label in labels}
    if not verdicts:
        raise DomainError("Nobody has labelled this pair yet: its verdict picks the reference.")
    if len(verdicts) > 1:
        raise DomainError(
            "Its reviewers disagree (" + ", ".join(sorted(verdicts)) + "): adjudicate the "
            "pair first, then add it to a suite."
        )
    return verdicts.pop()


def pair_proposal(pair: ShadowPair) -> PairProposal:
    labels = list(Label.objects.filter(pair=pair).order_by("id"))
    verdict = pair_verdict(pair, labels)
    if verdict == Label.Verdict.BETTER:
        preferred, reference, other = "candidate", pair.candidate_output, pair.baseline_output
    elif verdict == Label.Verdict.BOTH_BAD:
        preferred, reference, other = "", "", ""
    else:  # worse, or same: the served answer is the one known to work in production
        preferred, reference, other = "baseline", pair.baseline_output, pair.candidate_output
    return PairProposal(
        verdict=verdict,
        preferred=preferred,
        reference=reference,
        other=other,
        dimension=case_dimension(labels),
        critical=any(label.critical for label in labels),
        name=f"Pair: {_snippet(pair.messages) or pair.request_key}",
        assertions=suggest_assertions(reference, other),
    )


def _check_suite(suite: Suite, feature: Feature) -> None:
    if suite.feature_id != feature.pk:
        raise ValidationError(
            {
                "suite": f"Suite '{suite.name}' belongs to another feature, not '{feature.key}'; "
                f"pick one of {feature.key}'s suites."
            }
        )


def _lock(suite: Suite) -> None:
    # Serialises the "already in this suite?" check with the insert: two people adding the
    # same pair at once must not both get a case.
    Suite.objects.select_for_update().filter(pk=suite.pk).values_list("pk").first()


@transaction.atomic
def case_from_pair(
    *,
    pair: ShadowPair,
    suite: Suite,
    actor: Any,
    name: str = "",
    dimension: str | None = None,
    critical: bool = False,
    assertions: list[dict[str, Any]] | None = None,
    reference: str | None = None,
) -> Case:
    """A case from a reviewed pair: its redacted input, the preferred answer as reference.
    `reference` None keeps the preferred answer; `assertions` None takes the suggestions for
    the final reference."""
    _check_suite(suite, pair.rollout.feature)
    proposal = pair_proposal(pair)
    reference = proposal.reference if reference is None else reference
    if not reference.strip():
        raise ValidationError(
            {
                "reference": "Both answers were judged bad (or the preferred one is empty): "
                "write the answer the model should give."
            }
        )
    _lock(suite)
    existing = Case.objects.filter(suite=suite, source=Case.Source.PAIR, source_ref=str(pair.code))
    if (case := existing.first()) is not None:
        raise ValidationError(
            {"suite": f"This pair is already in suite '{suite.name}' as case '{case.name}'."}
        )
    return case_create(
        suite=suite,
        actor=actor,
        name=name.strip() or proposal.name,
        messages=pair.messages,
        variables=pair.request.variables if pair.request else None,
        reference=reference,
        assertions=suggest_assertions(reference, proposal.other)
        if assertions is None
        else assertions,
        dimension=dimension or proposal.dimension,
        critical=critical,
        source=Case.Source.PAIR,
        source_ref=str(pair.code),
    )


@dataclass(frozen=True)
class TrafficFilters:
    start: datetime
    end: datetime
    size: int = 50
    only_flagged: bool = False
    only_negative: bool = False


def _negative() -> QuerySet[Feedback]:
    return Feedback.objects.filter(request=OuterRef("pk")).filter(
        Q(kind=Feedback.Kind.THUMBS, value__lt=0) | Q(kind=Feedback.Kind.SCORE, value__lte=2)
    )


def traffic_candidates(
    *, feature: Feature, suite: Suite, filters: TrafficFilters
) -> QuerySet[RequestLog]:
    """Logged requests of the feature the filters select, not yet cases of the suite. Failed
    calls are left out: there is no served answer to keep. "Flagged": a pair of the request
    was flagged in any rollout; "negative": a thumbs down or a score of 1-2."""
    errors: dict[str, str] = {}
    if suite.feature_id != feature.pk:
        errors["suite"] = f"That suite belongs to another feature; pick one of {feature.key}'s."
    if filters.end <= filters.start:
        errors["end"] = "The end of the time range must be after its start."
    if not 1 <= filters.size <= MAX_SAMPLE:
        errors["size"] = f"Give a sample size from 1 to {MAX_SAMPLE}."
    if errors:
        raise ValidationError(errors)
    sampled = Case.objects.filter(suite=suite, source=Case.Source.TRAFFIC).values("source_ref")
    logs = RequestLog.objects.filter(
        feature=feature, started__gte=filters.start, started__lt=filters.end, error_kind=""
    ).exclude(request_id__in=sampled)
    if filters.only_flagged:
        logs = logs.filter(Exists(ShadowPair.objects.filter(request=OuterRef("pk"), flagged=True)))
    if filters.only_negative:
        logs = logs.filter(Exists(_negative()))
    return logs


@dataclass
class TrafficSample:
    cases: list[Case]
    skipped: dict[str, str]  # request id -> why it could not become a case


@transaction.atomic
def traffic_sample(
    *, feature: Feature, suite: Suite, actor: Any, filters: TrafficFilters, seed: int | None = None
) -> TrafficSample:
    """1. Lock the suite, so two samplers cannot both take a request.
    2. Pick `size` of the matching requests at random (seeded: the same seed, the same pick).
    3. Make a draft case of each, with the served answer as reference; a request whose stored
       input a case cannot take is skipped with its reason and never blocks the others."""
    candidates = traffic_candidates(feature=feature, suite=suite, filters=filters)
    _lock(suite)
    ids = sorted(candidates.values_list("pk", flat=True))
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    chosen = sorted(rng.sample(ids, min(filters.size, len(ids))))
    logs = (
        RequestLog.objects.filter(pk__in=chosen)
        .annotate(negative=Exists(_negative()))
        .order_by("started", "pk")
    )
    result = TrafficSample(cases=[], skipped={})
    for log in logs:
        note = " (negative feedback: write the right answer)" if log.negative else ""
        try:
            with transaction.atomic():
                case = case_create(
                    suite=suite,
                    actor=actor,
                    name=f"Traffic {log.request_id}: {_snippet(log.messages)}"[:250] + note,
                    messages=log.messages,
                    variables=log.variables,
                    reference=log.output,
                    assertions=suggest_assertions(log.output, preferred=not log.negative),
                    draft=True,
                    source=Case.Source.TRAFFIC,
                    source_ref=log.request_id,
                )
        except ValidationError as exc:
            reasons = (f"{key}: {' '.join(msgs)}" for key, msgs in exc.message_dict.items())
            result.skipped[log.request_id] = "; ".join(reasons)[:300]
            continue
        result.cases.append(case)
    return result


def cases_from_traffic(
    *,
    feature: Feature,
    suite: Suite,
    actor: Any,
    start: datetime,
    end: datetime,
    size: int = 50,
    only_flagged: bool = False,
    only_negative: bool = False,
    seed: int | None = None,
) -> list[Case]:
    filters = TrafficFilters(start, end, size, only_flagged, only_negative)
    sample = traffic_sample(feature=feature, suite=suite, actor=actor, filters=filters, seed=seed)
    return sample.cases
