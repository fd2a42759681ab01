"""The gate's figures: names people typed reach plotly's titles as text, never as markup."""

from evaluations.charts import gate_dimension_figure

HOSTILE = "<b>x</b><a href=javascript:alert(1)>"


def _rate(rate: float | None, n: int) -> dict[str, object]:
    low, high = (None, None) if rate is None else (max(0.0, rate - 10), min(100.0, rate + 10))
    return {"rate": rate, "low": low, "high": high, "passed": round((rate or 0) * n / 100), "n": n}


def test_a_suite_name_with_html_is_escaped_in_the_figure_title():
    dimension = {
        "dimension": "tone",
        "suite_name": HOSTILE,
        "delta_pp": -25.0,
        "interval_pp": [-40.0, -10.0],
        "needs_ack": True,
        "baseline": _rate(100.0, 4),
        "candidate": _rate(75.0, 4),
    }
    title = gate_dimension_figure(dimension).to_dict()["layout"]["title"]["text"]
    # Plotly draws <b> and <a href> in titles: escaped, they show as the characters typed.
    assert "<b>" not in title and "<a " not in title
    assert "&lt;b&gt;x&lt;/b&gt;&lt;a href=javascript:alert(1)&gt;" in title
    assert title.startswith("tone · &lt;b&gt;")
    assert "-25.0 points (95% -40.0 to -10.0)" in title


def test_a_dimension_without_results_draws_empty_bars_without_error_bars():
    dimension = {
        "dimension": "format",
        "suite_name": "Support",
        "delta_pp": None,
        "interval_pp": None,
        "baseline": _rate(None, 0),
        "candidate": _rate(None, 0),
    }
    fig = gate_dimension_figure(dimension).to_dict()
    assert fig["layout"]["title"]["text"] == "format · Support: n/a points"
    assert [bar["y"][0] for bar in fig["data"]] == [0, 0]
    assert [bar["error_y"]["visible"] for bar in fig["data"]] == [False, False]
