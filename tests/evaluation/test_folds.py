import pandas as pd
import pytest

from recsys.evaluation.folds import MAX_TEMPORAL_FOLDS, fold_count, validation_fold
from recsys.evaluation.runner import EvaluationSpec, split_data

ROW = ["user_id", "item_id", "occurred_at"]


def keys(frame: pd.DataFrame) -> set:
    return set(map(tuple, frame[ROW].astype(str).to_numpy()))


@pytest.mark.parametrize("protocol", ["temporal", "random"])
def test_no_validation_fold_reads_a_row_of_the_test_split(settings, protocol) -> None:  # type: ignore[no-untyped-def]
    outer = validation_fold(protocol, 0, dataset="synthetic")
    test_spec = EvaluationSpec(
        dataset="synthetic", protocol=protocol, test_ratio=outer.test_ratio, seed=outer.seed
    )
    _, train, test = split_data(test_spec, settings)
    validations = []
    for fold in range(3):
        _, fit, validation = split_data(
            validation_fold(protocol, fold, dataset="synthetic"), settings
        )
        assert keys(fit) | keys(validation) <= keys(train)
        assert not keys(validation) & keys(test)
        validations.append(keys(validation))
    assert len({frozenset(v) for v in validations}) == 3  # three different splits


def test_temporal_folds_end_earlier_and_stop_where_too_little_is_left() -> None:
    ratios = [validation_fold("temporal", f).test_ratio for f in range(MAX_TEMPORAL_FOLDS)]
    assert ratios == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    with pytest.raises(ValueError, match="temporal folds"):
        validation_fold("temporal", MAX_TEMPORAL_FOLDS)
    with pytest.raises(ValueError, match="protocol"):
        validation_fold("files", 0)


def test_fold_count_defaults_per_protocol_and_refuses_what_cannot_run() -> None:
    assert fold_count("temporal", None) == MAX_TEMPORAL_FOLDS
    assert fold_count("random", None) == 3
    assert fold_count("random", 5) == 5
    for protocol, folds in (("temporal", MAX_TEMPORAL_FOLDS + 1), ("temporal", 0), ("random", 101)):
        with pytest.raises(ValueError, match="--folds"):
            fold_count(protocol, folds)
