import numpy as np
import pytest

from recsys.serving.experiments import ExperimentConfig, assign_version, user_bucket


def test_split_follows_the_weights_and_is_stable() -> None:
    config = ExperimentConfig(weights={3: 0.9, 4: 0.1}, salt="s")
    users = [f"user-{i}" for i in range(20_000)]
    arms = np.array([assign_version(u, config) for u in users])
    share = float(np.mean(arms == 4))
    # binomial sd at n=20,000, p=0.1 is 0.0021: 5 sd either side
    assert 0.0894 < share < 0.1106
    assert [assign_version(u, config) for u in users[:100]] == arms[:100].tolist()


def test_salt_reshuffles_and_no_weights_means_no_split() -> None:
    users = [str(i) for i in range(2_000)]
    a = [user_bucket(u, "a") for u in users]
    b = [user_bucket(u, "b") for u in users]
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1
    assert assign_version("x", ExperimentConfig()) is None


def test_weights_must_be_usable() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ExperimentConfig(weights={1: -1.0, 2: 2.0})
    with pytest.raises(ValueError, match="positive sum"):
        ExperimentConfig(weights={1: 0.0})
