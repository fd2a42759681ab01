"""`celery beat` starts on a fresh deployment, wherever it is started from."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.live import wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_beat_starts_when_the_var_folder_does_not_exist(tmp_path):
    # A PostgreSQL + Redis deployment needs nothing under var/, so nothing creates it; the
    # filesystem broker and SQLite would create it and hide the fault, so neither is used here.
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("filesystem://"):
        broker = "memory://"
    var = tmp_path / "fresh" / "var"
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CELERY_BEAT_SCHEDULE_FILENAME", "DJANGO_SETTINGS_MODULE"}
    } | {
        "VAR_DIR": str(var),
        # Beat never opens the database; the URL only has to say PostgreSQL.
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": settings.SECRET_KEY,
        "PYTHONPATH": str(ROOT),
    }
    args = [sys.executable, "-m", "celery", "-A", "rollout_site", "beat", "-l", "INFO"]
    log = tmp_path / "beat.log"
    # A file, not a pipe: nobody reads a pipe while waiting, and a full one would stall beat.
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # Wait until beat has opened its schedule (or died): start-up is slow on a busy machine,
        # and a bare sleep could end before the old code had reached its crash.
        wait_for(lambda: proc.poll() is not None or any(var.glob("celerybeat-schedule*")), 60)
        time.sleep(3)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = log.read_text(errors="replace")
    assert alive, output[-3000:]
    assert any(var.glob("celerybeat-schedule*")), output[-3000:]


@pytest.mark.slow
def test_beat_falls_back_to_a_temporary_folder_with_a_warning(tmp_path):
    from rollout_site.settings import _beat_schedule_filename

    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be created under a file: like a read-only image
    wanted = blocker / "var" / "celerybeat-schedule"
    with pytest.warns(RuntimeWarning, match="CELERY_BEAT_SCHEDULE_FILENAME"):
        used = Path(_beat_schedule_filename("", default=wanted))
    assert used.name == "celerybeat-schedule" and used.parent.is_dir()
    assert _beat_schedule_filename(str(tmp_path / "x" / "s"), default=wanted) == str(
        tmp_path / "x" / "s"
    )
    assert (tmp_path / "x").is_dir()
