from .audit import AuditCheckpoint, AuditEvent
from .deadletters import DeadLetter
from .registry import Feature, ModelConfig, ModelVersion, Provider
from .rollout import Rollout, RoutingState
from .serving import ServingChange, ServingShare
from .shadow import ShadowDay, ShadowJob
from .tokens import ApiToken
from .traffic import Feedback, RequestLog

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "DeadLetter",
    "Feature",
    "Feedback",
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
]
