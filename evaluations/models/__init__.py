from .gates import Gate
from .runs import CaseResult, Run
from .suites import Case, Dimension, Suite

__all__ = ["Case", "CaseResult", "Dimension", "Gate", "Run", "Suite"]
