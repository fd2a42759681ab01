"""Per-minute roll-ups of the verdicts on a rollout's shadow pairs, by source (the reviewers'
pair outcomes, the judge's judgements), so the canary charts draw them over time without
reading labels or judgements. Counted absolutely, minute by minute (rollouts/verdict_rollup.py),
so an edited, undone or redone verdict leaves exact counts behind."""

from django.db import models
from django.db.models import Q

from registry.models import Rollout


class VerdictMinute(models.Model):
    class Source(models.TextChoices):
        REVIEWER = "reviewer", "Reviewers"
        JUDGE = "judge", "Judge"

    # Label.Verdict and PairJudgement.Verdict share the values "better", "same", "worse" (the
    # judge's tie, two orders that disagree, is already "same"); only reviewers say "both_bad".
    COUNTS = ("better", "same", "worse", "both_bad")

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    minute = models.DateTimeField(
        help_text="Start of the UTC minute of the production request the pairs judge."
    )
    better = models.PositiveIntegerField(default=0)
    same = models.PositiveIntegerField(default=0)
    worse = models.PositiveIntegerField(default=0)
    both_bad = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "rollout_control"
        constraints = [
            # One row per minute and source: the refresh upserts on exactly this key.
            models.UniqueConstraint(
                fields=["rollout", "source", "minute"], name="rollout_control_verdictminute_unique"
            ),
            models.CheckConstraint(
                condition=Q(source__in=["reviewer", "judge"]),
                name="rollout_control_verdictminute_source_known",
            ),
            # The judge is asked which answer is better; it has no "both bad" answer.
            models.CheckConstraint(
                condition=Q(source="reviewer") | Q(both_bad=0),
                name="rollout_control_verdictminute_judge_no_both_bad",
            ),
            # A minute whose verdicts all went (edited away, undone) is deleted, never kept at 0.
            models.CheckConstraint(
                condition=Q(better__gt=0) | Q(same__gt=0) | Q(worse__gt=0) | Q(both_bad__gt=0),
                name="rollout_control_verdictminute_counts_something",
            ),
        ]
        # The chart's read (one rollout's minutes in a range, both sources) and the refresh's
        # (one rollout, a few minutes) go by (rollout, minute); the unique index leads with
        # source after rollout, so it serves neither range well.
        indexes = [
            models.Index(fields=["rollout", "minute"], name="rollout_ctl_verdict_minute_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id}/{self.source}@{self.minute:%Y-%m-%d %H:%M}"

    @property
    def decided(self) -> int:
        return self.better + self.worse


class VerdictMark(models.Model):
    """How far the minute beat task (rollouts/verdict_rollup.py verdict_minutes_catch_up) has
    read: one row, locked for the whole run, so two overlapping runs take turns."""

    name = models.CharField(max_length=32, unique=True)
    # Audit events after this id are read for labels made, edited or undone, adjudications and
    # judge changes: the audit chain's lock orders appends by commit, so ids arrive in order.
    audit_id = models.BigIntegerField(default=0)
    # Judgements (never audited, bulk-inserted by concurrent workers, so ids may commit out of
    # order) are read from a little below this id, and only those created since `judged_since`
    # less a slack: the primary key bounds the scan, the time skips what was already read.
    judgement_id = models.BigIntegerField(default=0)
    judged_since = models.DateTimeField()
    # The last full recount of every reviewing rollout: the net under the net (a purge of
    # judged pairs, an admin deleting a label, writes nobody audits).
    rebuilt = models.DateTimeField()

    class Meta:
        app_label = "rollout_control"

    def __str__(self) -> str:
        return f"{self.name}: audit #{self.audit_id}, judgement #{self.judgement_id}"
