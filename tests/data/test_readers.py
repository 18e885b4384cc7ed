from pathlib import Path

import pandas as pd
import pytest

from recsys.data import DataFormatError
from recsys.data.generic_csv import read_interactions_csv
from recsys.data.movielens import read_ml_100k, read_ml_latest_small
from recsys.data.synthetic import SyntheticConfig, generate_synthetic
from tests.conftest import ML_LATEST_SMALL


def test_ml_latest_small_reads_every_rating_and_genre() -> None:
    data = read_ml_latest_small(ML_LATEST_SMALL)
    assert data.summary()["users"] == 610
    assert len(data.items) == 9742
    assert len(data.interactions) == 100836
    toy_story = data.items.set_index("item_id").loc["1"]
    assert toy_story["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert toy_story["attributes"]["year"] == 1995
    first = data.interactions.iloc[0]
    assert (first["user_id"], first["item_id"], first["rating"]) == ("1", "1", 4.0)
    assert first["occurred_at"] == pd.Timestamp(964982703, unit="s", tz="UTC")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_ml_latest_small_bad_rating_names_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path / "movies.csv", "movieId,title,genres\n1,A (1999),Drama\n2,B,Comedy\n")
    _write(
        tmp_path / "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,four,964982704\n",
    )
    with pytest.raises(DataFormatError) as err:
        read_ml_latest_small(tmp_path)
    assert err.value.line == 3
    assert "ratings.csv" in str(err.value) and "'four'" in str(err.value)


def test_unknown_movie_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "movies.csv", "movieId,title,genres\n1,A (1999),Drama\n")
    _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n1,7,3,2\n")
    with pytest.raises(DataFormatError, match=r"line 3: movieId '7' is not in movies.csv"):
        read_ml_latest_small(tmp_path)


def _ml100k(tmp_path: Path, data: str) -> Path:
    flags = "|".join(["0"] * 19)
    drama = "|".join("1" if g == 8 else "0" for g in range(19))
    _write(tmp_path / "u.data", data)
    (tmp_path / "u.item").write_bytes(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n"
        f"2|Caf\xe9 (1996)|01-Jan-1996||http://y|{drama}\n".encode("latin-1")
    )
    _write(tmp_path / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    return tmp_path


def test_ml_100k_layout(tmp_path: Path) -> None:
    data = read_ml_100k(_ml100k(tmp_path, "1\t1\t5\t874965758\n2\t2\t3\t876893171\n"))
    assert len(data.interactions) == 2
    items = data.items.set_index("item_id")
    assert items.loc["2", "title"] == "Café (1996)"
    assert items.loc["2", "genres"] == ["Drama"]
    assert data.users.set_index("user_id").loc["2", "attributes"]["age"] == 53


def test_ml_100k_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="u.data, line 2: 3 fields, but the format names 4"):
        read_ml_100k(_ml100k(tmp_path, "1\t1\t5\t874965758\n2\t2\t3\n"))
    # the wrong separator is named, not read as a line of one field and an empty item
    with pytest.raises(DataFormatError, match=r"line 1: 1 field, .* separated by '\\t'"):
        read_ml_100k(_ml100k(tmp_path, "1,1,5,874965758\n"))
    # a user line cut short is refused, not read with an empty gender and occupation
    _ml100k(tmp_path, "1\t1\t5\t874965758\n")
    _write(tmp_path / "u.user", "1|24|M|technician|85711\n2|53\n")
    with pytest.raises(DataFormatError, match="u.user, line 2: 2 fields"):
        read_ml_100k(tmp_path)


def test_generic_csv_with_iso_timestamps_and_implicit_rows(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "events.csv",
        "user,item,rating,timestamp\nu1,i1,5,2024-01-02T03:04:05Z\nu2,i1,,1700000000\n",
    )
    data = read_interactions_csv(path)
    assert list(data.interactions["user_id"]) == ["u1", "u2"]
    assert data.interactions["rating"].isna().tolist() == [False, True]
    assert data.interactions["occurred_at"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05Z")
    assert sorted(data.items["item_id"]) == ["i1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("user,item,timestamp\nu1,i1,yesterday\n", "line 2: timestamp is not a timestamp"),
        ("user,item,timestamp\nu1,,1700000000\n", "line 2: empty item"),
        ("user,timestamp\nu1,1700000000\n", "line 1: no item column"),
        # two names for one role: which one holds the users would be a guess
        (
            "user,user_id,item,timestamp\nu1,7,i1,1700000000\n",
            r"line 1: 2 user columns: \['user', 'user_id'\]; keep one of them",
        ),
        ("user,item,timestamp\nu1,i1,1700000000\nu1,i2,1,extra\n", "cannot parse"),
        # every row one field too many: pandas would shift each value one column over
        ("user,item,rating,timestamp\nu1,i1,4,1700000000,x\n", "line 2: 5 fields, but the header"),
        (
            "user,item,rating,timestamp\nu1,i1,4,1700000000\nu1,i2,-3,1700000000\n",
            "line 3: rating -3 is outside 0 to 10",
        ),
        ("user,item,rating\nu1,i1,4\n", "line 1: no timestamp column"),
        # a range check for every value, whatever its form (one file may mix both forms)
        (
            "user,item,timestamp\nu1,i1,99999999999999\nu1,i2,2023-01-01T00:00:00Z\n",
            r"line 2: timestamp out of range \(1970 to 2100\): '99999999999999'",
        ),
        (
            "user,item,timestamp\nu1,i1,1700000000\nu1,i2,1960-01-01T00:00:00Z\n",
            r"line 3: timestamp out of range \(1970 to 2100\)",
        ),
        # beyond the years pandas can hold, but still a time: out of range, not "no timestamp"
        ("user,item,timestamp\nu1,i1,2999-01-01T00:00:00Z\n", r"line 2: timestamp out of range"),
        ("user,item,timestamp\nu1,i1,0001-01-01T00:00:00Z\n", r"line 2: timestamp out of range"),
        # a blank line is skipped, but lines keep their numbers in the file
        ("user,item,timestamp\n\nu1,i1,1700000000\n  \nu1,i2,soon\n", "line 5: timestamp is not"),
    ],
)
def test_generic_csv_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        read_interactions_csv(_write(tmp_path / "bad.csv", body))


def test_generic_csv_mixes_timestamp_forms_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "events.csv",
        "user,item,timestamp\nu1,i1,1700000000\n\t\nu2,i1,2023-01-01T00:00:00+01:00\n\n",
    )
    data = read_interactions_csv(path)
    assert data.interactions["occurred_at"].tolist() == [
        pd.Timestamp(1700000000, unit="s", tz="UTC"),
        pd.Timestamp("2022-12-31T23:00:00Z"),
    ]
    # a line of empty fields is not blank: it is a row with its values missing
    with pytest.raises(DataFormatError, match="line 3: empty user"):
        read_interactions_csv(_write(path, "user,item,timestamp\nu1,i1,1\n,,\n\n"))


def test_movielens_readers_skip_blank_lines(tmp_path: Path) -> None:
    _write(tmp_path / "movies.csv", "movieId,title,genres\n1,A (1999),Drama\n\n")
    _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n \n2,1,3,2\n\n")
    assert read_ml_latest_small(tmp_path).interactions["user_id"].tolist() == ["1", "2"]
    with pytest.raises(DataFormatError, match="u.data, line 3: rating is not a number"):
        read_ml_100k(_ml100k(tmp_path, "1\t1\t5\t874965758\n\n2\t2\tx\t876893171\n"))
    assert len(read_ml_100k(_ml100k(tmp_path, "1\t1\t5\t874965758\n\n")).interactions) == 1


def test_a_blank_line_inside_a_quoted_title_drops_no_movie(tmp_path: Path) -> None:
    """Blank lines are found in the text, rows by their count: a title spanning lines shifts
    the count, and only rows with every field empty may be taken for blank lines."""
    _write(tmp_path / "movies.csv", 'movieId,title,genres\n1,"Foo\n\nBar",Comedy\n2,Baz,Drama\n')
    _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n1,2,3,2\n")
    assert read_ml_latest_small(tmp_path).items["item_id"].tolist() == ["1", "2"]


def test_lines_keep_their_numbers_after_a_title_spanning_lines(tmp_path: Path) -> None:
    """An error after a quoted field with line breaks names the line in the file (the rows
    count and the lines count differ there by the breaks)."""
    _write(
        tmp_path / "movies.csv", 'movieId,title,genres\n1,"Foo\nBar\r\nBaz",Comedy\n,Qux,Drama\n'
    )
    _write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n")
    with pytest.raises(DataFormatError, match="movies.csv, line 5: empty movieId"):
        read_ml_latest_small(tmp_path)
    _write(tmp_path / "events.csv", 'user,item,timestamp\n"u\n1",i1,1\n\nu2,i2,soon\n')
    with pytest.raises(DataFormatError, match="line 5: timestamp is not"):
        read_interactions_csv(tmp_path / "events.csv")


def test_synthetic_is_seeded_and_power_law() -> None:
    small = SyntheticConfig(n_users=200, n_items=150)
    a = generate_synthetic(small)
    b = generate_synthetic(small)
    c = generate_synthetic(small.model_copy(update={"seed": 7}))
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    assert not a.interactions.equals(c.interactions)
    counts = a.interactions["item_id"].value_counts()
    # A long tail: the top 10% of items take a far bigger share than a uniform catalogue would.
    assert counts.iloc[: len(counts) // 10].sum() / counts.sum() > 0.18  # uniform: 0.10
    assert a.items["genres"].map(len).between(1, 3).all()
    assert not a.interactions.duplicated(["user_id", "item_id"]).any()


def test_an_unknown_dataset_is_named_before_anything_else() -> None:
    from recsys.data.readers import read_dataset

    with pytest.raises(ValueError, match="unknown dataset 'nosuch'; choose one of synthetic"):
        read_dataset("nosuch")  # no --path: still the name that is wrong
