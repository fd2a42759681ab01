from .campaigns import Campaign, CampaignMember
from .judging import PairJudgement

__all__ = ["Campaign", "CampaignMember", "PairJudgement"]
