"""Per-feature review settings (issue 8): the length-ratio bounds that flag a pair, and the
similarity threshold now limited to short label-like answers."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("rollouts", "0010_audit_hardening")]

    operations = [
        migrations.AddField(
            model_name="feature",
            name="flag_length_ratio_min",
            field=models.FloatField(
                default=0.5,
                help_text="Flag shadow pairs whose candidate is shorter than this share of the "
                "baseline (0-1; 0.5 = half as long).",
                validators=[
                    django.core.validators.MinValueValidator(0.0),
                    django.core.validators.MaxValueValidator(1.0),
                ],
                verbose_name="flag length ratio below",
            ),
        ),
        migrations.AddField(
            model_name="feature",
            name="flag_length_ratio_max",
            field=models.FloatField(
                default=2.0,
                help_text="Flag shadow pairs whose candidate is longer than this multiple of the "
                "baseline (at least 1; 2 = twice as long).",
                validators=[django.core.validators.MinValueValidator(1.0)],
                verbose_name="flag length ratio above",
            ),
        ),
        migrations.AlterField(
            model_name="feature",
            name="flag_similarity_below",
            field=models.FloatField(
                default=0.5,
                help_text="Flag short label-like answers (one line, up to 5 words) whose word "
                "similarity (0-1) is below this. Longer answers are ranked by similarity, not "
                "flagged.",
                validators=[
                    django.core.validators.MinValueValidator(0.0),
                    django.core.validators.MaxValueValidator(1.0),
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="feature",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("flag_length_ratio_min__gte", 0),
                    ("flag_length_ratio_min__lte", 1),
                    ("flag_length_ratio_max__gte", 1),
                ),
                name="rollouts_feature_length_ratio_bounds",
            ),
        ),
    ]
