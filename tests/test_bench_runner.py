"""`make bench`'s runner (bench/run_all.py) and the harness's result lines; no real benchmark."""

import json
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402
import run_all  # noqa: E402

MET = {
    "figure": "decision",
    "value": 0.29,
    "unit": "us",
    "peer": None,
    "peer_name": "",
    "ratio": None,
    "target": "<= 1 us",
    "status": "MET",
}
MISS = {
    "figure": "ingest API rows/s",
    "value": 4200.0,
    "unit": "rows/s",
    "peer": 35000.0,
    "peer_name": "raw COPY",
    "peer_unit": "rows/s",
    "ratio": 0.12,
    "target": ">= 0.6x",
    "status": "MISS",
}
SKIP = {
    "figure": "vs GrowthBook",
    "target": ">= 15x",
    "status": "SKIPPED",
    "reason": "install with `make bench-env`",
}


def _table_line(table: str, figure: str) -> list[str]:
    line = next(ln for ln in table.splitlines() if f" {figure} " in ln)
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_table_shows_each_figure_with_its_peer_ratio_target_and_verdict():
    rows = run_all.rows_for("bench_assignment", [MET, SKIP], returncode=0)
    rows += run_all.rows_for("bench_ingest", [MISS], returncode=0)
    table = run_all.render(rows)

    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    assert header == ["benchmark", "figure", "value", "peer/limit", "ratio", "target", "result"]
    assert _table_line(table, "ingest API rows/s") == [
        "bench_ingest",
        "ingest API rows/s",
        "4,200 rows/s",
        "raw COPY 35,000 rows/s",
        "0.12x",
        ">= 0.6x",
        "MISS",
    ]
    assert _table_line(table, "decision")[-1] == "MET"
    assert _table_line(table, "vs GrowthBook")[-1] == "SKIPPED (install with `make bench-env`)"
    # Fixed columns: every line as wide as the header.
    assert len({len(ln) for ln in table.splitlines()}) == 1
    assert run_all.exit_code(rows) == 1


def test_met_and_skipped_figures_exit_zero():
    rows = run_all.rows_for("bench_assignment", [MET, SKIP], returncode=0)
    assert run_all.exit_code(rows) == 0


def test_a_crashed_script_is_a_failed_row_and_fails_the_run():
    rows = run_all.rows_for("bench_gateway", [], returncode=1)
    assert [(r.benchmark, r.result) for r in rows] == [("bench_gateway", "FAILED (see log)")]
    assert run_all.exit_code(rows) == 1


def test_a_script_that_exits_non_zero_on_its_own_miss_is_a_miss_not_a_failure():
    rows = run_all.rows_for("bench_guardrails", [MET, MISS], returncode=1)
    assert [r.result for r in rows] == ["MET", "MISS"]


def test_a_timed_out_script_keeps_its_figures_and_adds_a_failed_row():
    rows = run_all.rows_for("bench_review", [MET], returncode=None, note="timed out after 600 s")
    assert [(r.figure, r.result) for r in rows] == [
        ("decision", "MET"),
        ("timed out after 600 s", "FAILED (see log)"),
    ]


def test_the_harness_prints_the_line_and_appends_a_json_result(tmp_path, monkeypatch, capsys):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv("BENCH_RESULTS", str(results))
    monkeypatch.setenv("BENCH_NAME", "bench_fake")

    harness.figure(
        "p95",
        120.0,
        "ms",
        text="p95 120 ms (target 100)",
        peer=40.0,
        peer_name="1 KB page",
        ratio=3.0,
        target="<= 100 ms",
        met=False,
    )
    harness.skipped("vs LiteLLM", "install with `make bench-env`")

    assert capsys.readouterr().out.splitlines() == [
        "MISS p95 120 ms (target 100)",
        "SKIP vs LiteLLM: install with `make bench-env`",
    ]
    lines = [json.loads(ln) for ln in results.read_text().splitlines()]
    assert lines[0] == {
        "benchmark": "bench_fake",
        "figure": "p95",
        "value": 120.0,
        "unit": "ms",
        "peer": 40.0,
        "peer_name": "1 KB page",
        "peer_unit": "ms",
        "ratio": 3.0,
        "target": "<= 100 ms",
        "status": "MISS",
    }
    assert lines[1]["status"] == "SKIPPED"
    assert lines[1]["reason"] == "install with `make bench-env`"


def test_the_harness_writes_nothing_without_bench_results(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BENCH_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    harness.figure("decision", 0.3, "us", text="decision 0.3 us", met=True)
    assert capsys.readouterr().out == "MET  decision 0.3 us\n"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fake_bench(tmp_path, monkeypatch):
    bench = tmp_path / "bench"
    bench.mkdir()
    monkeypatch.setattr(run_all, "BENCH", bench)
    monkeypatch.setattr(run_all, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(run_all, "ORDER", [])
    monkeypatch.setattr(run_all, "NEEDS_POSTGRES", set())
    monkeypatch.setattr(run_all, "PREFERS_POSTGRES", set())
    return bench


def _script(bench: Path, name: str, body: str) -> None:
    (bench / f"{name}.py").write_text(textwrap.dedent(body))


def test_the_runner_runs_each_script_with_a_results_file_and_keeps_its_log(fake_bench, capsys):
    _script(
        fake_bench,
        "bench_ok",
        """
        import json, os, sys
        print("measuring", sys.argv[1:])
        with open(os.environ["BENCH_RESULTS"], "a") as out:
            out.write(json.dumps({"figure": "speed", "value": 2.0, "unit": "x",
                                  "target": ">= 1x", "status": "MET"}) + "\\n")
        """,
    )
    _script(fake_bench, "bench_broken", "raise SystemExit('no luck')\n")

    assert run_all.main(["--only", "bench_ok"]) == 0
    assert _table_line(capsys.readouterr().out, "speed")[-1] == "MET"
    assert "measuring []" in (run_all.LOGS / "bench_ok.log").read_text()

    assert run_all.main([]) == 1
    table = capsys.readouterr().out
    assert _table_line(table, "exit 1")[:2] == ["bench_broken", "exit 1"]
    assert "no luck" in (run_all.LOGS / "bench_broken.log").read_text()


def test_the_runner_stops_a_script_that_overruns_its_timeout(fake_bench):
    _script(fake_bench, "bench_slow", "import time\ntime.sleep(60)\n")
    rows = run_all.run_one("bench_slow", env={}, args=[], timeout=1)
    assert [(r.figure, r.result) for r in rows] == [("timed out after 1 s", "FAILED (see log)")]


def test_postgres_benchmarks_are_skipped_with_the_reason_when_none_answers(
    fake_bench, monkeypatch, capsys
):
    _script(fake_bench, "bench_pg", "raise SystemExit('should not run')\n")
    monkeypatch.setattr(run_all, "NEEDS_POSTGRES", {"bench_pg"})
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")

    assert run_all.main([]) == 0
    row = _table_line(capsys.readouterr().out, "(all figures)")
    assert row[0] == "bench_pg"
    assert row[-1] == "SKIPPED (DATABASE_URL is not PostgreSQL (sqlite))"
    assert not (run_all.LOGS / "bench_pg.log").exists()


def test_an_unknown_only_name_is_refused_naming_the_option(fake_bench, capsys):
    with pytest.raises(SystemExit):
        run_all.main(["--only", "bench_nope"])
    assert "--only: no such benchmark bench_nope" in capsys.readouterr().err
