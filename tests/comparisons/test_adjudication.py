"""The adjudication queue: a third person (Reviewer or Release manager, never one of the pair's
labellers) records the final verdict of a disagreement, audited; the verdict counts; of two
adjudicators at once, one wins and the other is told who."""

import itertools
import threading

import pytest
from django.db import connection

from comparisons.models import Adjudication
from comparisons.services import adjudication, review
from comparisons.services.stats import rollout_review_stats
from registry.errors import Conflict, DomainError
from registry.models import AuditEvent
from registry.roles import Role
from tests.conftest import _make_user

_inputs = itertools.count(1)


def distinct(make_pair, **kwargs):
    """A pair with an input of its own: identical pairs share their labels (review grouping)."""
    return make_pair(user_text=f"Where is my parcel {next(_inputs)}?", **kwargs)


def label(pair, user, verdict: str) -> None:
    if verdict in ("better", "worse"):
        candidate_left = review.candidate_on_left(pair, user)
        choice = "left" if (verdict == "better") == candidate_left else "right"
    else:
        choice = verdict
    review.label_save(pair=pair, reviewer=user, data=review.LabelInput(choice))


def choice_for(pair, user, verdict: str) -> str:
    if verdict not in ("better", "worse"):
        return verdict
    candidate_left = review.candidate_on_left(pair, user)
    return "left" if (verdict == "better") == candidate_left else "right"


@pytest.fixture
def split(make_pair, cast):
    """A pair the cast's reviewer called better and a second reviewer called worse."""
    pair = distinct(make_pair, candidate="Another answer.", labels_wanted=2)
    label(pair, cast["reviewer"], "better")
    label(pair, _make_user("labeller2", Role.REVIEWER), "worse")
    return pair


@pytest.fixture
def third(db):
    return _make_user("third", Role.REVIEWER)


def _post(client, pair, choice: str, note: str = "The candidate dropped the order number."):
    return client.post(f"/review/adjudicate/{pair.code}/", {"choice": choice, "note": note})


def test_a_third_reviewer_sees_the_pair_and_both_labels(client, split, third):
    client.force_login(third)
    response = client.get("/review/adjudicate/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Another answer." in html and "labeller2" in html and "reviewer" in html
    # Blinded rollout, a reviewer: the labels read as A/B, not candidate/baseline.
    assert "A better" in html and "B better" in html
    assert "Candidate better" not in html and "candidate worse" not in html
    assert f"/review/adjudicate/{split.code}/" in html


def test_the_adjudicated_verdict_counts_and_is_audited(client, split, third):
    client.force_login(third)
    assert rollout_review_stats(split.rollout).disagreements == 1

    response = _post(client, split, choice_for(split, third, "worse"))

    assert response.status_code == 302
    decided = Adjudication.objects.get(pair=split)
    assert (decided.adjudicator, decided.verdict) == (third, "worse")
    stats = rollout_review_stats(split.rollout)
    assert stats.disagreements == 0 and stats.verdicts["worse"].count == 1
    event = AuditEvent.objects.get(action="adjudication.create")
    assert event.actor == third and event.reason == "The candidate dropped the order number."
    assert event.after["verdict"] == "worse" and event.feature_key == "support-reply"
    # Settled: it leaves the queue.
    page = client.get("/review/adjudicate/", follow=True).content.decode()
    assert "Recorded: candidate worse." in page and "Nothing waits for you" in page


@pytest.mark.parametrize("who", ["reviewer", "release", "admin"])
def test_reviewers_and_release_managers_may_adjudicate(client_for, split, cast, who):
    client = client_for(who)
    if who == "reviewer":  # the cast's reviewer labelled the pair: use a fresh one
        client.force_login(_make_user("fresh", Role.REVIEWER))
    response = _post(client, split, "same")
    assert response.status_code == 302
    assert Adjudication.objects.filter(pair=split).exists()


def test_the_original_labellers_are_refused(client_for, split, cast):
    client = client_for("reviewer")
    assert client.get(f"/review/adjudicate/{split.code}/").status_code == 403
    assert _post(client, split, "same").status_code == 403
    assert not Adjudication.objects.exists()
    # And their own disagreements are not offered to them.
    assert (
        f"/review/adjudicate/{split.code}/"
        not in client.get("/review/adjudicate/").content.decode()
    )


def test_a_release_manager_who_labelled_the_pair_is_refused_too(client, split):
    both = _make_user("both", Role.RELEASE_MANAGER)
    both.groups.add(*_make_user("x", Role.REVIEWER).groups.all())
    label(split, both, "same")
    client.force_login(both)
    assert _post(client, split, "worse").status_code == 403
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize("who", ["viewer", None])
def test_viewers_and_strangers_are_refused(client_for, split, who):
    client = client_for(who)
    for response in (client.get("/review/adjudicate/"), _post(client, split, "same")):
        assert response.status_code in (302, 403)  # 302: to the sign-in page
        if who:
            assert response.status_code == 403
    assert not Adjudication.objects.exists()


def test_a_verdict_without_a_note_or_choice_is_refused_with_the_field(client, split, third):
    client.force_login(third)
    response = _post(client, split, "same", note="  ")
    assert response.status_code == 422
    assert "the note is required" in response.content.decode()
    response = _post(client, split, "", note="why")
    assert response.status_code == 422 and "Choose 1 left better" in response.content.decode()
    assert not Adjudication.objects.exists()


def test_the_second_adjudicator_is_told_who_was_first(client_for, split, cast, third):
    first = client_for("release")
    assert _post(first, split, choice_for(split, cast["release"], "worse")).status_code == 302
    second = client_for(None)
    second.force_login(third)  # had the page open from before

    response = _post(second, split, "same", note="I think they are the same")

    page = second.get(response["Location"]).content.decode()
    assert "release adjudicated this pair first (candidate worse" in page
    assert "your verdict was not recorded" in page
    assert Adjudication.objects.get(pair=split).verdict == "worse"


def test_a_pair_whose_labels_agree_now_has_nothing_to_adjudicate(split, third, cast):
    label(split, cast["reviewer"], "worse")  # edited: both say worse now
    with pytest.raises(DomainError, match="nothing to adjudicate"):
        adjudication.adjudication_record(pair=split, adjudicator=third, choice="same", note="n")
    assert not adjudication.awaiting_adjudication().filter(pk=split.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_adjudicators_at_once_one_wins(make_pair, cast):
    """Two real transactions on PostgreSQL at the same moment: exactly one adjudication, and
    the other adjudicator gets the Conflict naming the winner."""
    pair = distinct(make_pair, candidate="Another answer.", labels_wanted=2)
    label(pair, cast["reviewer"], "better")
    label(pair, _make_user("labeller2", Role.REVIEWER), "worse")
    people = [_make_user("adj1", Role.REVIEWER), _make_user("adj2", Role.RELEASE_MANAGER)]
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def adjudicate(person) -> None:
        try:
            barrier.wait(timeout=10)
            adjudication.adjudication_record(
                pair=pair, adjudicator=person, choice="same", note=f"by {person.username}"
            )
            results[person.username] = "won"
        except Conflict as exc:
            results[person.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=adjudicate, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert list(results.values()).count("won") == 1
    winner = next(name for name, r in results.items() if r == "won")
    loser = next(name for name, r in results.items() if r != "won")
    assert results[loser].startswith(f"{winner} adjudicated this pair first")
    assert Adjudication.objects.filter(pair=pair).count() == 1
    assert AuditEvent.objects.filter(action="adjudication.create").count() == 1
