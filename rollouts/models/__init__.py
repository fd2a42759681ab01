from .audit import AuditEvent
from .registry import Feature, ModelConfig, ModelVersion, Provider
from .serving import ServingChange, ServingShare

__all__ = [
    "AuditEvent",
    "Feature",
    "ModelConfig",
    "ModelVersion",
    "Provider",
    "ServingChange",
    "ServingShare",
]
