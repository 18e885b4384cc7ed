import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from recsys.data.loader import load_dataset
from recsys.data.queries import read_app_dataset
from recsys.data.readers import read_dataset
from recsys.data.schema import DataFormatError, Dataset
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from tests.data.test_readers import _ml100k

pytestmark = pytest.mark.integration


def _counts(engine) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("users", "items", "interactions")
        )


def test_load_round_trips_movielens(engine, settings) -> None:  # type: ignore[no-untyped-def]
    data = read_dataset("movielens", settings.dataset_path)
    assert load_dataset(engine, data) == {"users": 610, "items": 9742, "interactions": 100836}
    assert _counts(engine) == (610, 9742, 100836)
    with engine.connect() as conn:
        genres = conn.execute(text("SELECT genres FROM items WHERE item_id = '1'")).scalar_one()
        assert genres == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]


def test_failed_load_changes_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    good = generate_synthetic(SyntheticConfig(n_users=50, n_items=40))
    load_dataset(engine, good)
    before = _counts(engine)
    # An interaction whose item is missing from the catalogue breaks a foreign key mid-COPY.
    broken = pd.concat(
        [good.interactions, good.interactions.iloc[:1].assign(item_id="no-such-item")],
        ignore_index=True,
    )
    with pytest.raises(Exception, match="foreign key"):
        load_dataset(engine, Dataset("broken", good.users, good.items, broken))
    assert _counts(engine) == before


@pytest.mark.parametrize(
    ("dataset", "file", "body"),
    [
        ("movielens", "ratings.csv", "userId,movieId,rating,timestamp\n"),
        ("ml-100k", "u.data", ""),
        ("ml-100k", "u.data", "\n"),
    ],
    ids=["header-only-ratings.csv", "empty-u.data", "blank-u.data"],
)
def test_a_dataset_without_interactions_is_refused_and_writes_nothing(  # type: ignore[no-untyped-def]
    engine, settings, tmp_path: Path, dataset: str, file: str, body: str
) -> None:
    load_dataset(engine, generate_synthetic(SyntheticConfig(n_users=50, n_items=40)))
    before = _counts(engine)
    if dataset == "movielens":  # the real catalogue: only the ratings are missing
        shutil.copy(settings.dataset_path / "movies.csv", tmp_path)
        (tmp_path / file).write_text(body)
    else:
        _ml100k(tmp_path, body)
    with pytest.raises(DataFormatError, match=f"{file}: no interactions"):
        load_dataset(engine, read_dataset(dataset, tmp_path))
    assert _counts(engine) == before


def test_the_loader_refuses_a_dataset_without_interactions(engine) -> None:  # type: ignore[no-untyped-def]
    good = generate_synthetic(SyntheticConfig(n_users=50, n_items=40))
    load_dataset(engine, good)
    before = _counts(engine)
    empty = Dataset("empty", good.users, good.items, good.interactions.iloc[:0])
    with pytest.raises(DataFormatError, match="empty: no interactions"):
        load_dataset(engine, empty)
    assert _counts(engine) == before


def test_attributes_are_stored_as_json_objects(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_dataset(engine, read_dataset("ml-100k", _ml100k(tmp_path, "1\t1\t5\t874965758\n")))
    with engine.connect() as conn:
        for table in ("users", "items"):
            kinds = conn.execute(text(f"SELECT DISTINCT jsonb_typeof(attributes) FROM {table}"))
            assert kinds.scalars().all() == ["object"], table
        age = "SELECT attributes->>'age' FROM users WHERE user_id = '2'"
        assert conn.execute(text(age)).scalar_one() == "53"
    copy = read_app_dataset(engine)
    assert copy.users.set_index("user_id").loc["2", "attributes"] == {
        "age": 53, "gender": "F", "occupation": "other"
    }  # fmt: skip
    assert copy.items.set_index("item_id").loc["1", "attributes"]["year"] == 1995
