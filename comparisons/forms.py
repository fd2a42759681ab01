from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from comparisons.models import Label, ShadowPair
from registry.models import Rollout


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
    before = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def apply(self, pairs: QuerySet[ShadowPair]) -> QuerySet[ShadowPair]:
        data = self.cleaned_data
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
