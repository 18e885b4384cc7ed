"""The model registry: a row per trained version in Postgres, artifacts on disk, one active."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from recsys.db.models import Model
from recsys.ranking import Ranker, get_ranker_class, load_ranker
from recsys.ranking.registry import BrokenPluginError


class UnservableModelError(RuntimeError):
    """A version that cannot be served here: activating it is refused, and the API keeps
    serving the version it has."""


class ArtifactError(UnservableModelError):
    """A model artifact is missing or does not match its recorded checksum. The message leaves
    the artifact's path out: it reaches API clients (409), who have no business knowing the
    server's paths (``GET /v1/models`` leaves it out too). Operators get it from ``path``."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class UnknownRankerError(UnservableModelError):
    """A version whose ranker is not installed here (e.g. another package's, uninstalled)."""


class CatalogueMismatchError(UnservableModelError):
    """A version trained on another catalogue: serving it would recommend items that are not
    in this one (e.g. after `recsys data load` of another dataset)."""


#: Below this share of a version's items still in the catalogue, it is not served. Items come and
#: go between trainings; a version sharing less than half of its items with the catalogue was
#: trained on other data.
MIN_CATALOGUE_SHARE = 0.5


ARTIFACT_FILES = ("ranker.json", "ranker.npz")  # always present; rankers may add more files
NOT_CHECKSUMMED = ("reference.parquet",)  # monitoring data written beside the model


def artifact_checksum(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in ARTIFACT_FILES:
        if not (directory / name).is_file():
            raise ArtifactError(f"artifact file {name} is missing", directory)
    files = sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name not in NOT_CHECKSUMMED
    )
    for name in files:
        path = directory / name
        digest.update(name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def register_model(
    engine: Engine, row: Model, *, activate: bool = True, started_at: datetime | None = None
) -> Model:
    """Insert a version row; with ``activate`` it becomes the one the API serves, unless an
    operator chose another version while it trained (``started_at``: when the training began).
    That is an older version activated since then: a rollback of a bad model must not be undone
    by a training job that happened to be running. A version that another training registered
    meanwhile is replaced as usual (newest is active)."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if activate and started_at is not None:
            chosen = session.scalar(
                select(Model)
                .where(Model.is_active, Model.activated_at > started_at)
                .where(Model.created_at < started_at)
                .with_for_update()
            )
            activate = chosen is None
        if activate:
            session.execute(update(Model).where(Model.is_active).values(is_active=False))
            session.flush()
        row.is_active = activate
        row.activated_at = datetime.now(UTC) if activate else None
        session.add(row)
    return row


def activate(engine: Engine, version: int) -> Model:
    """Make ``version`` the served one; refused (nothing changes) if its artifact is not intact."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        row = session.get(Model, version)
        if row is None:
            raise LookupError(f"no model version {version}")
        verify_ranker(row)
        directory = verify_artifact(row)
        verify_catalogue(engine, row, artifact_item_ids(directory))
        session.execute(update(Model).where(Model.is_active).values(is_active=False))
        session.flush()
        row.is_active = True
        row.activated_at = datetime.now(UTC)
    return row


def rollback(engine: Engine) -> Model:
    """Re-activate the version that was active before the current one."""
    with Session(engine) as session:
        current = session.scalar(select(Model).where(Model.is_active))
        previous = session.scalar(
            select(Model)
            .where(Model.activated_at.is_not(None), ~Model.is_active)
            .order_by(Model.activated_at.desc(), Model.version.desc())
            .limit(1)
        )
        earlier = session.scalars(
            select(Model.version)
            .where(Model.activated_at.is_not(None), ~Model.is_active)
            .order_by(Model.activated_at.desc(), Model.version.desc())
            .offset(1)
            .limit(5)
        ).all()
    if previous is None:
        raise LookupError(
            "no earlier active version to roll back to"
            + (f" (version {current.version} is the only one ever activated)" if current else "")
        )
    try:
        return activate(engine, previous.version)
    except UnservableModelError as exc:
        # Rollback is "the one before": skipping to an older one silently could serve a model
        # months old. Say which others there are instead.
        others = f" (active before it: {', '.join(map(str, earlier))})" if earlier else ""
        exc.args = (
            f"cannot roll back: {exc}; activate another version with "
            f"`recsys models activate N`{others}",
        )
        raise


def active_model(engine: Engine) -> Model | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.scalar(select(Model).where(Model.is_active))


def get_model(engine: Engine, version: int) -> Model | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(Model, version)


def list_models(engine: Engine) -> list[Model]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Model).order_by(Model.version.desc())))


def verify_ranker(row: Model) -> None:
    """Refuse a version whose ranker class is not installed (nothing here could load it)."""
    try:
        get_ranker_class(row.algorithm)
    except ValueError as exc:
        # installed but failing to import: installing it again as it is would not help
        remedy = "fix or reinstall" if isinstance(exc, BrokenPluginError) else "install"
        raise UnknownRankerError(
            f"model version {row.version}: {exc}; {remedy} the package that provides it, or "
            "activate another version"
        ) from None


def verify_artifact(row: Model) -> Path:
    directory = Path(row.artifact_path)
    try:
        actual = artifact_checksum(directory)
    except ArtifactError as exc:
        raise ArtifactError(f"model version {row.version}: {exc}", exc.path) from None
    if actual != row.artifact_sha256:
        raise ArtifactError(
            f"model version {row.version}: its artifact does not match its checksum "
            f"(expected {row.artifact_sha256[:12]}…, found {actual[:12]}…)",
            directory,
        )
    return directory


def artifact_item_ids(directory: Path) -> np.ndarray:
    """The item ids a saved ranker scores, read without loading the rest of the artifact."""
    with np.load(directory / "ranker.npz", allow_pickle=False) as arrays:
        return arrays["item_ids"]


def verify_catalogue(engine: Engine, row: Model, item_ids: np.ndarray) -> None:
    """Refuse a version most of whose items are not in the app database's catalogue."""
    with engine.connect() as conn:
        catalogue = set(conn.execute(text("SELECT item_id FROM items")).scalars())
    known = sum(1 for item in item_ids if str(item) in catalogue)
    if len(item_ids) and known < MIN_CATALOGUE_SHARE * len(item_ids):
        raise CatalogueMismatchError(
            f"model version {row.version} ({row.algorithm}) was trained on another catalogue: "
            f"only {known} of its {len(item_ids)} items are among the {len(catalogue)} in this "
            "one; train a version on the current data (`recsys train --model NAME`)"
        )


def active_version_problem(engine: Engine) -> str | None:
    """Why the active version could not be activated on the data now in the app database (e.g.
    after `recsys data load` of another dataset), or None when it could (or none is active)."""
    with Session(engine) as session:
        row = session.scalar(select(Model).where(Model.is_active))
    if row is None:
        return None
    try:
        verify_catalogue(engine, row, artifact_item_ids(verify_artifact(row)))
    except UnservableModelError as exc:
        return str(exc)
    return None


def load_model(row: Model) -> Ranker:
    """Load a registered version after checking its artifact is intact."""
    return load_ranker(verify_artifact(row))
