"""The limits are shared: two uvicorn processes on one Redis, clients hammering one token through
both. Every request any process served was counted first in Redis, so the 2xx of a minute sum to
the limit exactly (each process spends its local allowance before it asks for more), never more;
another token is unaffected."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import httpx
import pytest
from django.conf import settings

from registry.services import registry
from tests.limits.conftest import needs_redis
from tests.live import ROOT, database_url, free_port, wait_for
from tests.simworld import simulator_config
from traffic.tokens import token_create

pytestmark = [needs_redis, pytest.mark.slow]

API_LIMIT = 40
GATEWAY_LIMIT = 30


class Server:
    """`uvicorn rollout_site.asgi:application` in its own process, on the test database."""

    def __init__(self, port: int) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.env = os.environ | {
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,  # token digests are keyed with it
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CACHE_URL": settings.CACHE_URL,
            "VAR_DIR": str(settings.VAR_DIR),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SIMULATOR_ENABLED": "true",
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            "API_RATE_LIMIT_PER_MINUTE": str(API_LIMIT),
            "GATEWAY_RATE_LIMIT_PER_MINUTE": str(GATEWAY_LIMIT),
            "LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self) -> None:
        args = [
            sys.executable, "-m", "uvicorn", "rollout_site.asgi:application",
            "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off",
            "--log-level", "warning",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/simulator/v1/models", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.output = self.proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output = self.proc.communicate()[0]


@pytest.fixture
def servers(transactional_db):
    pair = [Server(free_port()), Server(free_port())]
    config = simulator_config(pair[0].url)
    feature = registry.feature_create(
        key="support-reply", name="Support", served_config=config, actor=None
    )
    _, hammered = token_create(name="hammered", features=[feature], actor=None)
    _, other = token_create(name="other", features=[feature], actor=None)
    for server in pair:
        server.start()
    try:
        if not all(wait_for(server.up, timeout=30) for server in pair):
            pytest.fail("a server did not start:\n" + "\n".join(s.output for s in pair))
        yield {"urls": [s.url for s in pair], "hammered": hammered, "other": other}
    finally:
        for server in pair:
            server.stop()


def _gateway(url: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "support-reply", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=15,
    )


def _api(url: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{url}/api/v1/features/support-reply/assignment?unit=u1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )


def _hammer(call, urls: list[str], token: str, count: int) -> list[httpx.Response]:
    targets = [url for url, _ in zip(cycle(urls), range(count), strict=False)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda url: call(url, token), targets))


def _same_minute() -> None:
    """The servers count clock minutes (another process's clock, which time-machine cannot
    move): start well inside one, so the burst below does not straddle two windows."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.2)


def test_two_processes_share_one_count_per_token(servers):
    urls, hammered = servers["urls"], servers["hammered"]
    _same_minute()
    started = time.time()
    gateway = _hammer(_gateway, urls, hammered, 2 * GATEWAY_LIMIT)
    api = _hammer(_api, urls, hammered, 2 * API_LIMIT)
    other = [_gateway(url, servers["other"]) for url in urls] + [
        _api(url, servers["other"]) for url in urls
    ]
    assert int(started // 60) == int(time.time() // 60), "the burst straddled a minute"

    for responses, limit in ((gateway, GATEWAY_LIMIT), (api, API_LIMIT)):
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 429}, statuses
        assert statuses.count(200) == limit, statuses
    # Both processes served and both refused: the count was theirs together, not each one's.
    for responses in (gateway, api):
        for url in urls:
            mine = {r.status_code for r in responses if str(r.request.url).startswith(url)}
            assert mine == {200, 429}, (url, mine)

    refused = next(r for r in gateway if r.status_code == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"
    refused = next(r for r in api if r.status_code == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["code"] == "rate_limited" and refused.json()["message"]

    assert [r.status_code for r in other] == [200] * 4
