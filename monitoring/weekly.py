"""`recsys monitor weekly`: one ISO week of what the API served, for the weekly review.

From the serve log and the feedback attributed to it (events carrying a served ``request_id``):

- **feature and score drift** of the served rows against the model's training reference
  (Evidently, methods pinned per column type: :mod:`monitoring.evidently_report`);
- **what was served**: catalogue coverage, novelty, popularity bias, personalisation;
- **online quality**: CTR, hit rate, NDCG@k and MRR@k (:mod:`monitoring.online_quality`);
- **week over week**: each number's relative change against the previous week's report.

Writes under ``reports/weekly/<week>/``: ``report.html`` (one self-contained page: the summary,
then Evidently's quality and drift reports with their plots), the reloadable Evidently snapshots
``quality.json`` and ``drift.json``; one summary row per week in ``weekly_reports``; and the
snapshots as runs of the Evidently workspace project "recsys weekly" under ``reports/workspace``
(``evidently ui --workspace …`` shows the weeks side by side). Building a week again replaces its
files, row and runs (same data, same report), so a retried cron job never duplicates. An alert
is raised when the drifted share of columns or a quality drop crosses the thresholds in settings,
and when a week served nothing after the API had served before (a row and a page that say so).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from monitoring.drift import (
    SMALL_SAMPLE_REQUESTS,
    NoServedDataError,
    NothingToCompareError,
    ReferenceUnavailableError,
    drift_sample,
    requests_per_version,
)
from monitoring.drift_noise import NOISE_ALPHA
from monitoring.evidently_document import combined_html
from monitoring.evidently_quality import run_quality_report
from monitoring.online_quality import (
    distribution,
    drop_statistics,
    effective_lists,
    per_request,
    positive_feedback,
    quality,
    quality_of,
)
from monitoring.quality_drop import DROP_ALPHA, MIN_USERS, drop_p_value, spread_drop_p_value
from monitoring.served import read_served_slots
from monitoring.weekly_page import weekly_page
from monitoring.workspace import publish, unpublish
from recsys.config import Settings
from recsys.db.models import WeeklyReport
from recsys.evaluation.metrics import item_user_counts

logger = logging.getLogger(__name__)

# ASCII digits only ("\d" also takes other scripts' digits), matched whole (a "$" would let a
# trailing newline through, which the 8-character column then refused after files were written)
WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
#: the numbers compared week over week, and which direction is bad
WATCHED = {"quality.ctr": "down", "quality.ndcg": "down", "quality.hit_rate": "down"}


@dataclass(frozen=True)
class Week:
    name: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, name: str) -> Week:
        match = WEEK.fullmatch(name)
        if not match:
            raise ValueError(f"week must look like 2026-W47, got {name!r}")
        year, number = int(match[1]), int(match[2])
        try:
            monday = date.fromisocalendar(year, number, 1)
            start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
            end = start + timedelta(days=7)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"{name} is not an ISO week that can be reported on: {exc}") from exc
        return cls(name, start, end)

    @classmethod
    def last_full(cls, now: datetime | None = None) -> Week:
        """The most recent ISO week that has ended."""
        today = (now or datetime.now(UTC)).date()
        year, number, _ = (today - timedelta(days=7)).isocalendar()
        return cls.parse(f"{year}-W{number:02d}")

    def next(self) -> Week:
        year, number, _ = (self.start + timedelta(days=7)).isocalendar()
        return Week.parse(f"{year}-W{number:02d}")

    def previous(self) -> Week:
        year, number, _ = (self.start - timedelta(days=7)).isocalendar()
        return Week.parse(f"{year}-W{number:02d}")


def _attributed_events(engine: Engine, week: Week) -> pd.DataFrame:
    """Events answering a request served in the week (whenever they arrived)."""
    sql = text(
        "SELECT e.request_id::text AS request_id, e.item_id, e.event_type, e.rating "
        "FROM events e JOIN served_requests s ON s.request_id = e.request_id "
        "WHERE s.served_at >= :start AND s.served_at < :end AND s.shadow_of IS NULL"
    )
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params={"start": week.start, "end": week.end})


def _popularity_before(engine: Engine, week: Week) -> tuple[dict[str, int], int, frozenset[str]]:
    """Item popularity (users per item) and users from the interactions dated before the week:
    what was known when it began, so building the week again later, after more events came in,
    gives the same novelty and popularity bias."""
    with engine.connect() as conn:
        interactions = pd.read_sql_query(
            text("SELECT user_id, item_id FROM interactions WHERE occurred_at < :start"),
            conn,
            params={"start": week.start},
        )
        catalogue = frozenset(conn.execute(text("SELECT item_id FROM items")).scalars())
    return item_user_counts(interactions), interactions["user_id"].nunique(), catalogue


def _changes(current: dict[str, float], previous: WeeklyReport | None) -> dict[str, float]:
    if previous is None:
        return {}
    before = {f"quality.{k}": v for k, v in previous.quality.items()}
    before |= {f"distribution.{k}": v for k, v in previous.distribution.items()}
    if previous.drift_share is not None:
        before["drift_share"] = previous.drift_share
    return {
        name: (value - before[name]) / abs(before[name])
        for name, value in current.items()
        if name in before and before[name]
    }


def build_weekly_report(
    settings: Settings,
    engine: Engine,
    week: Week | None = None,
    timings: dict[str, float] | None = None,
) -> WeeklyReport:
    """Build (or rebuild) a week's report; ``timings`` receives seconds per stage."""
    week = week or Week.last_full()
    clock = [time.perf_counter()]

    def mark(stage: str) -> None:
        now = time.perf_counter()
        if timings is not None:
            timings[stage] = now - clock[0]
        clock[0] = now

    served = read_served_slots(engine, week.start, week.end)
    if served.empty:
        return _quiet_week(settings, engine, week)
    mark("read served slots")
    k = settings.monitor_k
    events = _attributed_events(engine, week)
    feedback = positive_feedback(events)
    popularity, n_users, catalogue = _popularity_before(engine, week)
    mark("read feedback and popularity before the week")
    per_list = per_request(served, feedback, k)
    online = quality_of(per_list)
    shown = distribution(served, popularity, n_users, catalogue, k)
    mark("online quality and distribution (all lists)")

    final_dir, workspace_dir = _folders(settings, week)
    # Built in a fresh folder beside the week's, swapped in once the summary row is committed:
    # a build that fails on the way leaves the last build whole (files, row and workspace runs)
    # and nothing of its own (an audit saw a failed rebuild leave new drift files beside the old
    # page and row, and duplicate workspace runs after the retry).
    with _one_build(engine, week, final_dir, workspace_dir) as (out_dir, runs):
        versions = requests_per_version(served)
        version = next(iter(versions), None)
        # A reference that cannot be read is reported and alerted on, never the end of the report:
        # the rest of the week's numbers are still worth reviewing.
        reference_problem = no_drift_because = None
        drift = sample = None
        try:
            sample = drift_sample(
                engine, week.start, week.end, served, settings.monitor_drift_max_requests
            )
        except ReferenceUnavailableError as exc:
            no_drift_because = str(exc)
            reference_problem = f"feature drift not computed: {exc}"
        except NothingToCompareError as exc:
            no_drift_because = str(exc)
        if sample is not None:
            from monitoring.evidently_report import run_drift_report

            drift = run_drift_report(
                sample.current, sample.reference, out_dir, "drift",
                drift_share=settings.monitor_drift_alert, timestamp=week.start, html=False,
            )  # fmt: skip
        mark("feature drift (Evidently, sampled)")
        # Evidently's per-k tables cost time per list: they get a uniform sample of lists
        # (request ids are random), the summary numbers above use every list. Lists that served
        # nothing have no slot to show Evidently; the summary counts them as misses.
        shown_slots = served.dropna(subset=["item_id"]).astype({"rank": "int64"})
        empty_lists = served["request_id"].nunique() - shown_slots["request_id"].nunique()
        sampled = shown_slots[
            shown_slots["request_id"].isin(_sample_ids(shown_slots, settings.monitor_sample_lists))
        ]
        out_dir.mkdir(parents=True, exist_ok=True)
        quality_snapshot = None
        if not sampled.empty:
            quality_snapshot, evidently_values = run_quality_report(
                sampled,
                feedback[feedback["request_id"].isin(set(sampled["request_id"]))],
                k,
                week.start,
            )
            (out_dir / "quality.json").write_text(quality_snapshot.dumps(), encoding="utf-8")
        mark("quality tables (Evidently, sampled)")

        current = {f"quality.{k_}": v for k_, v in online.items()}
        current |= {f"distribution.{k_}": v for k_, v in shown.items()}
        if drift is not None:
            current["drift_share"] = drift.drift_share
        with Session(engine, expire_on_commit=False) as session:
            previous = session.scalar(
                select(WeeklyReport).where(WeeklyReport.week == week.previous().name)
            )
        changes = _changes(current, previous)

        reasons = [reference_problem] if reference_problem else []
        if drift is not None and drift.drift_share >= settings.monitor_drift_alert:
            drifted = sorted(c for c, v in drift.columns.items() if v["drifted"])
            reasons.append(
                f"feature drift: {drift.drifted_columns} of {drift.total_columns} columns "
                f"({', '.join(drifted)})"
            )
        quality_notes = []
        ctr_lists = effective_lists(served, k)
        statistics = drop_statistics(served, per_list)
        # Which model served most of each week: a fall with a new model is read differently
        switched = ""
        if previous is not None and previous.model_version and version != previous.model_version:
            switched = f" (model v{previous.model_version} then, v{version} now)"
        for name, bad in WATCHED.items():
            change = changes.get(name)
            if change is None or bad != "down" or change > -settings.monitor_quality_drop_alert:
                continue
            assert previous is not None  # a change needs last week's row
            metric = name.removeprefix("quality.")
            p_value, basis = _drop_p_value(metric, previous, statistics[metric], online[metric])
            fell = f"{name} fell {-change:.0%} against {week.previous().name}" + switched
            if p_value < DROP_ALPHA:
                reasons.append(fell)
            else:
                quality_notes.append(
                    f"{fell}, within the noise of {basis} (p = {p_value:.2f}): not an alert"
                )

        values = {name: value for name, value in current.items() if name != "quality.requests"}
        period = _period(week)
        if datetime.now(UTC) < week.end:
            last = pd.Timestamp(served["served_at"].max())
            last = last.tz_localize("UTC") if last.tzinfo is None else last.tz_convert("UTC")
            period += f" (not over: the last request was served at {last:%Y-%m-%d %H:%M})"
        fallback_requests = served.loc[served["fallback"], "request_id"].nunique()
        degraded_requests = served.loc[served["degraded"], "request_id"].nunique()
        summary = {
            "week": week.name,
            "period (UTC)": period,
            "model versions (personalised requests)": ", ".join(
                f"v{v}: {n}" for v, n in versions.items()
            )
            or "none",
            "requests": f"{int(online['requests'])} ({fallback_requests} cold-start fallback, "
            f"{degraded_requests} degraded)",
            "positive feedback events": len(feedback),
        }
        if quality_snapshot is not None:
            summary[
                f"Evidently NDCG / MRR / hit rate ({sampled['request_id'].nunique()} lists)"
            ] = ", ".join(f"{evidently_values[m]:.4f}" for m in ("ndcg", "mrr", "hit_rate"))
        notes = list(quality_notes)
        if degraded_requests:
            # an online-store outage shows up as a quality fall: say so beside it. The serve log
            # does not record which of the two causes it was; the API's log names it.
            notes.append(
                f"{degraded_requests} of {int(online['requests'])} requests were answered degraded "
                "(the online store did not answer, or the model's FeatureService no longer "
                "serves a feature it was trained on: the API's log says which; the answers were "
                "the generator's order or popular items); the quality above counts them"
            )
        if empty_lists:
            summary["empty lists served"] = f"{empty_lists} of {int(online['requests'])} requests"
            if empty_lists == online["requests"]:
                reasons.append(f"every request of {week.name} was answered with an empty list")
        if drift is None:
            summary["feature drift"] = f"not computed: {no_drift_because}"
            notes.append(f"feature drift was not computed: {no_drift_because}")
        else:
            assert sample is not None
            summary["feature drift sample"] = (
                f"{sample.requests} logged requests of v{sample.version} (of "
                f"{sample.version_requests} it served), top {sample.reference_k} rows each, "
                f"against {len(sample.reference)} reference rows; alert at a drifted share of "
                f"{settings.monitor_drift_alert:g}"
            )
            within_noise = sorted(
                c for c, v in drift.columns.items() if v["over_threshold"] and not v["drifted"]
            )
            if within_noise:
                notes.append(
                    f"{len(within_noise)} column(s) over the drift threshold are within the "
                    f"sampling noise of {sample.requests} requests against "
                    f"{len(sample.reference)} reference rows (permutation test, "
                    f"p >= {NOISE_ALPHA:g}), so not counted as drift: " + ", ".join(within_noise)
                )
            if sample.requests < SMALL_SAMPLE_REQUESTS:
                notes.append(
                    f"drift was tested on {sample.requests} requests: fewer than "
                    f"{SMALL_SAMPLE_REQUESTS} can show only large shifts"
                )
        if len(versions) > 1:
            notes.append(
                f"{len(versions)} model versions served this week; drift compares v{version} "
                "only, the quality above mixes them (by version below)"
            )
            for v in versions:  # most requests first
                own = quality(served[served["model_version"] == v], feedback, k)
                summary[f"quality of v{v} ({int(own['requests'])} requests)"] = (
                    f"CTR {own['ctr']:.4f}, NDCG {own['ndcg']:.4f}, hit rate {own['hit_rate']:.4f}"
                )
        if switched:
            notes.append(f"the model that served most requests changed since last week{switched}")
        from evidently.core.report import Snapshot  # loaded already by the reports above

        snapshots = {"quality": quality_snapshot} if quality_snapshot is not None else {}
        if drift is not None:
            snapshots["drift"] = Snapshot.load(str(drift.json_path))
        titles = {"quality": "Online quality", "drift": "Feature and score drift"}
        evidently = [(titles[name], snapshot) for name, snapshot in snapshots.items()]
        sections = (
            [("Evidently: " + "; ".join(t.lower() for t, _ in evidently), combined_html(evidently))]
            if evidently
            else []
        )
        page = out_dir / "report.html"
        html = weekly_page(summary, values, changes, reasons, notes, sections)
        page.write_text(html, encoding="utf-8")
        publish(workspace_dir, week.name, snapshots, into=runs)

        row = WeeklyReport(
            week=week.name,
            period_start=week.start,
            period_end=week.end,
            model_version=version,
            requests=int(online["requests"]),
            feedback_events=len(feedback),
            drift_share=drift.drift_share if drift else None,
            drift_requests=sample.requests if drift and sample else None,
            drifted_columns=sorted(c for c, v in drift.columns.items() if v["drifted"])
            if drift
            else [],
            columns=drift.columns if drift else {},
            quality=online,
            distribution=shown,
            changes=changes,
            alert=bool(reasons),
            alert_reasons=reasons,
            notes=notes,
            ctr_effective_lists=ctr_lists,
            drop_statistics=statistics,
            html_path=str(final_dir / page.name),
            json_path=str(final_dir / drift.json_path.name)
            if drift
            else str(final_dir / "quality.json")
            if quality_snapshot is not None
            else None,
            workspace_runs=list(runs),  # a copy: runs is cleared once committed
        )
        row = _commit(engine, row, out_dir, final_dir, workspace_dir, runs)
        mark("page, workspace and summary row")
        return row


def _folders(settings: Settings, week: Week) -> tuple[Path, Path]:
    """(the week's folder, the Evidently workspace)."""
    return settings.reports_dir / "weekly" / week.name, settings.reports_dir / "workspace"


def _period(week: Week) -> str:
    return f"{week.start:%Y-%m-%d} to {week.end - timedelta(days=1):%Y-%m-%d}"


def _quiet_week(settings: Settings, engine: Engine, week: Week) -> WeeklyReport:
    """A week the API served nothing in, after it had served before: a row and a page that say
    so, with an alert once the week is over (traffic that stopped, or a serve log that is no
    longer written, is what the reviewer must see, not a week missing from the list). Before
    the first request ever served there is nothing to watch yet: an error, as before."""
    now = datetime.now(UTC)
    if now < week.start:  # a typo or a far-off week must not leave a row at the top of the list
        raise NoServedDataError(f"{week.name} has not started yet")
    with engine.connect() as conn:
        served_before = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM served_requests "
                "WHERE served_at < :start AND shadow_of IS NULL)"
            ),
            {"start": week.start},
        ).scalar_one()
    if not served_before:
        raise NoServedDataError(f"nothing was served in {week.name}, nor before it")
    over = now >= week.end
    reasons, notes = [], []
    if over:
        reasons.append(
            f"nothing was served in {week.name}: no request reached the API, or its serve log "
            "was not written"
        )
    else:
        notes.append(f"nothing was served in {week.name} so far (the week is not over)")
    summary = {"week": week.name, "period (UTC)": _period(week), "requests": 0}
    final_dir, workspace_dir = _folders(settings, week)
    with _one_build(engine, week, final_dir, workspace_dir) as (out_dir, runs):
        out_dir.mkdir(parents=True, exist_ok=True)
        page = out_dir / "report.html"
        page.write_text(weekly_page(summary, {}, {}, reasons, notes, []), encoding="utf-8")
        row = WeeklyReport(  # every column given: a rebuild merges onto the last build's row
            week=week.name,
            period_start=week.start,
            period_end=week.end,
            model_version=None,
            requests=0,
            feedback_events=0,
            drift_share=None,
            drift_requests=None,
            drifted_columns=[],
            columns={},
            quality={},
            distribution={},
            changes={},
            alert=bool(reasons),
            alert_reasons=reasons,
            notes=notes,
            ctr_effective_lists=None,
            drop_statistics=None,
            html_path=str(final_dir / page.name),
            json_path=None,
            workspace_runs=[],
        )
        return _commit(engine, row, out_dir, final_dir, workspace_dir, runs)


def _commit(
    engine: Engine,
    row: WeeklyReport,
    built: Path,
    final_dir: Path,
    workspace_dir: Path,
    runs: list[str],
) -> WeeklyReport:
    """Store the week's row (a rebuild updates it in place: its id, which links point at, stays),
    then swap the built folder in and drop the last build's workspace runs."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        last = session.execute(
            select(WeeklyReport.id, WeeklyReport.workspace_runs).where(
                WeeklyReport.week == row.week
            )
        ).first()
        row.id, replaced = (last.id, last.workspace_runs) if last else (None, [])
        row.created_at = datetime.now(UTC)  # when this build was made, not the first one
        row = session.merge(row) if row.id is not None else row
        session.add(row)
    runs.clear()  # the committed row's now: no later failure may delete them
    try:
        _swap_in(built, final_dir)
        unpublish(workspace_dir, replaced or [])  # the last build's runs, now this one is in
    except Exception:  # committed: what is left is tidying up, never a reason to undo the row
        logger.exception("weekly report %s: committed, but tidying up after it failed", row.week)
    return row


@contextmanager
def _one_build(
    engine: Engine, week: Week, final_dir: Path, workspace_dir: Path
) -> Iterator[tuple[Path, list[str]]]:
    """(a fresh folder beside ``final_dir`` to build in, the list to record new workspace run
    ids in) under the week's lock: one build of a week at a time (a cron job and a person, or a
    retried job: the second waits, then builds on the first's row). A build that fails leaves
    nothing of its own: its folder and the runs recorded are removed."""
    out_dir = final_dir.parent / f".{week.name}.building-{uuid.uuid4().hex[:8]}"
    runs: list[str] = []
    key = {"key": f"weekly:{week.name}"}
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), key)
        try:
            _sweep(final_dir)
            yield out_dir, runs
        except BaseException:
            shutil.rmtree(out_dir, ignore_errors=True)
            unpublish(workspace_dir, runs)
            raise
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), key)


def _swap_in(built: Path, final: Path) -> None:
    """Replace ``final`` with ``built``: two renames within one folder, the old one removed after
    (and put back if the second rename fails, so the week always has its last whole build)."""
    old = final.parent / f".{final.name}.replaced-{uuid.uuid4().hex[:8]}"
    had_one = final.exists()
    if had_one:
        final.rename(old)
    try:
        built.rename(final)
    except BaseException:
        if had_one:
            old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _sweep(final: Path) -> None:
    """Folders a killed build of this week left behind (under the week's lock: none is live)."""
    if final.parent.is_dir():
        for leftover in final.parent.glob(f".{final.name}.*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _sample_ids(served: pd.DataFrame, n: int) -> set[str]:
    ids = pd.unique(served["request_id"])
    return set(sorted(ids)[:n])  # uuid order is random order


def _drop_p_value(
    metric: str, previous: WeeklyReport, now: dict[str, float], mean_now: float
) -> tuple[float, str]:
    """(p of last week's mean falling to this week's by chance, what it was measured against):
    each week's users' spread when both have enough users, else the worst-case bound
    (:mod:`monitoring.quality_drop`)."""
    mean_before = previous.quality[metric]
    before = (previous.drop_statistics or {}).get(metric)
    if before and min(before["users"], now["users"]) >= MIN_USERS:
        p_value = spread_drop_p_value(mean_before, before["variance"], mean_now, now["variance"])
        return p_value, f"how {now['users']} and {before['users']} users' numbers spread"
    if before:
        n_before, unit = before["n"], "effective users"
    elif metric == "ctr" and previous.ctr_effective_lists:
        n_before, unit = previous.ctr_effective_lists, "effective lists"
    else:
        n_before, unit = previous.requests, "requests"
    p_value = drop_p_value(mean_before, n_before, mean_now, now["n"])
    return p_value, (
        f"{now['n']:.0f} effective users and {n_before:.0f} {unit} (a user's requests as one "
        "draw: too few users to estimate a spread from)"
    )
