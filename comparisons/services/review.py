"""The review queue and labels: which pair a reviewer sees next, saving, editing and undoing."""

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from comparisons.models import Label, Reservation, ShadowPair
from registry.models import Rollout
from registry.roles import Role, has_role
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


def sides_visible(pair: ShadowPair, user, *, labelled: bool) -> bool:
    """Whether this user may learn which side is the candidate: always on an unblinded rollout,
    for release managers and admins (they read the evidence, they do not label), and for a
    reviewer once they have labelled the pair. Decided here, for every page alike."""
    return not pair.rollout.blinded or labelled or has_role(user, Role.RELEASE_MANAGER)


def side_names(pair: ShadowPair, reviewer) -> dict[str, str]:
    """The on-screen name (A left, B right) of each side for this reviewer."""
    if candidate_on_left(pair, reviewer):
        return {"baseline": "B", "candidate": "A"}
    return {"baseline": "A", "candidate": "B"}


def label_wanted(pair: ShadowPair, *, labelled: bool) -> bool:
    """Whether a label form belongs on this pair's page: the reviewer's own label (to edit), or
    a queued pair of a shadowing rollout still short of labels. Needs no query."""
    if labelled:
        return True
    return (
        pair.queued
        and pair.label_count < pair.labels_wanted
        and pair.rollout.status in Rollout.REVIEWING
    )


def label_allowed(*, pair: ShadowPair, reviewer) -> bool:
    """Whether a label POST is taken: where the form is shown (label_wanted), or on a pair the
    queue handed this reviewer (their reservation), even if a racing reviewer filled it."""
    labelled = Label.objects.filter(pair=pair, reviewer=reviewer).exists()
    if label_wanted(pair, labelled=labelled):
        return True
    return Reservation.objects.filter(pair=pair, reviewer=reviewer).exists()


def queue_for(reviewer, *, now, rollout: Rollout | None = None):
    """Pairs this reviewer may label now, highest priority first (comparisons/flags.py:
    weighted flags, then lower similarity), then oldest first.

    Written as anti-joins (NOT EXISTS) rather than counts, so PostgreSQL walks the partial queue
    index in order and stops at the first pair that fits: no aggregate over a million rows. A
    pair held by another reviewer is skipped unless it still wants more than one more label.
    `rollout` narrows the queue to one rollout (the picker on the review page).
    """
    mine = Label.objects.filter(pair=OuterRef("pk"), reviewer=reviewer)
    held = Reservation.objects.filter(pair=OuterRef("pk"), expires__gt=now).exclude(
        reviewer=reviewer
    )
    pairs = ShadowPair.objects.filter(
        queued=True,
        label_count__lt=F("labels_wanted"),
        # REVIEWING, not SHADOWING: imported and replayed pairs of a draft or an offline
        # comparison are reviewed too (R5, issue 8).
        rollout__status__in=Rollout.REVIEWING,
    )
    if rollout is not None:
        pairs = pairs.filter(rollout=rollout)
    return (
        pairs.exclude(Exists(mine))
        .filter(~Exists(held) | Q(labels_wanted__gt=F("label_count") + 1))
        .order_by("-priority", "id")
    )


def _coverable(reviewer) -> QuerySet[ShadowPair]:
    """Pairs a label by this reviewer may be copied onto: still queued for labels and not yet
    labelled by them. Unqueued duplicates stay unlabelled, so the review sample stays a fair
    sample of the traffic."""
    mine = Label.objects.filter(pair=OuterRef("pk"), reviewer=reviewer)
    return (
        ShadowPair.objects.filter(queued=True, label_count__lt=F("labels_wanted"))
        .exclude(group_key="")
        .exclude(Exists(mine))
    )


def identical_pairs(*, pair: ShadowPair, reviewer) -> QuerySet[ShadowPair]:
    """The identical pairs of the same rollout that this reviewer's label on `pair` covers."""
    if not pair.group_key:
        return ShadowPair.objects.none()
    return (
        _coverable(reviewer)
        .filter(rollout_id=pair.rollout_id, group_key=pair.group_key)
        .exclude(pk=pair.pk)
    )


def next_pair_for(
    reviewer, *, skip: tuple[int, ...] = (), rollout: Rollout | None = None
) -> ShadowPair | None:
    """The next pair for this reviewer, reserved for them for RESERVE_FOR.

    Reservations are a courtesy, not a lock: two reviewers racing for the same pair may both get
    it, and the pair then simply collects one label more than it asked for. So no transaction,
    and the process clock is good enough for a few minutes' hold.
    """
    now = timezone.now()
    # How many identical pairs this label will cover, counted in the same query.
    identical = (
        _coverable(reviewer)
        .filter(rollout=OuterRef("rollout"), group_key=OuterRef("group_key"))
        .exclude(pk=OuterRef("pk"))
        .order_by()
        .values("rollout")
        .annotate(n=Count("pk"))
        .values("n")
    )
    pair = (
        queue_for(reviewer, now=now, rollout=rollout)
        .exclude(pk__in=skip)
        .annotate(identical=Coalesce(Subquery(identical[:1]), Value(0)))
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


def waiting_count(reviewer, *, cap: int = 1000, rollout: Rollout | None = None) -> int:
    """How many labels wait for this reviewer, counted up to `cap` (the page says "1000+").
    Identical pairs count once: one label covers them all."""
    pairs = queue_for(reviewer, now=timezone.now(), rollout=rollout).order_by()
    groups = pairs.annotate(
        group=Case(
            When(group_key="", then=Concat(Value("#"), Cast("id", CharField()))),
            default=F("group_key"),
        )
    )
    return groups.values("group").distinct()[: cap + 1].count()


# Gaps longer than this between two labels are breaks, not reviewing time.
PACE_BREAK = timedelta(minutes=10)
PACE_LABELS = 20


def pace_estimate(*, reviewer, remaining: int) -> timedelta | None:
    """How long the remaining labels take at this reviewer's recent pace: the median gap between
    their last PACE_LABELS labels (breaks left out), times `remaining`. None below 3 gaps:
    too few to say."""
    times = list(
        Label.objects.filter(reviewer=reviewer, covered_by=None)
        .order_by("-id")
        .values_list("created", flat=True)[:PACE_LABELS]
    )
    return estimate_from(times, remaining=remaining)


def estimate_from(times: list, *, remaining: int) -> timedelta | None:
    ordered = sorted(times)
    gaps = sorted(
        later - earlier for earlier, later in pairwise(ordered) if later - earlier <= PACE_BREAK
    )
    if len(gaps) < 3:
        return None
    return gaps[len(gaps) // 2] * remaining


def recent_labels(*, reviewer, limit: int = 10) -> list[Label]:
    """This reviewer's latest labels (copies left out: they show as "covers N" on their
    original), newest first, for the links on the review page."""
    return list(
        Label.objects.filter(reviewer=reviewer, covered_by=None)
        .select_related("pair__rollout__feature")
        .annotate(covers=Count("copies"))
        .order_by("-id")[:limit]
    )


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
        # Editing a copy by hand makes it this reviewer's own judgement of this pair.
        label.covered_by = None
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
    _cover_identical(label=label, pair=pair, reviewer=reviewer, fields=fields)
    return label


COVER_AT_MOST = 500


def _cover_identical(*, label: Label, pair: ShadowPair, reviewer, fields: dict) -> None:
    """Copy the label onto the identical pairs of the rollout (labelled once, counted per pair)
    and keep earlier copies in step with an edit. Verdicts are in candidate terms, so a copy is
    right whatever sides that pair would have shown."""
    label.copies.update(**fields, updated=timezone.now())
    covered = []
    for other in identical_pairs(pair=pair, reviewer=reviewer)[:COVER_AT_MOST]:
        try:
            with transaction.atomic():
                Label.objects.create(pair=other, reviewer=reviewer, covered_by=label, **fields)
        except IntegrityError:  # labelled meanwhile (a second tab): theirs stands
            continue
        ShadowPair.objects.filter(pk=other.pk).update(label_count=F("label_count") + 1)
        release(other, reviewer)
        covered.append(str(other.code))
    if covered:
        audit_record(
            actor=reviewer,
            action="label.cover",
            obj=label,
            before=None,
            after={"verdict": label.verdict, "identical_pairs": covered},
            feature_key=pair.rollout.feature.key,
        )


@transaction.atomic
def label_undo(*, reviewer) -> ShadowPair | None:
    """Remove this reviewer's most recent label (made in the last UNDO_WITHIN); return its pair,
    reserved again for them."""
    now = db_now()
    label = (
        Label.objects.select_for_update()
        .filter(reviewer=reviewer, covered_by=None, updated__gt=now - UNDO_WITHIN)
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
    # The copies on identical pairs go with it (CASCADE); their pairs want a label again.
    copied_to = list(label.copies.values_list("pair_id", flat=True))
    label.delete()
    ShadowPair.objects.filter(pk__in=[pair.pk, *copied_to]).update(label_count=F("label_count") - 1)
    reserve(pair, reviewer, until=timezone.now() + RESERVE_FOR)
    return pair
