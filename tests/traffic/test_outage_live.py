"""A real PostgreSQL outage under traffic: a uvicorn server in its own process reaches the database
through a TCP proxy (tests/faults.py) that the test cuts and restores while clients keep calling
the gateway and the API. The test's own connection goes straight to PostgreSQL, so it can check
the request log afterwards.

What must hold: the gateway keeps answering from its last routing table (and says how old it is),
the API answers 503 JSON with Retry-After while the database is gone, nothing answers 500, and
every request the gateway answered is in the request log once the database is back.
"""

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from django.conf import settings
from django.db import connection

from registry.models import RequestLog
from registry.services import registry
from tests.faults import TcpProxy
from tests.live import ROOT, free_port, wait_for
from tests.simworld import simulator_config
from traffic.tokens import token_create

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the outage is a TCP proxy cut in front of PostgreSQL",
    ),
]

CUT_SECONDS = 3.0


class Server:
    """`uvicorn rollout_site.asgi:application` in a subprocess whose database is behind `proxy`."""

    def __init__(self, proxy: TcpProxy, port: int) -> None:
        db = connection.settings_dict
        user = db.get("USER") or "postgres"
        self.url = f"http://127.0.0.1:{port}"
        self.env = os.environ | {
            "DATABASE_URL": f"postgres://{user}@127.0.0.1:{proxy.port}/{db['NAME']}",
            "SECRET_KEY": settings.SECRET_KEY,  # token digests are keyed with it
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "VAR_DIR": str(settings.VAR_DIR),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SIMULATOR_ENABLED": "true",
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            "ROUTING_REFRESH_MS": "100",
            "LOG_LEVEL": "WARNING",
        }
        self.args = [
            sys.executable, "-m", "uvicorn", "rollout_site.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
            "--log-level", "warning",
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

        def up() -> bool:
            try:
                httpx.get(f"{self.url}/simulator/v1/models", timeout=1)
                return True
            except httpx.HTTPError:
                return False

        if not wait_for(up, timeout=30, interval=0.1):
            self.__exit__()
            raise RuntimeError(f"the server did not start:\n{self.output}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.output = self.proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output = self.proc.communicate()[0]


@dataclass
class Tally:
    """What the clients saw, by phase ("before", "cut", "after")."""

    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    answered: list[str] = field(default_factory=list)  # gateway request ids answered 2xx
    ingested: list[str] = field(default_factory=list)  # ingest request ids answered 2xx
    stale_headers: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # what must never happen, with the reason
    api_503: list[httpx.Response] = field(default_factory=list)


@pytest.fixture
def world(transactional_db, settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    port = free_port()
    config = simulator_config(f"http://127.0.0.1:{port}")
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    _token, plaintext = token_create(name="app", features=[feature], actor=None)
    return {"port": port, "token": plaintext}


def _gateway_call(client: httpx.Client, rid: str) -> httpx.Response:
    return client.post(
        "/v1/chat/completions",
        headers={"X-Request-Id": rid},
        json={
            "model": "support-reply",
            "user": f"user-{rid}",
            "messages": [{"role": "user", "content": f"Where is parcel {rid}?"}],
        },
    )


def _ingest_call(client: httpx.Client, rid: str) -> httpx.Response:
    return client.post(
        "/api/v1/ingest",
        json={
            "feature": "support-reply",
            "request_id": rid,
            "unit": f"user-{rid}",
            "messages": [{"role": "user", "content": "hi"}],
            "output": "hello",
        },
    )


def test_traffic_survives_a_database_outage(world):
    headers = {"Authorization": f"Bearer {world['token']}"}
    tally = Tally()
    phase = ["before"]
    stop = threading.Event()

    def gateway_loop(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                rid, now = f"gw-{worker}-{n}", phase[0]
                response = _gateway_call(client, rid)
                tally.statuses["gateway", now, response.status_code] += 1
                if response.is_success:
                    tally.answered.append(rid)
                    if "X-Rollout-Routing-Age" in response.headers:
                        tally.stale_headers.append(response.headers["X-Rollout-Routing-Age"])
                else:
                    tally.bad.append(f"gateway {rid} in {now}: {response.status_code}")

    def api_loop() -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                now = phase[0]
                assigned = client.get(
                    "/api/v1/features/support-reply/assignment", params={"unit": f"u{n}"}
                )
                tally.statuses["assignment", now, assigned.status_code] += 1
                if assigned.status_code != 200:
                    tally.bad.append(f"assignment in {now}: {assigned.status_code}")
                rid = f"in-{n}"
                ingested = _ingest_call(client, rid)
                tally.statuses["ingest", now, ingested.status_code] += 1
                if ingested.is_success:
                    tally.ingested.append(rid)
                elif ingested.status_code == 503:
                    tally.api_503.append(ingested)
                else:
                    tally.bad.append(f"ingest {rid} in {now}: {ingested.status_code}")
                time.sleep(0.02)

    with TcpProxy(target=(connection.settings_dict["HOST"] or "127.0.0.1", 5432)) as proxy:
        # Cold start with the database already gone: no table to serve from, so 503s.
        proxy.cut()
        with Server(proxy, world["port"]) as server:
            cold = _gateway_call(httpx.Client(base_url=server.url, headers=headers), "cold-1")
            cold_api = httpx.get(
                f"{server.url}/api/v1/features/support-reply/assignment?unit=u",
                headers=headers,
            )
            proxy.restore()
            assert wait_for(
                lambda: (
                    _gateway_call(
                        httpx.Client(base_url=server.url, headers=headers), f"warm-{time.time()}"
                    ).is_success
                ),
                timeout=10,
            )

            workers = [threading.Thread(target=gateway_loop, args=(w,)) for w in range(2)]
            workers.append(threading.Thread(target=api_loop))
            for thread in workers:
                thread.start()
            time.sleep(1.0)
            phase[0] = "cut"
            proxy.cut()
            time.sleep(CUT_SECONDS)
            proxy.restore()
            phase[0] = "after"
            time.sleep(1.5)
            stop.set()
            for thread in workers:
                thread.join(timeout=15)

            def all_logged() -> bool:
                logged = set(
                    RequestLog.objects.filter(request_id__in=tally.answered).values_list(
                        "request_id", flat=True
                    )
                )
                return logged == set(tally.answered)

            every_answer_logged = wait_for(all_logged, timeout=15, interval=0.25)
            logged = RequestLog.objects.filter(request_id__in=tally.answered).count()
            ingested_logged = RequestLog.objects.filter(request_id__in=tally.ingested).count()
        log_output = server.output

    during = {k: v for k, v in tally.statuses.items() if k[1] == "cut"}
    print(
        f"\noutage figures: gateway answered {len(tally.answered)} requests, {logged} in the "
        f"request log; during the {CUT_SECONDS:.0f} s cut: {during}; API 503s: "
        f"{len(tally.api_503)}; stale-table answers: {len(tally.stale_headers)} "
        f"(max age {max(map(int, tally.stale_headers), default=0)} s); ingest answered "
        f"{len(tally.ingested)}, logged {ingested_logged}"
    )
    print("\n".join(line for line in log_output.splitlines() if "database" in line))

    # Cold start, database down: the OpenAI error shape and the API's, both 503 + Retry-After.
    assert cold.status_code == 503, cold.text
    assert cold.headers["Retry-After"] == "5"
    assert cold.json()["error"]["type"] == "service_unavailable"
    assert cold_api.status_code == 503 and cold_api.headers["Retry-After"] == "5"
    assert cold_api.json()["code"] == "unavailable"

    assert not tally.bad, tally.bad[:10]
    assert during.get(("gateway", "cut", 200), 0) >= 10, during  # traffic kept flowing
    assert tally.stale_headers, "no answer said its routing table was stale"
    assert during.get(("assignment", "cut", 200), 0) >= 1, during
    assert tally.api_503, "the API never saw the outage"
    for response in tally.api_503:
        assert response.headers["Retry-After"] == "5"
        assert response.headers["Content-Type"] == "application/json"
        assert set(response.json()) >= {"code", "message"}
    assert every_answer_logged, f"{len(tally.answered) - logged} answered requests not logged"
    assert ingested_logged == len(tally.ingested)
    assert "Internal Server Error" not in log_output
    assert "Service Unavailable" not in log_output  # one outage line, not one per request
    # The outage is logged once per process and component, not once per request.
    assert log_output.count("database unreachable") <= 4, log_output[-3000:]
