from .audit import AuditCheckpoint, AuditEvent
from .deadletters import DeadLetter
from .metrics import LATENCY_BUCKETS_MS, MetricBlock, MetricMinute
from .registry import Feature, ModelConfig, ModelVersion, Provider
from .rollout import Rollout, RoutingState
from .serving import ServingChange, ServingShare
from .shadow import ShadowDay, ShadowJob
from .simulator import SimulatorRegression
from .tokens import ApiToken
from .traffic import Feedback, RequestLog

__all__ = [
    "LATENCY_BUCKETS_MS",
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "DeadLetter",
    "Feature",
    "Feedback",
    "MetricBlock",
    "MetricMinute",
    "ModelConfig",
    "ModelVersion",
    "Provider",
    "RequestLog",
    "Rollout",
    "RoutingState",
    "ServingChange",
    "ServingShare",
    "ShadowDay",
    "ShadowJob",
    "SimulatorRegression",
]
