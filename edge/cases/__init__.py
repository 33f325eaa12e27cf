"""Cases: rule kinds, dedup, lifecycle, SQLite rule/case state, evidence and the case contract."""

from edge.cases.comeback import Comeback
from edge.cases.contract import case_json_schema
from edge.cases.engine import CaseEngine
from edge.cases.lifecycle import Phase
from edge.cases.privacy import Bystanders, Redactor, bystanders
from edge.cases.quality import Quality, quality
from edge.cases.rules import check_rule, models_for
from edge.cases.snapshot import CaseSnapshot, PlaceView, RuleView, ZoneView
from edge.cases.store import CaseStore, StoreError
from edge.cases.suppress import SuppressionView
from edge.cases.verdicts import VerdictError, VerdictRecord, VerdictRequest
from edge.cases.verify import Verdict, Verification, VerifyRequest

__all__ = [
    "Bystanders",
    "CaseEngine",
    "CaseSnapshot",
    "CaseStore",
    "Comeback",
    "Phase",
    "PlaceView",
    "Quality",
    "Redactor",
    "RuleView",
    "StoreError",
    "SuppressionView",
    "Verdict",
    "VerdictError",
    "VerdictRecord",
    "VerdictRequest",
    "Verification",
    "VerifyRequest",
    "ZoneView",
    "bystanders",
    "case_json_schema",
    "check_rule",
    "models_for",
    "quality",
]
