from .campaigns import Campaign, CampaignMember
from .guardrails import Guardrail, GuardrailCheck
from .judging import PairJudgement
from .stages import Approval, Stage

__all__ = [
    "Approval",
    "Campaign",
    "CampaignMember",
    "Guardrail",
    "GuardrailCheck",
    "PairJudgement",
    "Stage",
]
