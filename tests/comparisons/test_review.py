"""The review queue and labels: services and pages, with the permission matrix."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from comparisons.models import Label, Reservation
from comparisons.services import review
from registry.models import AuditEvent

LabelInput = review.LabelInput


@pytest.fixture
def reviewer(cast):
    return cast["reviewer"]


@pytest.fixture
def second_reviewer(cast):
    from registry.roles import Role
    from tests.conftest import _make_user

    return _make_user("reviewer2", Role.REVIEWER)


def test_flagged_pairs_come_first_then_oldest(make_pair, reviewer):
    plain = make_pair()
    flagged = make_pair(candidate='{"oops": true}', baseline="A normal sentence here.")
    assert flagged.flagged and not plain.flagged
    assert review.next_pair_for(reviewer) == flagged
    assert review.next_pair_for(reviewer, skip=(flagged.pk,)) == plain


def test_a_reserved_pair_is_not_handed_to_a_second_reviewer(make_pair, reviewer, second_reviewer):
    pair = make_pair()
    assert review.next_pair_for(reviewer) == pair
    assert review.next_pair_for(second_reviewer) is None
    # The reservation expires after a few minutes.
    Reservation.objects.update(expires=review.db_now() - timedelta(seconds=1))
    assert review.next_pair_for(second_reviewer) == pair


def test_a_pair_that_wants_two_labels_goes_to_two_reviewers(make_pair, reviewer, second_reviewer):
    pair = make_pair(labels_wanted=2)
    assert review.next_pair_for(reviewer) == pair
    assert review.next_pair_for(second_reviewer) == pair
    review.label_save(pair=pair, reviewer=reviewer, data=LabelInput("same"))
    review.label_save(pair=pair, reviewer=second_reviewer, data=LabelInput("same"))
    pair.refresh_from_db()
    assert pair.label_count == 2
    assert review.next_pair_for(reviewer) is None


def test_a_labelled_pair_leaves_my_queue(make_pair, reviewer):
    pair = make_pair()
    review.label_save(pair=pair, reviewer=reviewer, data=LabelInput("same"))
    assert review.next_pair_for(reviewer) is None
    assert not Reservation.objects.exists()


def test_the_label_is_stored_in_candidate_terms_whatever_the_side(make_pair, reviewer, monkeypatch):
    pair = make_pair()
    for candidate_left, choice, verdict in [
        (True, "left", "better"),
        (True, "right", "worse"),
        (False, "left", "worse"),
        (False, "right", "better"),
        (True, "both_bad", "both_bad"),
    ]:
        monkeypatch.setattr(review, "candidate_on_left", lambda p, r, v=candidate_left: v)
        label = review.label_save(pair=pair, reviewer=reviewer, data=LabelInput(choice))
        assert label.verdict == verdict


def test_blinding_shuffles_sides_per_pair_and_reviewer(make_pair, reviewer, second_reviewer):
    pairs = [make_pair() for _ in range(40)]
    mine = [review.candidate_on_left(p, reviewer) for p in pairs]
    theirs = [review.candidate_on_left(p, second_reviewer) for p in pairs]
    assert 8 < sum(mine) < 32  # both orders occur
    assert mine != theirs
    assert mine == [review.candidate_on_left(p, reviewer) for p in pairs]  # stable
    pairs[0].rollout.blinded = False
    assert review.candidate_on_left(pairs[0], reviewer) is False


def test_editing_a_label_keeps_its_history(make_pair, reviewer):
    pair = make_pair()
    review.label_save(pair=pair, reviewer=reviewer, data=LabelInput("same"))
    review.label_save(
        pair=pair,
        reviewer=reviewer,
        data=LabelInput("both_bad", ("tone",), critical=True, comment="rude"),
    )
    label = Label.objects.get()
    assert (label.verdict, label.dimensions, label.critical) == ("both_bad", ["tone"], True)
    events = list(AuditEvent.objects.filter(action__startswith="label.").order_by("id"))
    assert [e.action for e in events] == ["label.create", "label.update"]
    assert events[1].before["verdict"] == "same" and events[1].after["verdict"] == "both_bad"
    pair.refresh_from_db()
    assert pair.label_count == 1


def test_undo_removes_my_last_label_and_gives_the_pair_back(make_pair, reviewer):
    first, second = make_pair(), make_pair()
    review.label_save(pair=first, reviewer=reviewer, data=LabelInput("same"))
    review.label_save(pair=second, reviewer=reviewer, data=LabelInput("left"))
    assert review.label_undo(reviewer=reviewer) == second
    assert list(Label.objects.values_list("pair_id", flat=True)) == [first.pk]
    second.refresh_from_db()
    assert second.label_count == 0
    assert review.next_pair_for(reviewer) == second


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (LabelInput("maybe"), "verdict"),
        (LabelInput("same", ("colour",)), "dimensions"),
        (LabelInput("same", comment="x" * 5001), "comment"),
    ],
)
def test_a_bad_label_names_the_field_and_writes_nothing(make_pair, reviewer, data, field):
    pair = make_pair()
    with pytest.raises(ValidationError) as info:
        review.label_save(pair=pair, reviewer=reviewer, data=data)
    assert field in info.value.message_dict
    assert not Label.objects.exists()


# --- pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("viewer", 403), ("release", 403), ("reviewer", 200), ("admin", 200)]
)
def test_only_reviewers_use_the_queue(client_for, make_pair, who, status):
    make_pair()
    assert client_for(who).get("/review/").status_code == status


def test_anonymous_visitors_sign_in_first(client, make_pair):
    assert client.get("/review/")["Location"].startswith("/login/")


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("reviewer", 200), ("release", 200)])
def test_pair_pages_are_for_reviewers_and_release_managers(client_for, make_pair, who, status):
    pair = make_pair()
    assert client_for(who).get(f"/pairs/{pair.code}/").status_code == status


def test_labelling_without_javascript(client_for, make_pair):
    first, second = make_pair(), make_pair(user_text="And my refund?")  # not identical
    client = client_for("reviewer")
    page = client.get("/review/")
    assert page.context["pair"] == first
    done = client.post(f"/review/{first.code}/label/", {"choice": "same", "dimensions": ["tone"]})
    assert done.status_code == 302 and f"saved={first.code}" in done["Location"]
    follow = client.get(done["Location"])
    assert follow.context["pair"] == second
    assert follow.context["revealed"]["label"].verdict == "same"


def test_labelling_with_htmx_swaps_in_the_next_pair(client_for, make_pair):
    first, second = make_pair(), make_pair(user_text="And my refund?")  # not identical
    client = client_for("reviewer")
    client.get("/review/")
    response = client.post(
        f"/review/{first.code}/label/", {"choice": "left"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="review-panel"' in html
    assert str(second.code) in html and "Saved:" in html
    assert "labelSaved" in response["HX-Trigger"]


def test_a_bad_label_shows_the_error_and_keeps_the_pair(client_for, make_pair):
    pair = make_pair()
    client = client_for("reviewer")
    response = client.post(f"/review/{pair.code}/label/", {"choice": "nope"})
    assert response.status_code == 200
    assert "Choose 1 left better" in response.content.decode()
    assert not Label.objects.exists()


def test_skip_and_undo_from_the_page(client_for, make_pair):
    first, second = make_pair(), make_pair()
    client = client_for("reviewer")
    client.get("/review/")
    client.post(f"/review/{first.code}/skip/")
    assert client.get("/review/").context["pair"] == second
    client.post(f"/review/{second.code}/label/", {"choice": "same"})
    undone = client.post("/review/undo/")
    assert undone.context["pair"] == second and undone.context["undone"]


def test_outputs_and_inputs_are_escaped(client_for, make_pair):
    make_pair(
        baseline="<script>alert(1)</script>",
        candidate='<img src=x onerror="alert(2)">',
        user_text="&lt;b&gt; <b>bold</b>",
    )
    html = client_for("reviewer").get("/review/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&amp;lt;b&amp;gt;" in html


def test_the_queue_page_runs_a_fixed_number_of_queries(
    client_for, make_pair, django_assert_max_num_queries
):
    for _ in range(5):
        make_pair()
    client = client_for("reviewer")
    client.get("/review/")
    # Session, user and roles, the next pair, its reservation, the rollout picker's options:
    # the count and the recent labels load separately.
    with django_assert_max_num_queries(6):
        client.get("/review/")
    pair = review.next_pair_for(client_for("reviewer").get("/review/").wsgi_request.user)
    with django_assert_max_num_queries(5):
        client.get(f"/pairs/{pair.code}/")


def test_the_progress_fragment_counts_what_waits(client_for, make_pair):
    for n in range(3):
        make_pair(candidate=f"Answer {n}.")  # identical pairs would count once
    client = client_for("reviewer")
    first = client.get("/review/").context["pair"]
    client.post(f"/review/{first.code}/label/", {"choice": "same"})
    html = client.get("/review/progress/").content.decode()
    assert "2 pairs to label" in html and "1 labelled today" in html


def test_a_reviewer_edits_a_label_from_the_pair_page(client_for, make_pair, cast):
    pair = make_pair()
    review.label_save(pair=pair, reviewer=cast["reviewer"], data=LabelInput("same"))
    client = client_for("reviewer")
    page = client.get(f"/pairs/{pair.code}/")
    assert page.context["my_choice"] == "same" and "Edit my label" in page.content.decode()
    done = client.post(
        f"/review/{pair.code}/label/",
        {"choice": "both_bad", "dimensions": ["safety"], "return": "pair"},
    )
    assert done["Location"] == f"/pairs/{pair.code}/"
    label = Label.objects.get()
    assert (label.verdict, label.dimensions) == ("both_bad", ["safety"])
    assert AuditEvent.objects.filter(action="label.update").count() == 1
    # Release managers read labels but do not label.
    assert "Edit my label" not in client_for("release").get(f"/pairs/{pair.code}/").content.decode()


def test_the_input_shows_its_template_variables(client_for, make_pair):
    pair = make_pair()
    pair.request.variables = {"company": "Acme <Ltd>"}
    pair.request.save()
    html = client_for("reviewer").get("/review/").content.decode()
    assert "company=Acme &lt;Ltd&gt;" in html


def test_the_pair_page_title_is_plain_text(client_for, make_pair):
    pair = make_pair()
    html = client_for("reviewer").get(f"/pairs/{pair.code}/").content.decode()
    title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.strip() == "Pair · Rollout Desk"
    assert html.count('name="return"') == 1


def test_a_bad_label_sent_by_htmx_comes_back_as_a_visible_fragment(client_for, make_pair):
    pair = make_pair()
    response = client_for("reviewer").post(
        f"/review/{pair.code}/label/", {"choice": "nope"}, headers={"HX-Request": "true"}
    )
    # htmx swaps only 2xx responses: an error status would leave the reviewer with no message.
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "Choose 1 left better" in html
