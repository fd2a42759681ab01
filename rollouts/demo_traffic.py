"""The canary demo's traffic (rollouts/demo_canary.py): support questions to the gateway over
real HTTP, a batch at a time, many in flight, each answer counted by variant and status."""

import itertools
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

# The support-reply question list of the background traffic generator, and one number per request
# so every input is distinct: the simulator fails and refuses a share of *distinct* inputs.
QUESTIONS = (
    "Hi, I was charged twice for my invoice this month, can you refund one?",
    "The app crashes every time I open the settings page. What can I do?",
    "I forgot my password and the reset email never arrives.",
    "How do I export my data to CSV?",
    "Can I change the billing address on my subscription?",
    "Is there a way to add a second admin to our account?",
)


class Traffic:
    """Support questions to the gateway over HTTP, a batch at a time, many in flight."""

    def __init__(
        self, *, base_url: str, token: str, feature: str, users: int, concurrency: int
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1/chat/completions"
        self.feature = feature
        self.users = users
        self.client = httpx.Client(
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=concurrency),
        )
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="demo-traffic")
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()
        self.rng = random.Random(10)  # noqa: S311 - demo traffic, not security
        self.sent: Counter[str] = Counter()  # "candidate 200", "baseline 500", "refused"...

    def _one(self, n: int, unit: int, question: str) -> str:
        body = {
            "model": self.feature,
            "user": f"demo-user-{unit}",
            "messages": [{"role": "user", "content": f"{question} My order number is {n}."}],
            "metadata": {"company": "Acme"},
        }
        try:
            response = self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            return f"unreachable {exc.__class__.__name__}"
        return f"{response.headers.get('x-rollout-variant', '?')} {response.status_code}"

    def send(self, count: int) -> Counter[str]:
        with self.lock:
            jobs = [
                (next(self.numbers), self.rng.randrange(self.users), self.rng.choice(QUESTIONS))
                for _ in range(count)
            ]
        outcomes = Counter(self.pool.map(lambda job: self._one(*job), jobs))
        self.sent.update(outcomes)
        return outcomes

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()


def canary_errors(sent: Counter[str]) -> str:
    answered = sum(n for key, n in sent.items() if key.startswith("candidate "))
    failed = answered - sent["candidate 200"]
    return f"{failed} of {answered} candidate requests failed since it was switched on"


def outcomes(traffic: Traffic) -> str:
    return ", ".join(f"{key}: {n}" for key, n in sorted(traffic.sent.items()))
