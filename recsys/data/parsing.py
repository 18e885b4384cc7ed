"""Strict parsing helpers shared by the readers: every error names the file and the line."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.schema import RATING_RANGE, DataFormatError

EPOCH = pd.Timestamp(0, tz="UTC")
TIMESTAMP_MAX = 4_102_444_800  # 2100-01-01 in Unix seconds


def read_table(
    path: Path,
    *,
    sep: str = ",",
    names: Sequence[str] | None = None,
    required: Sequence[str] = (),
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a delimited file as strings. With ``names`` the file has no header row.

    The frame keeps a ``_line`` column with the 1-based line number of each row in the file.
    Blank lines (whitespace only, e.g. a trailing newline too many) are no rows.
    """
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    header_lines = 0 if names is not None else 1
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            names=list(names) if names is not None else None,
            header=None if names is not None else 0,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c" if len(sep) == 1 else "python",
            quoting=3 if sep != "," else 0,  # only comma files use quotes (MovieLens titles)
        )
    except pd.errors.ParserError as exc:
        raise DataFormatError(path, f"cannot parse: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not {encoding} text: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataFormatError(path, "file is empty") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas reads rows with more fields than the header (or names) by turning the extras
        # into an index, shifting every value one column over: say so instead of misreading
        fields = len(frame.columns) + frame.index.nlevels
        raise DataFormatError(
            path,
            f"{fields} fields, but the {'header' if names is None else 'format'} names "
            f"{len(frame.columns)} ({', '.join(map(str, frame.columns))})",
            line=1 + header_lines,
        )
    if names is not None and sep != ",":
        _check_field_counts(path, sep, list(names), encoding)
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise DataFormatError(
            path, f"missing column(s) {missing}; found {list(frame.columns)}", line=1
        )
    frame["_line"] = _row_lines(path, len(frame), header_lines, encoding, quoted=sep == ",")
    # pandas keeps blank lines as rows (skip_blank_lines=False keeps _line the real line number)
    # and reads them like a line of empty fields (",,"): only the text tells which is blank, and
    # a row whose values are missing must still be an error. Only rows with every field empty
    # are candidates (a row with values is never dropped, even where a quoted field spanning
    # lines has shifted _line), and the file is read again only when there are some.
    # (Exact comparison first: stripping every value cost a third of ml-latest-small's read.)
    fields = frame.drop(columns="_line")
    empty = (fields.iloc[:, 1:] == "").all(axis=1)
    if empty.any():
        empty[empty] = fields.iloc[:, 0][empty].str.strip().eq("")
    if empty.any():
        with path.open(encoding=encoding, newline="") as lines:
            blank = {number for number, line in enumerate(lines, 1) if not line.strip()}
        frame = frame[~(empty & frame["_line"].isin(blank))].reset_index(drop=True)
    return frame


def _row_lines(
    path: Path, rows: int, header_lines: int, encoding: str, *, quoted: bool
) -> np.ndarray:
    """The 1-based line each row starts on. One line per row, unless a quoted field spans
    lines (a title with a line break): then the lines and rows counts differ, and only then is
    the file read again, by the csv module, which counts the lines each record takes."""
    plain = np.arange(rows) + 1 + header_lines
    if not quoted:
        return plain
    newlines, last = 0, b""
    with path.open("rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    lines = newlines + (last not in (b"\n", b""))
    if lines == rows + header_lines:
        return plain
    starts = []
    with path.open(encoding=encoding, newline="") as text:
        reader = csv.reader(text)
        ended = 0
        for _ in reader:
            starts.append(ended + 1)
            ended = reader.line_num
    starts = starts[header_lines:]
    return np.asarray(starts) if len(starts) == rows else plain  # pandas read it otherwise


def _check_field_counts(path: Path, sep: str, names: list[str], encoding: str) -> None:
    """Every non-blank line of a headerless, unquoted file has one field per name. pandas pads
    a short line with empty fields, so a file with the wrong separator (commas in a tab file)
    read as one field per line and was reported as an empty second field."""
    with path.open(encoding=encoding, newline="") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.rstrip("\r\n").count(sep) + 1
            if fields < len(names) and line.strip():
                raise DataFormatError(
                    path,
                    f"{fields} field{'s' if fields > 1 else ''}, but the format names "
                    f"{len(names)} ({', '.join(names)}) separated by {sep!r}",
                    line=number,
                )


def _fail_first(frame: pd.DataFrame, bad: pd.Series, path: Path, message: str) -> None:
    if bad.any():
        first = frame.loc[bad.to_numpy()].iloc[0]
        raise DataFormatError(path, message.format(**first.to_dict()), line=int(first["_line"]))


def require_nonempty(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = frame[column].str.strip()
    _fail_first(frame, values == "", path, f"empty {column}")
    return values


def parse_float(
    frame: pd.DataFrame, column: str, path: Path, *, optional: bool = False
) -> pd.Series:
    raw = frame[column].str.strip()
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & ~(optional & (raw == ""))
    bad |= ~np.isfinite(values.fillna(0.0))
    _fail_first(frame, bad, path, f"{column} is not a number: {{{column}!r}}")
    return values.astype(float)


def parse_rating(
    frame: pd.DataFrame, column: str, path: Path, *, optional: bool = False
) -> pd.Series:
    """A number within :data:`~recsys.data.schema.RATING_RANGE` (empty when ``optional``)."""
    values = parse_float(frame, column, path, optional=optional)
    low, high = RATING_RANGE
    outside = values.notna() & ((values < low) | (values > high))
    _fail_first(frame, outside, path, f"{column} {{{column}}} is outside {low:g} to {high:g}")
    return values


def _iso_seconds(value: str) -> float:
    """Unix seconds of ISO-8601 text (naive is UTC), NaN when it is not a time."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return math.nan
    return when.replace(tzinfo=when.tzinfo or UTC).timestamp()


def parse_timestamp(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Unix seconds or ISO-8601 text (one file may mix them), returned as UTC datetimes.

    Every value must lie from 1970 to 2100, whatever its form: `POST /v1/events` refuses times
    before 1970, and the feature pipeline cannot hold years it cannot represent."""
    raw = frame[column].str.strip()
    numeric = pd.to_numeric(raw, errors="coerce")
    parsed = pd.to_datetime(raw.where(numeric.isna()), errors="coerce", utc=True, format="ISO8601")
    seconds = numeric.fillna((parsed - EPOCH).dt.total_seconds())
    # pandas holds years 1677 to 2262 only and reads others as no time at all: they are times,
    # just out of range, and should be reported so
    unread = seconds.isna()
    seconds = seconds.fillna(raw[unread].map(_iso_seconds))
    _fail_first(frame, seconds.isna(), path, f"{column} is not a timestamp: {{{column}!r}}")
    outside = (seconds < 0) | (seconds > TIMESTAMP_MAX)
    _fail_first(frame, outside, path, f"{column} out of range (1970 to 2100): {{{column}!r}}")
    # in range now, so whole seconds convert; ISO text keeps the precision pandas read
    return parsed.fillna(pd.to_datetime(seconds.astype("int64"), unit="s", utc=True))


def check_known(
    frame: pd.DataFrame, column: str, known: pd.Index, path: Path, other_file: str
) -> None:
    bad = ~frame[column].isin(known)
    _fail_first(frame, bad, path, f"{column} {{{column}!r}} is not in {other_file}")


def check_duplicates(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    bad = frame.duplicated(subset=columns, keep="first")
    _fail_first(frame, bad, path, f"duplicate {', '.join(columns)}")


def derive_users(interactions: pd.DataFrame) -> pd.DataFrame:
    users = pd.DataFrame({"user_id": pd.unique(interactions["user_id"])})
    users["attributes"] = [{} for _ in range(len(users))]
    return users


def derive_items(interactions: pd.DataFrame) -> pd.DataFrame:
    items = pd.DataFrame({"item_id": pd.unique(interactions["item_id"])})
    items["title"] = None
    items["genres"] = [[] for _ in range(len(items))]
    items["attributes"] = [{} for _ in range(len(items))]
    return items
