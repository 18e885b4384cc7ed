"""The Evidently workspace: one project, one run per report section per week, so `evidently ui
--workspace <reports>/workspace` shows the trend week by week. Rebuilding a week replaces its
runs (their ids are kept in the week's summary row): the new ones are added first, the old ones
deleted once the new row is committed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

PROJECT = "recsys weekly"


def _project(directory: Path) -> tuple[Any, Any]:
    from evidently.ui.workspace import Workspace

    directory.mkdir(parents=True, exist_ok=True)
    workspace = Workspace.create(str(directory))
    found = workspace.search_project(PROJECT)
    return workspace, found[0] if found else workspace.create_project(PROJECT)


def publish(directory: Path, week: str, snapshots: dict[str, Any], into: list[str]) -> None:
    """Add the week's snapshots (name → Evidently snapshot) as runs, appending each run's id to
    ``into`` as soon as it exists (so a failure half-way leaves no run the caller cannot find)."""
    workspace, project = _project(directory)
    for section, snapshot in snapshots.items():
        into.append(str(workspace.add_run(project.id, snapshot, name=f"{week} {section}").id))


def unpublish(directory: Path, run_ids: Iterable[str]) -> None:
    """Delete these runs (those of a week's previous build, or of a build that failed)."""
    run_ids = list(run_ids)
    if not run_ids:
        return
    workspace, project = _project(directory)
    existing = {str(run) for run in workspace.list_runs(project.id)}
    for run_id in run_ids:
        if run_id in existing:
            workspace.delete_run(project.id, run_id)
