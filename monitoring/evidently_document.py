"""Several Evidently snapshots as one HTML document.

Every document Evidently renders carries its own copy of its JavaScript and fonts (3.6 MB with
evidently 0.7), so a page that embedded the weekly quality and drift reports separately weighed
9 MB, nearly all of it the same bundle twice. Here the snapshots' widgets go into one document,
each snapshot's under a header, and the bundle is carried once.

Only public parts are used: ``Snapshot.to_snapshot_model`` / ``load_model`` and the widget
helpers Evidently's own metrics render with. Headers are flat widgets, not nested groups: the
renderer's top level is already a group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def combined_html(sections: Sequence[tuple[str, Any]]) -> str:
    """One standalone HTML document of ``(title, evidently Snapshot)`` pairs, in order."""
    from evidently.core.report import Snapshot
    from evidently.legacy.renderers.html_widgets import header_text

    models = [(title, snapshot.to_snapshot_model()) for title, snapshot in sections]
    if not models:
        raise ValueError("no snapshot to render")
    widgets, metric_results, top_level = [], {}, []
    for title, model in models:
        widgets += [header_text(label=title), *model.widgets, *model.tests_widgets]
        metric_results |= model.metric_results
        top_level += model.top_level_metrics
    first = models[0][1]
    combined = first.copy(
        update={
            "name": " + ".join(title for title, _ in models),
            "metric_results": metric_results,
            "top_level_metrics": top_level,
            "widgets": widgets,
            "tests_widgets": [],
        }
    )
    return Snapshot.load_model(combined).get_html_str(as_iframe=False)
