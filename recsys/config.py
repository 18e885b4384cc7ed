"""Settings read from the environment (prefix ``RECSYS_``) and an optional ``.env`` file.

Nothing here is built at import time: call :func:`get_settings` (or construct :class:`Settings`)
where the settings are needed, so tests and commands can pass their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.serving.experiments import ExperimentConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECSYS_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    # Servers. Leave both unset to run embedded PostgreSQL + Redis under `data_dir`.
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the PostgreSQL app database, "
        "e.g. postgresql+psycopg://root@127.0.0.1:5432/recsys",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL of the Feast online store, e.g. redis://127.0.0.1:6379/0 "
        "(with RECSYS_REDIS_CLUSTER: any node of the cluster, which finds the others)",
    )
    redis_cluster: bool = Field(
        default=False,
        description="The online store is a Redis Cluster (Feast redis_type: redis_cluster)",
    )
    embedded_database: str = Field(
        default="recsys", description="Database name created inside the embedded PostgreSQL"
    )

    data_dir: Path = Field(
        default=Path(".recsys"),
        description="Embedded servers, model artifacts and reports live here",
    )
    dataset_path: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data" / "ml-latest-small",
        description="Default directory of the MovieLens dataset (read in place, never copied)",
    )
    feature_repo: Path = Field(default=PROJECT_ROOT / "feature_repo")
    feast_project: str = Field(default="recsys", pattern=r"^[A-Za-z0-9_]+$")

    api_keys: list[SecretStr] = Field(
        default_factory=list, description="Keys accepted for write and admin calls (JSON list)"
    )
    protect_reads: bool = Field(
        default=False,
        description="Read endpoints (recommendations, rank, similar, models, reports) need a key "
        "too; health, readiness and metrics stay open",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    default_k: int = 10
    candidate_pool: int = Field(
        default=200, description="Candidates the generator proposes before features and scoring"
    )
    model_refresh_seconds: float = Field(
        default=5.0, ge=0, description="Seconds between the API's checks for a newly active model"
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1_024, description="Largest request body the API reads (413 above)"
    )
    shutdown_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        description="On SIGTERM the API answers this long with /readyz at 503 before it stops, "
        "so load balancers route away first",
    )
    on_demand_cache_mb: int = Field(
        default=32, ge=1, description="Per API worker: on-demand feature outputs kept per user"
    )
    event_ingestion: Literal["inline", "stream"] = Field(
        default="inline",
        description="After storing events the API pushes the users' features itself (inline) or "
        "announces them on a Redis stream for `recsys worker features` (stream)",
    )
    event_claim_idle_seconds: float = Field(
        default=60.0, gt=0, description="A worker takes over another's unacknowledged messages "
        "after this long (the other is presumed dead)",
    )  # fmt: skip
    log_json: bool = Field(default=True, description="The API logs JSON lines with request ids")
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    store_timeout_seconds: float = Field(
        default=0.25, gt=0, description="Timeout of every online-store (Redis) call of the API"
    )
    store_retry_seconds: float = Field(
        default=1.0, ge=0, description="After a store failure, answer degraded this long"
    )
    recent_items_days: float = Field(
        default=30.0, gt=0, description="How long the items of a user's events stay excluded "
        "from their recommendations (longer than the retraining cycle)",
    )  # fmt: skip
    feature_refresh_seconds: float = Field(
        default=10.0, ge=0, description="How often the API looks for newly materialised features"
    )
    log_features_every: int = Field(
        default=10, ge=1, description="Log the feature vectors of one request in this many"
    )
    serve_log_queue: int = Field(default=10_000, ge=1, description="Serve-log rows kept in memory")
    experiment: ExperimentConfig = Field(
        default_factory=ExperimentConfig,
        description="A/B split and shadow models (JSON, see recsys.serving.experiments)",
    )
    monitor_k: int = Field(default=10, ge=1, description="k of the weekly report's metrics")
    monitor_drift_alert: float = Field(
        default=0.3, gt=0, le=1, description="Alert when this share of feature columns drifts"
    )
    monitor_quality_drop_alert: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Alert when CTR or NDCG falls by this fraction against the previous week",
    )
    monitor_drift_max_requests: int = Field(
        default=5_000, ge=1, description="Logged requests (a uniform sample) drift is tested on"
    )
    monitor_sample_lists: int = Field(
        default=5_000, ge=1, description="Lists (a uniform sample) in Evidently's quality tables"
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master of `recsys features build --engine spark`, e.g. local[*] or "
        "spark://host:7077",
    )
    spark_driver_memory: str = Field(
        default="2g",
        pattern=r"^[0-9]+[kmgt]?$",
        description="JVM heap of the Spark driver: both feature tables are collected there to be "
        "written to Postgres",
    )
    train_holdout: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of the latest interactions each trained version's algorithm is "
        "measured on (fitted without them), recorded in the registry; 0 skips it",
    )
    reference_users: int = Field(
        default=300, description="Users sampled for a model's drift reference at training time"
    )

    @model_validator(mode="after")
    def _reads_need_keys(self) -> Settings:
        if self.protect_reads and not self.api_keys:
            raise ValueError("RECSYS_PROTECT_READS needs at least one key in RECSYS_API_KEYS")
        return self

    @field_validator("data_dir", "dataset_path", "feature_repo")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def uses_embedded_servers(self) -> bool:
        return self.database_url is None and self.redis_url is None

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
