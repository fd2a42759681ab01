"""The embedded broker (kombu's filesystem transport, rollout_site/broker_files.py): a message
file is never visible under its queue's name before it is whole, so a worker that lists the
folder while a message is being written never reads half of it."""

import json
import multiprocessing
import os

from django.conf import settings
from kombu import Connection

from rollout_site.broker_files import Transport

MESSAGES = 300
BODY = {"payload": "x" * 100_000}


def _connection(folder) -> Connection:
    (folder / "control").mkdir(exist_ok=True)
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    return Connection("filesystem://", transport=Transport, transport_options=options)


def test_settings_use_the_atomic_transport_for_the_embedded_broker():
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.CELERY_BROKER_TRANSPORT == "rollout_site.broker_files:Transport"


def _watch(folder: str, done, torn) -> None:
    """In another process (real parallelism, as a worker's): list and read the folder as fast
    as possible, counting message files that are not whole JSON when first seen."""
    seen: set[str] = set()
    while not done.is_set():
        for name in os.listdir(folder):
            if not name.endswith(".race.msg") or name in seen:
                continue
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    json.loads(f.read())
            except ValueError:
                with torn.get_lock():
                    torn.value += 1
            seen.add(name)


def test_a_reader_racing_the_publisher_only_ever_sees_whole_messages(tmp_path):
    context = multiprocessing.get_context("spawn")
    done, torn = context.Event(), context.Value("i", 0)
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("race")
        watcher = context.Process(target=_watch, args=(str(tmp_path), done, torn))
        watcher.start()
        try:
            for n in range(MESSAGES):
                queue.put({**BODY, "n": n})
        finally:
            done.set()
            watcher.join(timeout=30)
        assert torn.value == 0, f"{torn.value} of {MESSAGES} messages were seen half-written"
        received = []
        for _ in range(MESSAGES):
            message = queue.get(timeout=5)
            received.append(message.payload["n"])
            message.ack()
    assert sorted(received) == list(range(MESSAGES))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
