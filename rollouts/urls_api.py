"""The application API (/api/v1/): traffic's endpoints plus rollout control's."""

from django.urls import path

from rollouts.views import api_gates, api_pairs, api_rollouts
from traffic.urls_api import urlpatterns as traffic_patterns

urlpatterns = [
    *traffic_patterns,
    path("rollouts/<uuid:code>", api_rollouts.rollout_detail, name="api_rollout"),
    path("rollouts/<uuid:code>/rollback", api_rollouts.rollback, name="api_rollback"),
    path("rollouts/<uuid:code>/pairs", api_pairs.import_pairs, name="api_import_pairs"),
    path("gates", api_gates.gates, name="api_gates"),
    path("gates/<uuid:code>", api_gates.gate_detail, name="api_gate"),
]
