"""Run every benchmark and print one table: figure, its peer or limit from the same run, the
ratio, the target, MET / MISS / SKIPPED / FAILED. Exits 1 if any figure missed or a script failed.

    .venv/bin/python bench/run_all.py [--quick] [--only bench_guardrails,bench_assignment]

Each script runs as its own process with BENCH_RESULTS naming a JSON-lines file that
`harness.figure` appends to; its output goes to var/bench/<name>.log.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LOGS = ROOT / "var" / "bench"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"

# Cheapest first, so a smoke run reports something quickly.
ORDER = [
    "bench_assignment",
    "bench_guardrails",
    "bench_comparison",
    "bench_gateway",
    "bench_eval_run",
    "bench_canary_charts",
    "bench_shadow",
    "bench_ingest",
    "bench_review",
    "bench_pair_page",
]
# These refuse to run without PostgreSQL; the others fall back to SQLite.
NEEDS_POSTGRES = {
    "bench_eval_run",
    "bench_canary_charts",
    "bench_ingest",
    "bench_review",
    "bench_pair_page",
}
# These use PostgreSQL when it is there (SQLite otherwise); the rest need no database.
PREFERS_POSTGRES = {"bench_gateway", "bench_shadow"}
# Seconds per script: a full run's worst case on the 2-core machine, with room.
TIMEOUTS = {"bench_review": 3600, "bench_canary_charts": 3600, "bench_gateway": 1200}
DEFAULT_TIMEOUT = 900
QUICK_TIMEOUT = 600
# --quick: smaller sizes for the scripts that take one (argument, env).
QUICK_ARGS = {"bench_canary_charts": ["200000"]}
QUICK_ENV = {"bench_review": {"BENCH_PAIRS": "20000"}}

COLUMNS = ("benchmark", "figure", "value", "peer/limit", "ratio", "target", "result")


@dataclass(frozen=True)
class Row:
    benchmark: str
    figure: str
    value: str = ""
    peer: str = ""
    ratio: str = ""
    target: str = ""
    result: str = ""


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def rows_for(
    name: str, results: list[dict], *, returncode: int | None, note: str = ""
) -> list[Row]:
    """The table rows of one script: its recorded figures, plus a FAILED row when it crashed or
    timed out (returncode None). A non-zero exit with a recorded MISS is a miss, not a failure."""
    rows = []
    for r in results:
        status = r.get("status", "")
        peer = _num(r.get("peer"), r.get("peer_unit") or r.get("unit", ""))
        if peer and r.get("peer_name"):
            peer = f"{r['peer_name']} {peer}"
        result = status if status != "INFO" else "-"
        if status == "SKIPPED":
            result = f"SKIPPED ({r.get('reason', '')})"
        rows.append(
            Row(
                benchmark=name,
                figure=r.get("figure", ""),
                value=_num(r.get("value"), r.get("unit", "")),
                peer=peer,
                ratio="" if r.get("ratio") is None else f"{r['ratio']:.3g}x",
                target=r.get("target", ""),
                result=result,
            )
        )
    missed = any(r.get("status") == "MISS" for r in results)
    if returncode is None or (returncode != 0 and not missed) or not results:
        why = note or ("timed out" if returncode is None else f"exit {returncode}")
        rows.append(Row(benchmark=name, figure=why, result="FAILED (see log)"))
    return rows


def render(rows: list[Row]) -> str:
    cells = [COLUMNS] + [
        (r.benchmark, r.figure, r.value, r.peer, r.ratio, r.target, r.result) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]

    def line(c: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(c) for c in cells[1:])])


def exit_code(rows: list[Row]) -> int:
    return 1 if any(r.result == "MISS" or r.result.startswith("FAILED") for r in rows) else 0


def _answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except (psycopg.Error, OSError):  # refused, no such role, bad password: not usable here
        return False


def postgres_url() -> tuple[str | None, str]:
    """DATABASE_URL if set; else the local server, started if it is installed but down."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        if not url.startswith("postgres"):
            return None, f"DATABASE_URL is not PostgreSQL ({url.split(':', 1)[0]})"
        return (url, "") if _answers(url) else (None, "DATABASE_URL does not answer")
    if _answers(DEFAULT_PG):
        return DEFAULT_PG, ""
    starters = []
    if shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster"):
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
        starters += [["pg_ctlcluster", *ln.split()[:2], "start"] for ln in listed.splitlines()]
    if shutil.which("service"):
        starters.append(["service", "postgresql", "start"])
    for cmd in starters:
        subprocess.run(cmd, capture_output=True, timeout=60)
        for _ in range(20):
            if _answers(DEFAULT_PG):
                return DEFAULT_PG, ""
            time.sleep(0.5)
    return None, "no PostgreSQL answers on 127.0.0.1:5432 and none could be started"


def run_one(name: str, *, env: dict, args: list[str], timeout: float) -> list[Row]:
    LOGS.mkdir(parents=True, exist_ok=True)
    results_path = LOGS / f"{name}.jsonl"
    results_path.unlink(missing_ok=True)
    env = env | {"BENCH_RESULTS": str(results_path), "BENCH_NAME": name}
    with open(LOGS / f"{name}.log", "w", encoding="utf-8") as log:
        # Its own session, so a timeout also ends the stubs and servers it started.
        proc = subprocess.Popen(
            [sys.executable, str(BENCH / f"{name}.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            returncode = None
    results = []
    if results_path.exists():
        results = [json.loads(ln) for ln in results_path.read_text().splitlines() if ln.strip()]
    note = f"timed out after {timeout:.0f} s" if returncode is None else ""
    return rows_for(name, results, returncode=returncode, note=note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated script names")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    opts = parser.parse_args(argv)
    found = sorted(p.stem for p in BENCH.glob("bench_*.py"))
    names = [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]
    if opts.only:
        wanted = [n.strip().removesuffix(".py") for n in opts.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in found]
        if unknown:
            parser.error(
                f"--only: no such benchmark {', '.join(unknown)} (have {', '.join(names)})"
            )
        names = [n for n in names if n in wanted]
    env = os.environ.copy()
    pg_reason = ""
    if any(n in NEEDS_POSTGRES | PREFERS_POSTGRES for n in names):
        url, pg_reason = postgres_url()
        if url:
            env["DATABASE_URL"] = url
    rows: list[Row] = []
    for name in names:
        if name in NEEDS_POSTGRES and pg_reason:
            rows.append(Row(name, "(all figures)", result=f"SKIPPED ({pg_reason})"))
            continue
        print(f"running {name} ...", flush=True)
        started = time.monotonic()
        timeout = QUICK_TIMEOUT if opts.quick else TIMEOUTS.get(name, DEFAULT_TIMEOUT)
        rows += run_one(
            name,
            env=env | (QUICK_ENV.get(name, {}) if opts.quick else {}),
            args=QUICK_ARGS.get(name, []) if opts.quick else [],
            timeout=timeout,
        )
        print(f"  done in {time.monotonic() - started:.0f} s (log: var/bench/{name}.log)")
    print()
    print(render(rows))
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
