"""combined_html on real Evidently snapshots: no database, no servers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.evidently_document import combined_html
from monitoring.evidently_quality import run_quality_report
from monitoring.evidently_report import run_drift_report

# Evidently's bundle declares its icon font once per document it renders
BUNDLE_MARKER = "@font-face"


def _snapshots(tmp_path: Path):  # type: ignore[no-untyped-def]
    from evidently.core.report import Snapshot

    rng = np.random.default_rng(7)
    frame = lambda shift: pd.DataFrame(  # noqa: E731
        {"score": rng.normal(shift, 1.0, 400), "genre": rng.choice(list("abc"), 400)}
    )
    drift = run_drift_report(frame(0.0), frame(1.0), tmp_path, "drift", html=False)
    served = pd.DataFrame(
        {"request_id": ["r1"] * 3 + ["r2"] * 3, "item_id": list("abcabd"), "rank": [1, 2, 3] * 2}
    )
    clicks = pd.DataFrame({"request_id": ["r1"], "item_id": ["b"]})
    quality, _ = run_quality_report(served, clicks, 10)
    return quality, Snapshot.load(str(drift.json_path)), drift


def test_snapshots_share_one_document_and_one_bundle(tmp_path: Path) -> None:
    quality, drift, result = _snapshots(tmp_path)
    assert result.html_path is None and not (tmp_path / "drift.html").exists()
    alone = [s.get_html_str(as_iframe=False) for s in (quality, drift)]
    assert all(doc.count(BUNDLE_MARKER) == 1 for doc in alone)

    page = combined_html([("Online quality", quality), ("Feature and score drift", drift)])

    assert page.count(BUNDLE_MARKER) == 1
    # both reports' content is there, each under its header, in the order given
    assert page.index("Online quality") < page.index("NDCG") < page.index("Feature and score drift")
    assert page.index("Feature and score drift") < page.index("Share of Drifted Columns")
    assert "Value Drift for column" in page  # the drift report's tests come along
    # one bundle, not two: the page is barely larger than the larger report alone
    assert len(page) < 1.2 * max(map(len, alone)) < 0.7 * sum(map(len, alone))


def test_nothing_to_render_is_an_error() -> None:
    with pytest.raises(ValueError, match="no snapshot"):
        combined_html([])
