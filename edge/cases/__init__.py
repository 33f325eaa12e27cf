"""Cases: rule kinds, dedup, lifecycle, SQLite rule/case state, evidence and the case contract."""

from edge.cases.contract import case_json_schema
from edge.cases.engine import CaseEngine
from edge.cases.lifecycle import Phase
from edge.cases.store import CaseStore, StoreError

__all__ = ["CaseEngine", "CaseStore", "Phase", "StoreError", "case_json_schema"]
