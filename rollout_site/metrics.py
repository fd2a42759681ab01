"""`GET /metrics`: the Prometheus scrape of every process, plus the figures kept in the database.

Counters and live gauges come from registry/observability.py: with PROMETHEUS_MULTIPROC_DIR, the
files every web and worker process wrote there, added up; without it, this process's registry.
The outbox, the dead letters and the guardrails live in the database, so they are read here at
scrape time, one cheap query each; a database that cannot be reached makes them absent and
`rollout_desk_database_up` 0, never a failed scrape.

Who may scrape: a bearer token whose SHA-256 equals METRICS_TOKEN_SHA256, compared in constant
time, or a direct connection from METRICS_ALLOWED_NETWORKS (loopback by default).
"""

import hashlib
import hmac
import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from registry.dbfaults import DB_FAULTS
from registry.models import DeadLetter, Rollout
from registry.observability import PREFIX, multiproc_dir
from rollouts.models import Guardrail
from traffic.outbox import outbox_backlog
from traffic.views.apiauth import api_error, api_methods

# Headers a proxy adds: such a request did not come from the connecting address's network.
_FORWARDED = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _token_ok(presented: str) -> bool:
    expected = settings.METRICS_TOKEN_SHA256
    digest = hashlib.sha256(presented.encode()).hexdigest()
    # compare_digest even when no token is configured: the answer takes the same time.
    return hmac.compare_digest(digest, expected or "0" * 64) and bool(expected)


def _network_ok(request: HttpRequest) -> bool:
    if any(request.headers.get(name) for name in _FORWARDED):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False)
        for net in settings.METRICS_ALLOWED_NETWORKS
    )


def _refusal(request: HttpRequest) -> HttpResponse | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer" and _token_ok(presented.strip()):
            return None
        response = api_error(
            401, "Wrong metrics token: send 'Authorization: Bearer <METRICS_TOKEN>'."
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _network_ok(request):
        return None
    return api_error(
        403,
        "Metrics are for scrapers: send 'Authorization: Bearer <METRICS_TOKEN>', or scrape "
        "directly from a network in METRICS_ALLOWED_NETWORKS.",
    )


class _ThisProcess:
    """This process's registry, for a deployment without PROMETHEUS_MULTIPROC_DIR."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class DatabaseCollector:
    """The figures that live in the database, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        families: list[Metric] = []
        try:
            families = [*_outbox(), _dead_letters(), _guardrails()]
            up = 1
        except DB_FAULTS:
            connection.close_if_unusable_or_obsolete()  # the next scrape reconnects
            up = 0
        yield from families
        yield GaugeMetricFamily(
            PREFIX + "database_up", "Whether the scrape could read the database (1) or not (0).", up
        )


def _outbox() -> list[Metric]:
    backlog = outbox_backlog()
    depth = GaugeMetricFamily(
        PREFIX + "outbox_depth",
        "Shadow jobs not finished yet (queued or claimed).",
        labels=["status"],
    )
    age = GaugeMetricFamily(
        PREFIX + "outbox_oldest_age_seconds",
        "Age of the oldest shadow job not finished yet (0 when there is none).",
    )
    for status, open_jobs in backlog.items():
        depth.add_metric([status], open_jobs.count)
    oldest = [b.oldest for b in backlog.values() if b.oldest is not None]
    age.add_metric([], max((timezone.now() - min(oldest)).total_seconds(), 0.0) if oldest else 0.0)
    return [depth, age]


def _dead_letters() -> Metric:
    family = GaugeMetricFamily(
        PREFIX + "dead_letters",
        "Request logs the database refused, kept in the dead-letter table (all processes).",
        labels=["source"],
    )
    counts = dict(DeadLetter.objects.values_list("source").annotate(n=Count("id")))
    for source in DeadLetter.Source.values:
        family.add_metric([source], counts.get(source, 0))
    return family


def _guardrails() -> Metric:
    family = GaugeMetricFamily(
        PREFIX + "guardrail_state",
        "Guardrails of active rollouts: 1 for the state each is in (ok, breach, inconclusive, "
        "insufficient), 0 for the others.",
        labels=["feature", "metric", "severity", "state"],
    )
    rows = Guardrail.objects.filter(rollout__status__in=Rollout.ACTIVE).values_list(
        "rollout__feature__key", "metric", "severity", "state"
    )
    for feature, metric, severity, state in rows:
        for option in Guardrail.State.values:
            family.add_metric([feature, metric, severity, option], int(option == state))
    return family


def exposition() -> bytes:
    """The text a scraper reads: every process's figures and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiproc_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


@api_methods("GET", "HEAD")
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
