"""Flag labels (blinded and not, old names included) and the queue's priority score."""

from comparisons.flags import KINDS, flag_label, priority_score

BLIND = {"baseline": "A", "candidate": "B"}
SWAPPED = {"baseline": "B", "candidate": "A"}
OPEN = {"baseline": "baseline", "candidate": "candidate"}


def test_sided_flags_read_with_the_display_names():
    assert flag_label("refusal:candidate", sides=BLIND) == "B refused"
    assert flag_label("refusal:candidate", sides=SWAPPED) == "A refused"
    assert flag_label("truncated:baseline", sides=OPEN) == "baseline was cut off"
    assert flag_label("tool_calls_changed", sides=BLIND) == "tool calls changed"


def test_blinded_labels_never_name_a_side_even_for_old_or_unknown_flags():
    flags = [
        *(f"{k}:{s}" for k in KINDS for s in ("baseline", "candidate")),
        *KINDS,
        "candidate_refusal",
        "candidate_error",
        "json_broken",
        "structure_changed",
        "low_similarity",
        "baseline_error",
        "candidate_something_new",
    ]
    for flag in flags:
        label = flag_label(flag, sides=BLIND)
        assert "candidate" not in label and "baseline" not in label, (flag, label)


def test_old_flag_names_read_like_the_new_ones():
    assert flag_label("candidate_refusal", sides=BLIND) == "B refused"
    assert flag_label("candidate_error", sides=SWAPPED) == "A failed"
    assert flag_label("json_broken", sides=BLIND) == "B is not valid JSON"
    assert flag_label("structure_changed", sides=BLIND) == "JSON keys or types changed"
    assert flag_label("candidate_something_new", sides=BLIND) == "B something new"


def test_priority_puts_heavier_flags_first_then_lower_similarity():
    error = priority_score(flags=["error:candidate"], similarity=None)
    refusal = priority_score(flags=["refusal:candidate"], similarity=0.9)
    fmt = priority_score(flags=["format_changed"], similarity=0.1)
    dissimilar = priority_score(flags=[], similarity=0.1)
    similar = priority_score(flags=[], similarity=0.9)
    assert error > refusal > fmt > dissimilar > similar >= 0
    assert priority_score(flags=["format_changed", "length_ratio"], similarity=1.0) > fmt
