from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from comparisons.flags import KINDS, LEGACY, OPEN_SIDES, SIDES
from comparisons.models import Label, ShadowPair
from registry.models import Rollout
from registry.roles import Role, has_role


class RolloutChoice(forms.ModelChoiceField):
    # Feature and start date only: a config name or model id here would tell a blinded
    # reviewer which model is the candidate.
    def label_from_instance(self, obj: Rollout) -> str:
        return f"{obj.feature.key} · {obj.created:%Y-%m-%d} · {str(obj.code)[:8]}"


class QueueFilter(forms.Form):
    """The review page's rollout picker: one rollout's queue, or all (empty)."""

    rollout = RolloutChoice(
        Rollout.objects.filter(status__in=Rollout.REVIEWING)
        .select_related("feature")
        .order_by("-created"),
        required=False,
        to_field_name="code",
        empty_label="all rollouts",
        label="Queue",
    )

    def chosen(self) -> Rollout | None:
        data = getattr(self, "cleaned_data", None) or {}
        return data.get("rollout")


def _flag_choices(*, sided: bool) -> list[tuple[str, str]]:
    """Flag kinds (matching either side); with `sided`, also each side on its own."""
    choices = [("", "any")]
    for kind in KINDS.values():
        choices.append((kind.key, kind.label.replace("{side}", "either side")))
        if sided and kind.sided:
            choices += [
                (f"{kind.key}:{side}", kind.label.format(side=OPEN_SIDES[side])) for side in SIDES
            ]
    return choices


def _flag_matches(value: str) -> Q:
    """Pairs whose flags contain `value` ("<kind>" matches either side), legacy names included.
    Matched on the JSON text, quotes included, so it works on SQLite and PostgreSQL alike."""
    kind, _, side = value.partition(":")
    wanted = [f"{kind}:{side}"] if side else [kind, *(f"{kind}:{s}" for s in SIDES)]
    names = wanted + [old for old, new in LEGACY.items() if new in wanted or new == value]
    match = Q()
    for name in names:
        match |= Q(flags__icontains=f'"{name}"')
    return match


class PairFilter(forms.Form):
    rollout = forms.ModelChoiceField(
        Rollout.objects.select_related("feature").order_by("-created"),
        required=False,
        to_field_name="code",
    )
    verdict = forms.ChoiceField(choices=[("", "any"), *Label.Verdict.choices], required=False)
    dimension = forms.ChoiceField(
        choices=[("", "any")] + [(d, d) for d in Label.DIMENSIONS], required=False
    )
    flagged = forms.ChoiceField(
        choices=[("", "any"), ("yes", "flagged"), ("no", "not flagged")], required=False
    )
    similarity_min = forms.FloatField(min_value=0, max_value=1, required=False)
    similarity_max = forms.FloatField(min_value=0, max_value=1, required=False)
    q = forms.CharField(max_length=200, required=False, label="Text")
    reviewer = forms.CharField(max_length=150, required=False)
    flag = forms.ChoiceField(choices=[], required=False)
    before = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        """Blinding (issue 8): a filter must not tell a blinded reviewer which side is the
        candidate. So a reviewer filters flags by kind only (matching either side), and
        verdicts, which are in candidate terms, match only pairs whose sides they may see
        (an unblinded rollout, or a pair they labelled). Release managers and admins filter
        by side and by every verdict."""
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.sees_all = has_role(viewer, Role.RELEASE_MANAGER)
        flag = self.fields["flag"]
        if isinstance(flag, forms.ChoiceField):  # always; narrows the type for mypy
            flag.choices = _flag_choices(sided=self.sees_all)
        if not self.sees_all:
            self.fields["verdict"].help_text = "On blinded rollouts: only pairs you labelled."

    def apply(self, pairs: QuerySet[ShadowPair]) -> QuerySet[ShadowPair]:
        data = self.cleaned_data
        if data["flag"]:
            pairs = pairs.filter(_flag_matches(data["flag"]))
        if data["rollout"]:
            pairs = pairs.filter(rollout=data["rollout"])
        if data["flagged"]:
            pairs = pairs.filter(flagged=data["flagged"] == "yes")
        if data["similarity_min"] is not None:
            pairs = pairs.filter(similarity__gte=data["similarity_min"])
        if data["similarity_max"] is not None:
            pairs = pairs.filter(similarity__lte=data["similarity_max"])
        labels = Label.objects.filter(pair=OuterRef("pk"))
        if data["verdict"]:
            labels = labels.filter(verdict=data["verdict"])
            if not self.sees_all:
                labels = labels.filter(
                    Q(pair__rollout__blinded=False)
                    | Exists(Label.objects.filter(pair=OuterRef("pair"), reviewer=self.viewer))
                )
        if data["dimension"]:
            # The JSON list as text contains the quoted name: works on SQLite and PostgreSQL.
            labels = labels.filter(dimensions__icontains=f'"{data["dimension"]}"')
        if data["reviewer"]:
            labels = labels.filter(reviewer__username=data["reviewer"])
        if data["verdict"] or data["dimension"] or data["reviewer"]:
            pairs = pairs.filter(Exists(labels))
        if data["q"]:
            text = data["q"]
            pairs = pairs.filter(
                Q(baseline_output__icontains=text) | Q(candidate_output__icontains=text)
            )
        if data["before"]:
            pairs = pairs.filter(id__lt=data["before"])
        return pairs
