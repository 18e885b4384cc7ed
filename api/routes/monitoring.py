"""Weekly monitoring reports, read from Postgres and the reports directory (Evidently is never
imported by the API: the reports are built by `recsys monitor weekly`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ReadKey
from api.schemas import MAX_ID
from recsys.db.models import WeeklyReport

router = APIRouter(prefix="/v1/monitoring", tags=["monitoring"], dependencies=[ReadKey])


class WeeklyReportSummary(BaseModel):
    id: int
    week: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    model_version: int | None
    requests: int
    feedback_events: int
    drift_share: float | None
    drifted_columns: list[str]
    quality: dict[str, Any]
    distribution: dict[str, Any]
    changes: dict[str, Any]
    alert: bool
    alert_reasons: list[str]
    notes: list[str]  # what qualifies the numbers and alerts: read them with the alerts
    drift_requests: int | None  # logged requests the drift test compared
    has_html: bool


@router.get("/reports", response_model=list[WeeklyReportSummary])
def reports(request: Request) -> list[WeeklyReportSummary]:
    """Every weekly report, newest week first, with its summary numbers and alerts."""
    with Session(request.app.state.engine) as session:
        rows = session.scalars(select(WeeklyReport).order_by(WeeklyReport.week.desc())).all()
    return [
        WeeklyReportSummary(
            id=r.id, week=r.week, period_start=r.period_start, period_end=r.period_end,
            created_at=r.created_at, model_version=r.model_version, requests=r.requests,
            feedback_events=r.feedback_events, drift_share=r.drift_share,
            drifted_columns=r.drifted_columns, quality=r.quality, distribution=r.distribution,
            changes=r.changes, alert=r.alert, alert_reasons=r.alert_reasons, notes=r.notes,
            drift_requests=r.drift_requests,
            has_html=bool(r.html_path and Path(r.html_path).is_file()),
        )
        for r in rows
    ]  # fmt: skip


@router.get("/reports/{report_id}", response_class=FileResponse)
def report_html(
    request: Request, report_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
) -> FileResponse:
    """The report's self-contained HTML (Evidently's, with plots)."""
    with Session(request.app.state.engine) as session:
        row = session.get(WeeklyReport, report_id)
    if row is None:
        raise HTTPException(404, f"report_id: no weekly report {report_id}")
    if not row.html_path or not Path(row.html_path).is_file():
        raise HTTPException(404, f"report_id: report {report_id} ({row.week}) has no HTML on disk")
    return FileResponse(row.html_path, media_type="text/html")
