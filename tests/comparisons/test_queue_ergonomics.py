"""Queue ergonomics (issue 8): a queue per rollout, progress with an estimate, identical pairs
labelled once, and my recent labels."""

from datetime import timedelta

import pytest
from django.utils import timezone

from comparisons.models import Label, ShadowPair
from comparisons.services import review
from comparisons.services.scoring import score_pair
from registry.models import RequestLog
from registry.services import registry
from registry.services.audit import db_now
from rollouts.services import rollouts
from tests.gates import pass_gate


@pytest.fixture
def reviewer(cast):
    return cast["reviewer"]


@pytest.fixture
def second_rollout(make_config, make_version):
    served = make_config("summary v1", make_version("gpt-4o-2024-05-13"))
    feature = registry.feature_create(
        key="summarize-ticket", name="Summarize ticket", served_config=served, actor=None
    )
    candidate = make_config("summary v2", make_version("gpt-4o-2024-11-20"))
    rollout = rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)
    pass_gate(rollout)
    return rollouts.rollout_start_shadow(rollout=rollout, actor=None)


def _pair_in(rollout, n: int, text: str = "A summary.") -> ShadowPair:
    log = RequestLog.objects.create(
        feature=rollout.feature,
        request_id=f"sum-{n}",
        source="ingest",
        config=rollout.baseline,
        variant="baseline",
        rollout=rollout,
        messages=[{"role": "user", "content": "Summarize"}],
        output=text,
        started=db_now(),
    )
    pair = ShadowPair(
        rollout=rollout,
        request=log,
        request_key=log.request_id,
        messages=log.messages,
        baseline_config=rollout.baseline,
        candidate_config=rollout.candidate,
        served_variant="baseline",
        baseline_output=text,
        candidate_output=text,
    )
    score_pair(pair, similarity_below=0.5, review_sample_bp=10_000, double_review_bp=0)
    pair.save()
    return pair


def test_the_queue_can_be_narrowed_to_one_rollout(client_for, make_pair, second_rollout):
    support = make_pair()
    summary = _pair_in(second_rollout, 1)
    client = client_for("reviewer")
    assert client.get("/review/").context["pair"] == support
    narrowed = client.get("/review/", {"rollout": str(second_rollout.code)})
    assert narrowed.context["pair"] == summary
    html = narrowed.content.decode()
    assert f'name="rollout" value="{second_rollout.code}"' in html  # the forms keep the choice
    progress = client.get("/review/progress/", {"rollout": str(second_rollout.code)})
    assert "1 pair to label in summarize-ticket" in progress.content.decode()
    # Labelling without JavaScript comes back to the same rollout's queue.
    done = client.post(
        f"/review/{summary.code}/label/", {"choice": "same", "rollout": str(second_rollout.code)}
    )
    assert f"rollout={second_rollout.code}" in done["Location"]
    assert client.get(done["Location"]).context.get("pair") is None


def test_an_unknown_rollout_says_so_and_shows_all(client_for, make_pair):
    pair = make_pair()
    response = client_for("reviewer").get("/review/", {"rollout": "not-a-rollout"})
    assert response.status_code == 200 and response.context["pair"] == pair
    assert "Showing all rollouts." in response.content.decode()


def test_the_rollout_picker_names_no_model(client_for, make_pair):
    make_pair()
    html = client_for("reviewer").get("/review/").content.decode()
    picker = html.split('class="row queue-picker"', 1)[1].split("</form>", 1)[0]
    assert "support-reply" in picker
    assert "gpt-4o" not in picker and "support v" not in picker


def test_identical_pairs_are_labelled_once(client_for, make_pair, reviewer):
    same = [make_pair(candidate="The parcel ships Monday.") for _ in range(3)]
    other = make_pair(candidate="The parcel ships Monday.", user_text="And my refund?")
    assert len({p.group_key for p in same}) == 1 and other.group_key != same[0].group_key
    client = client_for("reviewer")
    page = client.get("/review/")
    assert page.context["pair"] == same[0]
    assert "your label also covers 2 identical pairs" in page.content.decode()
    assert "2 pairs to label" in client.get("/review/progress/").content.decode()
    saved = client.post(
        f"/review/{same[0].code}/label/", {"choice": "left"}, headers={"HX-Request": "true"}
    )
    html = saved.content.decode()
    assert "This label also covers 2 identical pairs." in html
    assert str(other.code) in html  # the next pair is the different one
    labels = Label.objects.filter(reviewer=reviewer)
    assert labels.count() == 3 and len({label.verdict for label in labels}) == 1
    assert all(p.label_count == 1 for p in ShadowPair.objects.filter(pk__in=[p.pk for p in same]))
    pair_page = client.get(f"/pairs/{same[0].code}/").content.decode()
    assert "This label also covers 2 identical pairs." in pair_page
    # An edit follows to the copies; undo takes them back.
    client.post(f"/review/{same[0].code}/label/", {"choice": "both_bad", "return": "pair"})
    assert set(labels.values_list("verdict", flat=True)) == {"both_bad"}
    assert review.label_undo(reviewer=reviewer) == same[0]
    assert not Label.objects.exists()
    assert {p.label_count for p in ShadowPair.objects.filter(pk__in=[p.pk for p in same])} == {0}


def test_a_label_does_not_cover_identical_pairs_of_another_rollout_or_unqueued_ones(
    make_pair, second_rollout, reviewer
):
    pair = make_pair(candidate="Same words.", baseline="Same words.")
    elsewhere = _pair_in(second_rollout, 2, "Same words.")
    elsewhere.messages = pair.messages
    elsewhere.save()
    unqueued = make_pair(candidate="Same words.", baseline="Same words.")
    ShadowPair.objects.filter(pk=unqueued.pk).update(queued=False)
    review.label_save(pair=pair, reviewer=reviewer, data=review.LabelInput("same"))
    assert list(Label.objects.values_list("pair_id", flat=True)) == [pair.pk]


def test_the_estimate_follows_my_recent_pace():
    start = timezone.now()
    times = [start + timedelta(seconds=30 * i) for i in range(5)]
    times.append(times[-1] + timedelta(hours=2))  # a lunch break is not reviewing time
    assert review.estimate_from(times, remaining=10) == timedelta(minutes=5)
    assert review.estimate_from(times[:3], remaining=10) is None  # too few to say


def test_the_progress_line_gives_an_estimate(client_for, make_pair, reviewer):
    done = [make_pair(candidate=f"Answer {n}.") for n in range(5)]
    for pair in done:
        review.label_save(pair=pair, reviewer=reviewer, data=review.LabelInput("same"))
    start = db_now() - timedelta(minutes=10)
    for i, label in enumerate(Label.objects.order_by("id")):
        Label.objects.filter(pk=label.pk).update(created=start + timedelta(minutes=i))
    for n in range(6):
        make_pair(candidate=f"New answer {n}.")
    html = client_for("reviewer").get("/review/progress/").content.decode()
    assert "6 pairs to label" in html and "about 6 min at your recent pace" in html


def test_my_recent_labels_link_to_their_pairs(client_for, make_pair, reviewer):
    first, second = make_pair(), make_pair(candidate="Other.")
    review.label_save(pair=first, reviewer=reviewer, data=review.LabelInput("same"))
    review.label_save(pair=second, reviewer=reviewer, data=review.LabelInput("both_bad"))
    html = client_for("reviewer").get("/review/recent/").content.decode()
    assert html.index(f"/pairs/{second.code}/") < html.index(f"/pairs/{first.code}/")
    assert "Both bad" in html
    assert client_for("release").get("/review/recent/").status_code == 403


def test_a_label_covering_identical_pairs_counts_once_in_the_statistics(
    client_for, make_pair, reviewer
):
    from comparisons.services.stats import rollout_review_stats

    same = [make_pair(candidate="The parcel ships Monday.") for _ in range(3)]
    other = make_pair(candidate="It ships today.", user_text="And my refund?")
    client = client_for("reviewer")
    client.get("/review/")
    client.post(f"/review/{same[0].code}/label/", {"choice": "left"})
    client.get("/review/")
    client.post(f"/review/{other.code}/label/", {"choice": "same"})
    assert Label.objects.filter(reviewer=reviewer).count() == 4  # 2 judgements, 2 copies
    stats = rollout_review_stats(same[0].rollout)
    # Two judgements the reviewer made, not four: copies would inflate n and narrow intervals.
    assert stats.labels == 2 and stats.pairs_with_verdict == 2
    assert sum(rate.count for rate in stats.verdicts.values()) == 2
