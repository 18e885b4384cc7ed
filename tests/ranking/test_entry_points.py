"""A ranker from another installed package registers through the `recsys.rankers` entry point."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsys.db.models import Model
from recsys.ranking import InteractionData, available_rankers, create_ranker, registry
from recsys.testing import RankerContract, checkerboard
from recsys.training.registry import UnknownRankerError, verify_ranker

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


def install(where: Path, distribution: str, module: str, source: str, entry_point: str) -> None:
    """What `pip install <distribution>` leaves behind: the module and its dist-info."""
    package = where / module.split(".")[0]
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / f"{module.split('.')[1]}.py").write_text(source)
    dist_info = where / f"{distribution.replace('-', '_')}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[recsys.rankers]\n{entry_point}\n")


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`pip install my-rankers`, the README's example."""
    install(
        tmp_path, "my-rankers", "my_rankers.random_ranker", README_EXAMPLE,
        "random = my_rankers.random_ranker:RandomRanker",
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    registry._RANKERS.pop("random", None)  # other tests see only the built-ins again
    sys.modules.pop("my_rankers.random_ranker", None)
    sys.modules.pop("my_rankers", None)


def test_a_broken_plugin_is_left_out_and_named_while_the_rest_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin whose entry point names a class its module lacks used to crash every command,
    `recsys train --model popularity` included."""
    install(
        tmp_path, "broken-rankers", "broken_rankers.mod", "X = 1\n",
        "broken = broken_rankers.mod:Missing",
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        names = available_rankers()
        assert "broken" not in names and {"popularity", "two_stage"} <= set(names)
        assert "broken_rankers.mod:Missing" in caplog.text
        create_ranker("popularity").fit(InteractionData.from_frame(checkerboard()))
        with pytest.raises(ValueError) as refused:
            create_ranker("broken")
        message = str(refused.value)
        assert "entry point broken = 'broken_rankers.mod:Missing'" in message
        assert "package 'broken-rankers'" in message and "AttributeError" in message
        with pytest.raises(UnknownRankerError, match="fix or reinstall the package"):
            verify_ranker(Model(version=7, algorithm="broken"))  # a version it trained earlier
    finally:
        registry._BROKEN.pop("broken", None)
        sys.modules.pop("broken_rankers.mod", None)
        sys.modules.pop("broken_rankers", None)


def test_the_readme_plugin_is_found_by_name_and_works(installed_plugin: Path) -> None:
    assert "random" in available_rankers()
    ranker = create_ranker("random", {"seed": 3})
    ranker.fit(InteractionData.from_frame(checkerboard()))
    recs = ranker.recommend("u0", 5)
    assert len(recs.item_ids) == 5 and np.all(np.diff(recs.scores) <= 0)
    assert type(ranker).__module__ == "my_rankers.random_ranker"


@pytest.mark.integration
def test_the_readme_plugin_trains_and_serves_without_touching_the_feature_repo(  # type: ignore[no-untyped-def]
    installed_plugin: Path, settings, engine, feature_store, serve_dataset
) -> None:
    """`recsys train --model random` works after `pip install`: the plugin names no
    FeatureService, reads no store features, and is logged with the repo's `default_v1`."""
    from recsys.data.synthetic import SyntheticConfig, generate_synthetic
    from recsys.training.registry import load_model
    from recsys.training.train import train_model

    data = generate_synthetic(SyntheticConfig(n_users=40, n_items=30))
    serve_dataset(data)
    row = train_model(settings, engine, feature_store, "random", {"seed": 5}, activate=False)
    assert row.algorithm == "random" and row.feature_service == "default_v1"
    assert Path(row.reference_path).is_file()
    served = load_model(row)
    user = str(data.interactions["user_id"].iloc[0])
    assert len(served.recommend(user, 5).item_ids) == 5


PLUGIN_TESTS = """
from my_rankers.random_ranker import RandomRanker
from recsys.testing import RankerContract


class TestRandom(RankerContract):
    def make_ranker(self):
        return RandomRanker({"seed": 1})
"""


def test_a_plugins_own_tests_inherit_the_contract_from_the_installed_package(
    installed_plugin: Path,
) -> None:
    """The README's plugin, tested by its own suite from its own directory: the contract comes
    from the installed `recsys` package, not from this checkout's tests."""
    (installed_plugin / "test_random.py").write_text(PLUGIN_TESTS)
    env = {**os.environ, "PYTHONPATH": str(installed_plugin)}  # what `pip install` gives it
    # Its own --basetemp: a pytest on the default one resets /tmp/pytest-of-<user> to mode 700,
    # which locks the embedded PostgreSQL (another user) out of its data directory under it, and
    # its next checkpoint PANICs (this session's servers died at teardown).
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_random.py",
         "--basetemp", str(installed_plugin / "pytest-tmp")],
        cwd=installed_plugin, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    contract_tests = [name for name in dir(RankerContract) if name.startswith("test_")]
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(rf"\b{len(contract_tests)} passed\b", run.stdout), run.stdout
