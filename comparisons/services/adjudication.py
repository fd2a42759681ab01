"""Adjudication: a third person settles a pair whose reviewers disagreed.

The adjudicated verdict is the pair's verdict in the statistics (comparisons/services/stats.py);
the labels stay as they were, for agreement and for the record. Who may adjudicate (a Reviewer
or a Release manager) is decided in the view; that the adjudicator is none of the pair's
labellers is a rule of the domain, checked here under the pair's lock.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet

from comparisons.models import Adjudication, Label, ShadowPair
from comparisons.services.review import candidate_on_left, verdict_for
from registry.errors import Conflict, DomainError
from registry.models import Rollout
from registry.services.audit import audit_record, snapshot

NOTE_MAX = 5000


class NotAllowed(DomainError):
    """The person may not adjudicate this pair (they labelled it)."""


def awaiting_adjudication(
    *, rollout: Rollout | None = None, excluding_labeller=None
) -> QuerySet[ShadowPair]:
    """Pairs whose labels disagree and that nobody has adjudicated, oldest first; without the
    pairs `excluding_labeller` labelled (they cannot settle their own disagreement)."""
    pairs = (
        ShadowPair.objects.annotate(verdicts=Count("labels__verdict", distinct=True))
        .filter(verdicts__gt=1, adjudication__isnull=True)
        .order_by("id")
    )
    if rollout is not None:
        pairs = pairs.filter(rollout=rollout)
    if excluding_labeller is not None:
        mine = Label.objects.filter(pair=OuterRef("pk"), reviewer=excluding_labeller)
        pairs = pairs.exclude(Exists(mine))
    return pairs


def labelled_by(*, pair: ShadowPair, user) -> bool:
    return Label.objects.filter(pair=pair, reviewer=user).exists()


@transaction.atomic
def adjudication_record(*, pair: ShadowPair, adjudicator, choice: str, note: str) -> Adjudication:
    """Record the final verdict on a disagreement, with its audit event.

    1. `choice` is what the adjudicator saw (left / same / right / both_bad, on their own
       blinded sides), turned into candidate terms like a label.
    2. The pair's row is locked, so two adjudicators at once queue up here: the second finds the
       first one's adjudication and gets a Conflict naming it. The one-to-one pair constraint
       catches whatever passes the lock (a database without row locks).
    3. Refused when the adjudicator labelled the pair, or when its labels no longer disagree.
    """
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say why this verdict stands: the note is required."})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX:,} characters."})
    verdict = verdict_for(choice, candidate_left=candidate_on_left(pair, adjudicator))
    ShadowPair.objects.select_for_update().filter(pk=pair.pk).first()
    existing = Adjudication.objects.select_related("adjudicator").filter(pair=pair).first()
    if existing is not None:
        raise _already(existing)
    if labelled_by(pair=pair, user=adjudicator):
        raise NotAllowed(
            "You labelled this pair, so you cannot settle its disagreement: "
            "a third reviewer or a release manager adjudicates it."
        )
    if Label.objects.filter(pair=pair).values("verdict").distinct().count() < 2:
        raise DomainError(
            "The labels on this pair agree now (one was edited or undone): "
            "there is nothing to adjudicate."
        )
    try:
        with transaction.atomic():
            adjudication = Adjudication.objects.create(
                pair=pair, adjudicator=adjudicator, verdict=verdict, note=note
            )
    except IntegrityError:
        existing = Adjudication.objects.select_related("adjudicator").get(pair=pair)
        raise _already(existing) from None
    audit_record(
        actor=adjudicator,
        action="adjudication.create",
        obj=adjudication,
        before=None,
        after=snapshot(adjudication),
        reason=note,
        feature_key=pair.rollout.feature.key,
    )
    return adjudication


def _already(existing: Adjudication) -> Conflict:
    return Conflict(
        f"{existing.adjudicator.get_username()} adjudicated this pair first "
        f"({existing.get_verdict_display().lower()}, "
        f"{existing.created:%Y-%m-%d %H:%M} UTC); your verdict was not recorded."
    )
