"""The Evidently workspace: one project, one run per report section per week, so `evidently ui
--workspace <reports>/workspace` shows the trend week by week. Rebuilding a week replaces its
runs (their ids are kept in the week's summary row)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

PROJECT = "recsys weekly"


def publish(
    directory: Path, week: str, snapshots: dict[str, Any], replace: Iterable[str] = ()
) -> list[str]:
    """Add the week's snapshots (name → Evidently snapshot) and delete the runs they replace;
    returns the new run ids."""
    from evidently.ui.workspace import Workspace

    directory.mkdir(parents=True, exist_ok=True)
    workspace = Workspace.create(str(directory))
    found = workspace.search_project(PROJECT)
    project = found[0] if found else workspace.create_project(PROJECT)
    existing = {str(run) for run in workspace.list_runs(project.id)}
    for run_id in replace:
        if run_id in existing:
            workspace.delete_run(project.id, run_id)
    return [
        str(workspace.add_run(project.id, snapshot, name=f"{week} {section}").id)
        for section, snapshot in snapshots.items()
    ]
