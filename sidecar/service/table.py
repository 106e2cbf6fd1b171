"""The ``plan_cases`` table: where each submitted plan stands in the workflow.

Mutable, unlike the event chain: a row holds the latest ``workflow.PlanCase``
of one digest, and every change of it appends an audit event in the same
transaction (``cases.SqlCaseStore``), so the chain says how the row got
here. ``version`` counts the row's updates: a writer updates only the
version it read (compare-and-swap), so two sidecars deciding the same plan
at once cannot both win. ``sidecar.db`` imports this module so the shared
metadata always holds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from planner.states import PlanState
from sidecar.audit.tables import HEX64, NAME, Base, UtcDateTime

STATES = tuple(state.value for state in PlanState)  # the database refuses any other


class PlanCaseRow(Base):
    """One submitted plan's workflow state, its latest verification and the base state it binds to."""

    __tablename__ = "plan_cases"

    digest: Mapped[str] = mapped_column(ForeignKey("plans.digest"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(NAME)  # the first submitter (the case lists them all)
    title: Mapped[str] = mapped_column(Text)
    submitted: Mapped[datetime] = mapped_column(UtcDateTime())  # the latest submission
    updated: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed: Mapped[datetime | None] = mapped_column(UtcDateTime())  # when an apply took it
    revert_of: Mapped[str | None] = mapped_column(HEX64)  # the applied plan this one undoes
    case: Mapped[str] = mapped_column(Text)  # JSON: the PlanCase (codec.case_json)
    report: Mapped[str] = mapped_column(Text)  # JSON: the latest verification report (report/v1)
    base: Mapped[str] = mapped_column(Text)  # JSON: the entries the plan was verified against

    __table_args__ = (
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        Index(None, "state", "submitted"),
        Index(None, "author", "submitted"),
        Index(None, "submitted"),
        Index(None, "revert_of"),
    )
