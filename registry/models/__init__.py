from .audit import AuditEvent
from .registry import Feature, ModelConfig, ModelVersion, Provider
from .rollout import Rollout, RoutingState
from .serving import ServingChange, ServingShare
from .shadow import ShadowDay, ShadowJob
from .tokens import ApiToken
from .traffic import Feedback, RequestLog

__all__ = [
    "ApiToken",
    "AuditEvent",
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
