"""Shadow execution: one Celery worker process (thread pool of 100) against a stub that answers
after 1 s. Achieved throughput / ideal (100 calls per second) should be >= 0.75.

Best on PostgreSQL + Redis (DATABASE_URL, CELERY_BROKER_URL); SQLite serialises the writes of
100 threads and measures the database rather than the worker.
"""

import os
import subprocess
import sys
import time

from harness import PY, ROOT, figure, prepare, stub

IN_FLIGHT = 100
JOBS = 1000


def main() -> int:
    stub_proc, stub_url = stub(delay=1.0)
    with stub_proc:
        world = prepare(stub_url, shadow=True)
        os.environ.update(world["env"])
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from registry.models import ShadowJob
        from traffic.ingest import ingest
        from traffic.routing import current_table

        worker = subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "rollout_site",
                "worker",
                "-P",
                "threads",
                "-c",
                str(IN_FLIGHT),
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--prefetch-multiplier",
                "4",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=open(os.environ.get("BENCH_WORKER_LOG", os.devnull), "w"),
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(6)  # worker start-up is not what is measured
            table = current_table()
            start = time.perf_counter()
            for first in range(0, JOBS, 250):
                ingest(
                    {
                        "records": [
                            {
                                "feature": "bench",
                                "request_id": f"r{n}",
                                "unit": f"u{n}",
                                "messages": [{"role": "user", "content": "hi"}],
                                "output": "hello",
                            }
                            for n in range(first, first + 250)
                        ]
                    },
                    table=table,
                    token=None,
                )
            # Until every job has ended (done or failed: a failed job never becomes done), or
            # 30x the ideal time: a run that strands jobs must end and say how many.
            open_jobs = ShadowJob.objects.filter(status__in=("queued", "claimed"))
            # Throughput is measured up to the last job that ended, so one stranded job (its
            # nudge lost, and no beat here to re-send it) is reported, not averaged in.
            ended, last_change = 0, time.perf_counter()
            while time.perf_counter() - start < 30 * JOBS / IN_FLIGHT:
                now_ended = JOBS - open_jobs.count()
                if now_ended != ended:
                    ended, last_change = now_ended, time.perf_counter()
                if ended == JOBS:
                    break
                time.sleep(0.2)
            elapsed = last_change - start
            stranded = JOBS - ended
            failed = ShadowJob.objects.filter(status="failed").count()
            errors = list(
                ShadowJob.objects.filter(status="failed").values_list("error", flat=True)[:3]
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    ideal = JOBS / IN_FLIGHT
    done = JOBS - failed - stranded
    ratio = ideal / elapsed * done / JOBS  # failed or stranded calls are not throughput
    if failed or stranded:
        print(f"{failed} jobs failed, {stranded} never ended; first errors: {errors}")
    print(
        f"{JOBS} shadow calls of 1 s with {IN_FLIGHT} threads: {elapsed:.1f} s "
        f"(ideal {ideal:.1f} s), {JOBS / elapsed:.0f} calls/s"
    )
    figure(
        "shadow calls/s",
        done / elapsed,
        "calls/s",
        text=f"achieved / ideal {ratio:.2f} (target 0.75); {failed} failed, {stranded} stranded",
        peer=IN_FLIGHT,
        peer_name="ideal",
        ratio=ratio,
        target=">= 0.75",
        met=ratio >= 0.75 and not failed and not stranded,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
