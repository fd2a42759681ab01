from comparisons.diffing import word_diff


def _text(segments):
    return "".join(s.text for s in segments)


def test_the_diff_keeps_each_text_whole_and_marks_changed_words():
    left, right = "The parcel ships on Monday.", "The parcel ships on Friday, hooray."
    a, b = word_diff(left, right)
    assert _text(a) == left and _text(b) == right
    assert [s.text for s in a if s.kind == "del"] == ["Monday."]
    assert "".join(s.text for s in b if s.kind == "ins").split() == ["Friday,", "hooray."]


def test_identical_texts_have_no_changes():
    a, b = word_diff("same words", "same words")
    assert {s.kind for s in a + b} == {"same"}


# --- choosing the granularity (issue 8) ---------------------------------------------------

from comparisons.diffing import MAX_WORDS, Mode, diff_note, pair_diff  # noqa: E402
from tests.comparisons.rewrite_pairs import CLOSE_NEW, CLOSE_OLD, REWRITES  # noqa: E402


def _marked(text, marks):
    return [text[s:e] for s, e in marks]


def _word_share(segments):
    marked = sum(len(s.text.split()) for s in segments if s.kind != "same")
    return marked / sum(len(s.text.split()) for s in segments)


def test_close_answers_get_a_word_diff_of_just_the_changed_words():
    diff = pair_diff(CLOSE_OLD, CLOSE_NEW)
    assert diff.mode == Mode.WORDS
    assert _marked(CLOSE_OLD, diff.left) == ["5\u20137", "keep"]
    assert _marked(CLOSE_NEW, diff.right) == ["3\u20135", "take"]


def test_a_rewritten_answer_marks_only_sentences_without_a_counterpart():
    old, new = REWRITES[0]  # router: restructured into headings, same steps reworded
    diff = pair_diff(old, new)
    assert diff.mode == Mode.SENTENCES
    left, right = _marked(old, diff.left), _marked(new, diff.right)
    # A sentence kept word for word, and a step kept with small edits: not marked.
    assert not any("unplug it for 30 seconds" in m for m in left + right)
    assert not any("Press and hold" in m or "press and hold" in m for m in left + right)
    # What is new is marked, whole.
    assert any(
        m.startswith("The router restarts, which takes two or three minutes.") for m in right
    )


def test_on_rewrites_far_less_is_marked_than_with_a_word_diff():
    chosen = word = 0.0
    chosen_marks = word_marks = 0
    for old, new in REWRITES:
        diff = pair_diff(old, new)
        a, b = word_diff(old, new)
        assert diff.mode == Mode.SENTENCES
        chosen += sum(diff.marked) / 2
        word += (_word_share(a) + _word_share(b)) / 2
        chosen_marks += len(diff.left) + len(diff.right)
        word_marks += sum(s.kind != "same" for s in a + b)
    # Measured: 49% of the words marked against 71%, in 22 passages against 71 scattered runs.
    assert chosen < 0.75 * word
    assert chosen_marks < word_marks / 2.5


def test_a_diff_that_is_not_shown_says_why():
    long = " ".join(f"w{i}" for i in range(MAX_WORDS + 1))
    diff = pair_diff(long, long + " more")
    assert diff.mode == Mode.NONE and diff.reason == "too_long"
    assert "too long to compare" in diff_note(diff) and f"{MAX_WORDS:,}" in diff_note(diff)
    empty = pair_diff("", "An answer.")
    assert (
        empty.mode == Mode.NONE and diff_note(empty) == "No diff: output A has no text to compare."
    )
    assert diff_note(empty.swapped()) == "No diff: output B has no text to compare."


def test_the_marks_of_a_swapped_diff_follow_their_side():
    diff = pair_diff(CLOSE_OLD, CLOSE_NEW)
    swapped = diff.swapped()
    assert (swapped.left, swapped.right) == (diff.right, diff.left)
