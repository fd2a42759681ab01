"""Blinding holds everywhere (issue 8): on a blinded rollout a reviewer sees A/B, never
baseline/candidate, on the pair list, the pair page and the flags until they have labelled the
pair; release managers and admins see the truth."""

import re

import pytest

from comparisons.models import ShadowPair
from comparisons.services import review
from tests.conftest import _make_user

MODEL_IDS = ("gpt-4o-2024-05-13", "gpt-4o-2024-11-20")
CONFIG_NAMES = ("support v1", "support v2")


def _leaks(html: str) -> list[str]:
    words = ["baseline", "candidate", *MODEL_IDS, *CONFIG_NAMES]
    return [w for w in words if w in html.lower()]


def _side_text(html: str, name: str) -> str:
    """The text of output section A or B on a pair page."""
    section = html.split(f'aria-label="Output {name}"', 1)[1].split("</section>", 1)[0]
    return re.sub(r"<[^>]+>", "", section)


@pytest.fixture
def refusing(make_pair):
    return make_pair(
        baseline="Your parcel left the depot this morning.",
        candidate="I\u2019m sorry, but I can\u2019t help with that.",
    )


def test_the_pair_page_names_no_side_before_my_label(client_for, refusing, cast):
    client = client_for("reviewer")
    html = client.get(f"/pairs/{refusing.code}/").content.decode()
    assert _leaks(html) == []
    names = review.side_names(refusing, cast["reviewer"])
    # The candidate's output sits under the name this reviewer's order gives it.
    assert "can\u2019t help" in _side_text(html, names["candidate"])
    assert "depot" in _side_text(html, names["baseline"])


def test_after_my_label_the_pair_page_tells_the_truth(client_for, refusing, cast):
    review.label_save(pair=refusing, reviewer=cast["reviewer"], data=review.LabelInput("same"))
    html = client_for("reviewer").get(f"/pairs/{refusing.code}/").content.decode()
    assert "candidate" in html and "gpt-4o-2024-11-20" in html


def test_flags_read_in_the_reviewers_a_b_terms(client_for, refusing, cast):
    assert refusing.flags  # a refusal on one side only
    html = client_for("reviewer").get(f"/pairs/{refusing.code}/").content.decode()
    refuser = review.side_names(refusing, cast["reviewer"])["candidate"]
    badges = re.findall(r'class="badge warning flag">([^<]*)<', html)
    assert f"{refuser} refused" in badges
    assert not any("refusal" in b or "candidate" in b for b in badges)


def test_latency_shows_per_side_not_as_a_signed_delta(client_for, make_pair, cast):
    pair = make_pair(candidate="Monday is when the parcel ships.")
    html = client_for("reviewer").get(f"/pairs/{pair.code}/").content.decode()
    assert "Δ" not in html and "20.0" not in html
    names = review.side_names(pair, cast["reviewer"])
    assert "120 ms" in _side_text(html, names["candidate"])
    assert "100 ms" in _side_text(html, names["baseline"])


def test_json_key_changes_name_sides_by_a_b(client_for, make_pair, cast):
    pair = make_pair(baseline='{"intent": "bug"}', candidate='{"intent": "bug", "mood": "sad"}')
    html = client_for("reviewer").get(f"/pairs/{pair.code}/").content.decode()
    names = review.side_names(pair, cast["reviewer"])
    assert f"only in {names['candidate']}" in html and "keys added" not in html


@pytest.mark.parametrize("who", ["release", "admin"])
def test_release_managers_and_admins_see_the_truth(client_for, refusing, who):
    client = client_for(who)
    page = client.get(f"/pairs/{refusing.code}/").content.decode()
    assert "candidate refused" in page and "gpt-4o-2024-11-20" in page and "Δ" in page
    listing = client.get("/pairs/").content.decode()
    assert "<th>Baseline</th><th>Candidate</th>" in listing


def test_the_pair_list_shows_a_blinded_reviewer_a_and_b_in_their_order(client_for, refusing, cast):
    response = client_for("reviewer").get("/pairs/")
    html = response.content.decode()
    results = html.split('id="results"', 1)[1]
    assert _leaks(results) == []
    assert "<th>A</th><th>B</th>" in results
    names = review.side_names(refusing, cast["reviewer"])
    row = results.split(f'data-pair="{refusing.code}"', 1)[1].split("</tr>", 1)[0]
    candidate_cell = row.split(f'data-side="{names["candidate"]}">', 1)[1].split("</td>", 1)[0]
    assert "can\u2019t help" in candidate_cell
    assert f"{names['candidate']} refused" in row


def test_other_reviewers_labels_stay_hidden_until_i_label(client_for, refusing, cast):
    other = _make_user("reviewer2", "Reviewer")
    review.label_save(
        pair=refusing, reviewer=other, data=review.LabelInput("both_bad", comment="B is rude")
    )
    html = client_for("reviewer").get(f"/pairs/{refusing.code}/").content.decode()
    assert "B is rude" not in html and "1 label by other reviewers" in html


def test_the_label_form_shows_only_where_a_label_is_wanted(client_for, make_pair, cast):
    unqueued = make_pair()
    ShadowPair.objects.filter(pk=unqueued.pk).update(queued=False)
    full = make_pair()
    review.label_save(
        pair=full, reviewer=_make_user("reviewer2", "Reviewer"), data=review.LabelInput("same")
    )
    wanted = make_pair()
    client = client_for("reviewer")
    for pair, shown in ((unqueued, False), (full, False), (wanted, True)):
        html = client.get(f"/pairs/{pair.code}/").content.decode()
        assert ("Label this pair" in html) is shown, pair
    # A hand-made POST is held to the same rule.
    refused = client.post(f"/review/{unqueued.code}/label/", {"choice": "same"})
    assert refused.status_code == 403
    assert not unqueued.labels.exists()
    # My own label stays editable whatever the queue says.
    review.label_save(pair=unqueued, reviewer=cast["reviewer"], data=review.LabelInput("same"))
    assert "Edit my label" in client.get(f"/pairs/{unqueued.code}/").content.decode()


def test_a_verdict_filter_does_not_reveal_sides_to_a_blinded_reviewer(client_for, refusing):
    other = _make_user("reviewer2", "Reviewer")
    review.label_save(pair=refusing, reviewer=other, data=review.LabelInput("left"))
    verdict = refusing.labels.get().verdict
    # "Candidate worse" on a pair I have not labelled would tell me which side is which.
    mine = client_for("reviewer").get("/pairs/", {"verdict": verdict}).context["pairs"]
    assert refusing not in mine
    assert refusing in client_for("release").get("/pairs/", {"verdict": verdict}).context["pairs"]


def test_a_reviewer_filters_flags_by_kind_not_by_side(client_for, refusing, make_pair):
    make_pair()
    client = client_for("reviewer")
    html = client.get("/pairs/").content.decode()
    assert "refusal:candidate" not in html
    assert list(client.get("/pairs/", {"flag": "refusal"}).context["pairs"]) == [refusing]
    by_side = client.get("/pairs/", {"flag": "refusal:candidate"})
    assert "flag" in by_side.context["form"].errors
    # Release managers may ask for one side.
    manager = client_for("release")
    assert list(manager.get("/pairs/", {"flag": "refusal:candidate"}).context["pairs"]) == [
        refusing
    ]
    assert list(manager.get("/pairs/", {"flag": "refusal:baseline"}).context["pairs"]) == []


def test_an_old_stored_flag_name_filters_and_reads_blinded(client_for, make_pair, cast):
    pair = make_pair(candidate="Totally different.")
    ShadowPair.objects.filter(pk=pair.pk).update(flags=["candidate_refusal"], flagged=True)
    client = client_for("reviewer")
    assert list(client.get("/pairs/", {"flag": "refusal"}).context["pairs"]) == [pair]
    html = client.get(f"/pairs/{pair.code}/").content.decode()
    assert "candidate_refusal" not in html and _leaks(html) == []


def test_an_unblinded_rollout_shows_the_roles_to_reviewers(client_for, refusing):
    refusing.rollout.blinded = False
    refusing.rollout.save(update_fields=["blinded"])
    html = client_for("reviewer").get(f"/pairs/{refusing.code}/").content.decode()
    assert "candidate refused" in html and "gpt-4o-2024-11-20" in html
