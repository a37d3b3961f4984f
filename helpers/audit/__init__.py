"""Audit your own model: where to split it and how private each cut is, under the claims' protocol
(notebook 09, ``python -m helpers.audit``).

:mod:`.run` trains (or loads) and attacks the model at each cut, :mod:`.recommend` applies the rule
that picks a cut, :mod:`.report` writes the figure, the CSVs and the summary.
"""
from __future__ import annotations

from .recommend import Recommendation, recommend_cut
from .report import agreement, audit_figure, summary_text, write_report
from .run import AuditPlan, audit_seed, gpz_choice, run_audit, summarise

__all__ = ["AuditPlan", "Recommendation", "agreement", "audit_figure", "audit_seed", "gpz_choice", "recommend_cut",
           "run_audit", "summarise", "summary_text", "write_report"]
