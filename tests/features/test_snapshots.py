from datetime import UTC, datetime

import pandas as pd

from recsys.features.snapshots import item_snapshots, user_snapshots


def _interactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "v"],
            "item_id": ["a", "b", "a", "a"],
            "rating": [4.0, 2.0, float("nan"), 5.0],
            "occurred_at": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-01 12:00", "2024-01-03 09:00", "2024-01-02 08:00"],
                utc=True,
            ),
        }
    )


def test_user_rows_hold_cumulative_values_as_of_the_end_of_each_active_day() -> None:
    as_of = datetime(2024, 1, 10, tzinfo=UTC)
    rows = user_snapshots(_interactions(), pd.Index(["u", "v", "w"]), as_of)
    u = rows[rows.user_id == "u"].set_index("event_timestamp")
    day1 = u.loc[pd.Timestamp("2024-01-02", tz="UTC")]
    assert day1.interaction_count == 2 and day1.mean_rating == 3.0
    day3 = u.loc[pd.Timestamp("2024-01-04", tz="UTC")]
    assert day3.interaction_count == 3 and day3.mean_rating == 3.0  # the unrated one counts once
    latest = u.loc[pd.Timestamp(as_of)]
    assert (
        latest.days_since_last_interaction
        == (as_of - datetime(2024, 1, 3, 9, tzinfo=UTC)).total_seconds() / 86400
    )
    # A user with no interactions still gets a row at as_of, with count 0.
    w = rows[rows.user_id == "w"]
    assert len(w) == 1 and w.iloc[0].interaction_count == 0 and pd.isna(w.iloc[0].mean_rating)


def test_no_row_contains_an_interaction_from_after_its_timestamp() -> None:
    interactions = _interactions()
    rows = user_snapshots(interactions, pd.Index(["u", "v"]), datetime(2024, 1, 10, tzinfo=UTC))
    for row in rows.itertuples():
        seen = interactions[
            (interactions.user_id == row.user_id) & (interactions.occurred_at < row.event_timestamp)
        ]
        assert row.interaction_count == len(seen)
        assert row.last_interaction_ts == seen.occurred_at.max().timestamp()


def test_as_of_in_the_past_ignores_later_interactions() -> None:
    as_of = datetime(2024, 1, 2, 9, tzinfo=UTC)
    rows = item_snapshots(
        _interactions(), pd.DataFrame({"item_id": ["a", "b"], "genres": [["X", "Y"], []]}), as_of
    )
    latest = rows[rows.event_timestamp == pd.Timestamp(as_of)].set_index("item_id")
    assert latest.loc["a"].interaction_count == 2  # u on Jan 1 and v on Jan 2 08:00, not u on Jan 3
    assert latest.loc["a"].genres == "X|Y" and latest.loc["b"].genres == ""
    assert rows.event_timestamp.max() == pd.Timestamp(as_of)


def test_the_as_of_row_counts_genres_of_the_day_still_open_as_it_counts_interactions() -> None:
    # A user whose every interaction is on the as_of day (the temporal evaluation's cut-off day
    # held one with 86 ratings): their genre counts must not be empty while they count 2.
    interactions = pd.DataFrame(
        {
            "user_id": ["u", "u"],
            "item_id": ["m1", "m2"],
            "rating": [4.0, 5.0],
            "occurred_at": pd.to_datetime(["2016-03-22 01:00", "2016-03-22 02:00"], utc=True),
        }
    )
    items = pd.DataFrame({"item_id": ["m1", "m2"], "genres": [["Drama"], ["Comedy", "Drama"]]})
    as_of = pd.Timestamp("2016-03-22 08:26:03", tz="UTC")
    rows = user_snapshots(interactions, pd.Index(["u"]), as_of.to_pydatetime(), items)
    assert list(rows.event_timestamp) == [as_of]  # the open day has no row of its own
    assert rows.iloc[0].interaction_count == 2
    assert rows.iloc[0].genre_counts == "Comedy:1|Drama:2"
