"""The review queue and labels: which pair a reviewer sees next, saving, editing and undoing."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from comparisons.models import Label, Reservation, ShadowPair
from registry.models import Rollout
from registry.services.audit import audit_record, db_now, snapshot
from traffic.assignment import bucket

RESERVE_FOR = timedelta(minutes=5)
UNDO_WITHIN = timedelta(minutes=30)
BLIND_SEED = 0xB11D


def candidate_on_left(pair: ShadowPair, reviewer) -> bool:
    """Which side shows the candidate: fixed per (pair, reviewer), random across them, so a
    blinded reviewer cannot learn "the candidate is always on the right". Unblinded pairs show
    the baseline left and the candidate right."""
    if not pair.rollout.blinded:
        return False
    return bucket(BLIND_SEED, f"{pair.code}:{reviewer.pk}") % 2 == 1


def queue_for(reviewer, *, now):
    """Pairs this reviewer may label now, flagged first, then oldest first.

    Written as anti-joins (NOT EXISTS) rather than counts, so PostgreSQL walks the partial queue
    index in order and stops at the first pair that fits: no aggregate over a million rows. A
    pair held by another reviewer is skipped unless it still wants more than one more label.
    """
    mine = Label.objects.filter(pair=OuterRef("pk"), reviewer=reviewer)
    held = Reservation.objects.filter(pair=OuterRef("pk"), expires__gt=now).exclude(
        reviewer=reviewer
    )
    return (
        ShadowPair.objects.filter(
            queued=True,
            label_count__lt=F("labels_wanted"),
            rollout__status__in=Rollout.SHADOWING,
        )
        .exclude(Exists(mine))
        .filter(~Exists(held) | Q(labels_wanted__gt=F("label_count") + 1))
        .order_by("-flagged", "id")
    )


def next_pair_for(reviewer, *, skip: tuple[int, ...] = ()) -> ShadowPair | None:
    """The next pair for this reviewer, reserved for them for RESERVE_FOR.

    Reservations are a courtesy, not a lock: two reviewers racing for the same pair may both get
    it, and the pair then simply collects one label more than it asked for. So no transaction,
    and the process clock is good enough for a few minutes' hold.
    """
    now = timezone.now()
    pair = (
        queue_for(reviewer, now=now)
        .exclude(pk__in=skip)
        .select_related(
            "rollout__feature",
            "request",
            "baseline_config__model_version",
            "candidate_config__model_version",
        )
        .first()
    )
    if pair is not None:
        reserve(pair, reviewer, until=now + RESERVE_FOR)
    return pair


def reserve(pair: ShadowPair, reviewer, *, until) -> None:
    # One upsert statement, whether or not this reviewer held the pair before.
    Reservation.objects.bulk_create(
        [Reservation(pair=pair, reviewer=reviewer, expires=until)],
        update_conflicts=True,
        unique_fields=["pair", "reviewer"],
        update_fields=["expires"],
    )


def waiting_count(reviewer, *, cap: int = 1000) -> int:
    """How many pairs wait for this reviewer, counted up to `cap` (the page says "1000+")."""
    return queue_for(reviewer, now=timezone.now())[: cap + 1].count()


def release(pair: ShadowPair, reviewer) -> None:
    Reservation.objects.filter(pair=pair, reviewer=reviewer).delete()


@dataclass(frozen=True)
class LabelInput:
    choice: str  # "left", "same", "right", "both_bad": what the reviewer saw
    dimensions: tuple[str, ...] = ()
    critical: bool = False
    comment: str = ""


CHOICES = ("left", "same", "right", "both_bad")


def verdict_for(choice: str, *, candidate_left: bool) -> str:
    """A choice made on screen (left/right) as a verdict in candidate terms."""
    if choice not in CHOICES:
        raise ValidationError(
            {"verdict": "Choose 1 left better, 2 same, 3 right better or 4 both bad."}
        )
    if choice in ("same", "both_bad"):
        return choice
    candidate_won = (choice == "left") == candidate_left
    return Label.Verdict.BETTER if candidate_won else Label.Verdict.WORSE


@transaction.atomic
def label_save(*, pair: ShadowPair, reviewer, data: LabelInput) -> Label:
    """Create or edit this reviewer's label; an edit keeps the old one in the audit trail."""
    unknown = [d for d in data.dimensions if d not in Label.DIMENSIONS]
    if unknown:
        raise ValidationError(
            {"dimensions": f"Unknown dimension '{unknown[0]}'; use {', '.join(Label.DIMENSIONS)}."}
        )
    if len(data.comment) > 5000:
        raise ValidationError({"comment": "Keep the comment under 5,000 characters."})
    verdict = verdict_for(data.choice, candidate_left=candidate_on_left(pair, reviewer))
    fields = {
        "verdict": verdict,
        "dimensions": sorted(set(data.dimensions)),
        "critical": data.critical,
        "comment": data.comment,
    }
    label = Label.objects.select_for_update().filter(pair=pair, reviewer=reviewer).first()
    before = snapshot(label) if label else None
    if label is None:
        try:
            with transaction.atomic():
                label = Label.objects.create(pair=pair, reviewer=reviewer, **fields)
        except IntegrityError:  # a double submit: the first one won, edit it instead
            label = Label.objects.select_for_update().get(pair=pair, reviewer=reviewer)
        else:
            ShadowPair.objects.filter(pk=pair.pk).update(label_count=F("label_count") + 1)
    if before is not None or label.verdict != verdict or label.dimensions != fields["dimensions"]:
        for key, value in fields.items():
            setattr(label, key, value)
        label.save()
    release(pair, reviewer)
    audit_record(
        actor=reviewer,
        action="label.update" if before else "label.create",
        obj=label,
        before=before,
        after=snapshot(label),
        feature_key=pair.rollout.feature.key,
    )
    return label


@transaction.atomic
def label_undo(*, reviewer) -> ShadowPair | None:
    """Remove this reviewer's most recent label (made in the last UNDO_WITHIN); return its pair,
    reserved again for them."""
    now = db_now()
    label = (
        Label.objects.select_for_update()
        .filter(reviewer=reviewer, updated__gt=now - UNDO_WITHIN)
        .select_related("pair__rollout__feature")
        .order_by("-id")
        .first()
    )
    if label is None:
        return None
    pair = label.pair
    audit_record(
        actor=reviewer,
        action="label.undo",
        obj=label,
        before=snapshot(label),
        after=None,
        feature_key=pair.rollout.feature.key,
    )
    label.delete()
    ShadowPair.objects.filter(pk=pair.pk).update(label_count=F("label_count") - 1)
    reserve(pair, reviewer, until=timezone.now() + RESERVE_FOR)
    return pair
