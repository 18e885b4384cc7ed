"""A ranker from another installed package registers through the `recsys.rankers` entry point."""

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from recsys.ranking import InteractionData, available_rankers, create_ranker, registry
from tests.ranking.contract import checkerboard

README_EXAMPLE = """
import numpy as np
from recsys.ranking.base import InteractionData, Ranker, RankerConfig

class RandomConfig(RankerConfig):
    seed: int = 0

class RandomRanker(Ranker):
    name = "random"
    Config = RandomConfig

    def _fit(self, data: InteractionData) -> None:
        self.scores_ = np.random.default_rng(self.config.seed).random(data.n_items)

    def _score_indices(self, user, items):
        return self.scores_[items]

    def _state(self):
        return {"scores": self.scores_}

    def _restore(self, state):
        self.scores_ = state["scores"]
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What `pip install my-rankers` leaves behind: the module and its dist-info entry points."""
    package = tmp_path / "my_rankers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "random_ranker.py").write_text(README_EXAMPLE)
    dist_info = tmp_path / "my_rankers-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-rankers\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [recsys.rankers]
            random = my_rankers.random_ranker:RandomRanker
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    registry._RANKERS.pop("random", None)  # other tests see only the built-ins again
    sys.modules.pop("my_rankers.random_ranker", None)
    sys.modules.pop("my_rankers", None)


def test_the_readme_plugin_is_found_by_name_and_works(installed_plugin: Path) -> None:
    assert "random" in available_rankers()
    ranker = create_ranker("random", {"seed": 3})
    ranker.fit(InteractionData.from_frame(checkerboard()))
    recs = ranker.recommend("u0", 5)
    assert len(recs.item_ids) == 5 and np.all(np.diff(recs.scores) <= 0)
    assert type(ranker).__module__ == "my_rankers.random_ranker"
