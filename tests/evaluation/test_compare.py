import numpy as np
import pytest

from recsys.evaluation.compare import relative_difference


def _users(values: np.ndarray) -> dict[str, float]:
    return {f"u{i}": float(v) for i, v in enumerate(values)}


def test_a_ranker_against_itself_differs_by_nothing() -> None:
    same = _users(np.linspace(0.1, 0.9, 30))
    diff = relative_difference(same, same)
    assert (diff.estimate, diff.low, diff.high) == (0.0, 0.0, 0.0)


def test_a_consistent_gain_has_an_interval_above_zero() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.6, 500)
    better = base * 1.10 + rng.normal(0, 0.01, 500)
    diff = relative_difference(_users(better), _users(base))
    assert diff.estimate == pytest.approx(better.mean() / base.mean() - 1)
    assert 0.0 < diff.low < diff.estimate < diff.high < 0.2
    text = f"{diff.estimate:+.1%} [{diff.low:+.1%}, {diff.high:+.1%}]"
    assert str(diff) == text


def test_a_few_users_cannot_tell_a_small_difference() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 20)
    noisy = np.clip(base + rng.normal(0.02, 0.3, 20), 0, 1)
    diff = relative_difference(_users(noisy), _users(base))
    assert diff.low < 0.0 < diff.high


def test_only_shared_users_are_compared_and_some_must_be() -> None:
    diff = relative_difference({"a": 1.0, "b": 0.5, "c": 0.0}, {"b": 0.25, "c": 0.25, "d": 1.0})
    assert diff.estimate == pytest.approx(0.0)  # b and c: 0.25 against 0.25
    with pytest.raises(ValueError, match="share no"):
        relative_difference({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="not positive"):
        relative_difference({"a": 1.0}, {"a": 0.0})
