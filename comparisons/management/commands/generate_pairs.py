"""Fill a database with many synthetic shadow pairs (for the review benchmark), generated inside
PostgreSQL in one INSERT ... SELECT. Never run it against a database whose pairs matter."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from registry.models import Rollout

# Texts vary per row (md5 of the row number) so similarity, search and diffs have real work.
INSERT_PAIRS = """
INSERT INTO comparisons_shadowpair (
    code, rollout_id, request_id, messages, baseline_config_id, candidate_config_id,
    served_variant, baseline_output, candidate_output, baseline_error, candidate_error,
    baseline_latency_ms, candidate_latency_ms, baseline_tokens, candidate_tokens,
    candidate_tool_calls, created, request_key, similarity, metrics, flags, flagged, queued,
    labels_wanted, label_count, baseline_tool_calls, baseline_finish_reason,
    candidate_finish_reason, priority, group_key)
SELECT gen_random_uuid(), %(rollout)s, NULL,
    jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'question ' || n)),
    %(baseline)s, %(candidate)s, 'baseline',
    'Your order ' || md5(n::text) || ' ships on Monday; the refund follows within a week.',
    'Hey! Your order ' || md5((n + 1)::text) || ' ships Monday, refund soon, cheers!',
    '', '', 300, 350, 50, 55, '[]'::jsonb, now() - (%(count)s - n) * interval '1 second',
    'gen-' || n || '-' || md5(random()::text), sim, '{}'::jsonb,
    CASE WHEN flagged THEN '["format_changed"]'::jsonb ELSE '[]'::jsonb END,
    flagged, flagged OR random() < 0.1, 1, 0, '[]'::jsonb, 'stop', 'stop',
    -- comparisons.flags.priority_score: 100 x format_changed's weight (3), then dissimilarity
    CASE WHEN flagged THEN 300 ELSE 0 END + round(99 * (1 - sim))::int,
    -- comparisons.grouping.group_key: every generated pair reads differently, so its own key
    md5('pair ' || n)
FROM (SELECT n, random() < 0.2 AS flagged, round(random()::numeric, 4)::float AS sim
      FROM generate_series(1, %(count)s) AS n) AS rows
"""

INSERT_LABELS = """
INSERT INTO comparisons_label (pair_id, reviewer_id, verdict, dimensions, critical, comment,
                               created, updated)
SELECT id, %(reviewer)s, (ARRAY['better', 'same', 'worse'])[1 + floor(random() * 3)::int],
       jsonb_build_array((ARRAY['format', 'tone', 'accuracy', 'safety', 'other'])
                         [1 + floor(random() * 5)::int]),
       false, '', now(), now()
FROM comparisons_shadowpair WHERE rollout_id = %(rollout)s AND random() < %(share)s
"""


class Command(BaseCommand):
    help = "Generate N synthetic shadow pairs for a rollout (benchmarks only)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1_000_000)
        parser.add_argument("--rollout", help="Rollout code (default: the newest active one)")
        parser.add_argument("--labelled", type=float, default=0.02, help="Share with a label.")

    def handle(self, *args, count, rollout, labelled, **options):
        from django.contrib.auth.models import User

        rollouts = Rollout.objects.filter(status__in=Rollout.SHADOWING)
        target = rollouts.filter(code=rollout).first() if rollout else rollouts.first()
        if target is None:
            raise CommandError("Needs a rollout in shadow or canary: run seed_demo first.")
        if connection.vendor != "postgresql":
            raise CommandError("generate_pairs runs in PostgreSQL: set DATABASE_URL.")
        reviewer, _ = User.objects.get_or_create(username="bench-reviewer")
        params = {
            "rollout": target.pk,
            "baseline": target.baseline_id,
            "candidate": target.candidate_id,
            "count": count,
            "reviewer": reviewer.pk,
            "share": labelled,
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(INSERT_PAIRS, params)
            cursor.execute(INSERT_LABELS, params)
            cursor.execute(
                "UPDATE comparisons_shadowpair p SET label_count = 1 FROM comparisons_label l "
                "WHERE l.pair_id = p.id AND p.rollout_id = %(rollout)s",
                params,
            )
        self.stdout.write(f"{count} pairs added to rollout {target.code}")
