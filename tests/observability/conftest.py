"""Scraping GET /metrics as Prometheus does, and reading samples out of the text."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a labelled series not counted yet (Prometheus reads it so)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(db):
    """scrape() -> the samples of one GET /metrics from loopback (allowed by default)."""

    def get() -> Samples:
        response = Client().get("/metrics")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return parse(response.content.decode())

    return get
