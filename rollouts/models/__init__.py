from .campaigns import Campaign, CampaignMember
from .guardrails import Guardrail, GuardrailCheck
from .judging import PairJudgement
from .stages import Approval, Stage
from .verdicts import VerdictMark, VerdictMinute

__all__ = [
    "Approval",
    "Campaign",
    "CampaignMember",
    "Guardrail",
    "GuardrailCheck",
    "PairJudgement",
    "Stage",
    "VerdictMark",
    "VerdictMinute",
]
