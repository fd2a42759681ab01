from django.apps import AppConfig


class ComparisonsConfig(AppConfig):
    """Shadow pairs, automatic comparison, side-by-side diffs and the review queue (to come)."""

    name = "comparisons"
