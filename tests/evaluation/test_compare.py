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


def test_repeated_users_are_resampled_together_so_the_interval_is_not_too_narrow() -> None:
    # 40 users, each counted on three overlapping splits: the same values three times over are
    # no more evidence than once, and resampling the copies apart pretends they are.
    rng = np.random.default_rng(2)
    base = rng.uniform(0.1, 0.9, 40)
    other = np.clip(base + rng.normal(0.03, 0.2, 40), 0, 1)
    a = {f"{split}/u{i}": float(v) for split in range(3) for i, v in enumerate(other)}
    b = {f"{split}/u{i}": float(v) for split in range(3) for i, v in enumerate(base)}
    users = {key: key.split("/")[1] for key in a}
    naive = relative_difference(a, b)
    clustered = relative_difference(a, b, clusters=users)
    once = relative_difference(_users(other), _users(base))
    assert clustered.estimate == naive.estimate == pytest.approx(once.estimate)
    assert (clustered.high - clustered.low) > 1.5 * (naive.high - naive.low)
    assert (clustered.low, clustered.high) == pytest.approx((once.low, once.high), abs=0.02)
