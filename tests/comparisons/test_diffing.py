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
