import pytest

from comparisons.services import review


@pytest.fixture
def labelled(make_pair, cast):
    calm = make_pair()
    json_break = make_pair(
        baseline='{"intent": "bug"}', candidate='```json\n{"intent": "bug"}\n```'
    )
    # Flagged for its length (issue 8: a merely dissimilar free-text answer is not flagged).
    chatty = make_pair(candidate="Ooh what a lovely question, let me tell you everything! " * 3)
    review.label_save(
        pair=json_break, reviewer=cast["reviewer"], data=review.LabelInput("both_bad", ("format",))
    )
    return calm, json_break, chatty


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"calm", "json_break", "chatty"}),
        ({"flagged": "yes"}, {"json_break", "chatty"}),
        ({"flagged": "no"}, {"calm"}),
        ({"verdict": "both_bad"}, {"json_break"}),
        ({"dimension": "format"}, {"json_break"}),
        ({"dimension": "tone"}, set()),
        ({"reviewer": "reviewer"}, {"json_break"}),
        ({"q": "lovely"}, {"chatty"}),
        ({"similarity_min": "0.99"}, {"calm"}),
        ({"similarity_max": "0.5"}, {"chatty"}),
        ({"similarity_max": "0.7", "similarity_min": "0.6"}, {"json_break"}),
    ],
)
def test_the_filters(client_for, labelled, query, expected):
    names = dict(zip(("calm", "json_break", "chatty"), labelled, strict=True))
    response = client_for("release").get("/pairs/", query)
    got = {name for name, p in names.items() if p in response.context["pairs"]}
    assert got == expected


def test_a_bad_filter_value_is_named_and_ignored(client_for, labelled):
    response = client_for("reviewer").get("/pairs/", {"similarity_min": "lots"})
    assert response.status_code == 200
    assert "similarity_min" in response.content.decode()
    assert len(response.context["pairs"]) == 3


def test_keyset_pages(client_for, make_pair, django_assert_max_num_queries):
    made = [make_pair() for _ in range(55)]
    client = client_for("reviewer")
    first = client.get("/pairs/")
    assert [p.pk for p in first.context["pairs"]] == [p.pk for p in reversed(made)][:50]
    with django_assert_max_num_queries(5):
        second = client.get("/pairs/", {"before": first.context["next_before"]})
    assert [p.pk for p in second.context["pairs"]] == [p.pk for p in reversed(made)][50:]
    assert second.context["next_before"] is None


def test_viewers_may_not_list_pairs(client_for, labelled):
    assert client_for("viewer").get("/pairs/").status_code == 403
