"""Settings of every bakeplan process, from environment variables prefixed `BAKEPLAN_`.

`DATABASE_URL` (without prefix) is honoured too, as most hosting platforms set it.
The reference table is in README.md ("Configuration").
"""

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import Topic

LOCAL_DATABASE_URL = "postgresql+asyncpg://bakeplan@127.0.0.1:55432/bakeplan"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAKEPLAN_", extra="ignore", frozen=True, populate_by_name=True)

    database_url: str = Field(
        default=LOCAL_DATABASE_URL,
        validation_alias=AliasChoices("BAKEPLAN_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of the Postgres database (driver asyncpg).",
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated.")
    step_timeout_seconds: float = Field(default=60.0, gt=0, description="Deadline of one saga step.")
    max_running_sagas: int = Field(
        default=100,
        ge=0,
        description="Daily sagas running at once; further triggers wait in Kafka until one ends (0 = no limit).",
    )
    compensation_timeout_seconds: float = Field(default=30.0, gt=0, description="Deadline of one compensation.")
    max_compensation_attempts: int = Field(default=5, ge=1)
    max_delivery_attempts: int = Field(
        default=5,
        ge=1,
        description="Deliveries of a message before it is dead-lettered (counted in Postgres, so a message "
        "that kills its process counts too).",
    )
    trigger_max_past_days: int = Field(
        default=1,
        ge=0,
        description="A trigger may plan a business date at most this many days before the tenant's local today; "
        "older ones are parked.",
    )
    trigger_max_future_days: int = Field(
        default=7,
        ge=0,
        description="A trigger may plan a business date at most this many days after the tenant's local today; "
        "later ones are parked.",
    )
    retry_base_seconds: float = Field(default=0.2, gt=0, description="First retry backoff (doubles, with jitter).")
    relay_poll_seconds: float = Field(default=0.2, gt=0, description="Outbox polling interval (safety net).")
    schedule_scan_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest the scheduler sleeps between scans (it wakes when the next run is due).",
    )
    low_stock_debounce_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Low-stock signals of one tenant within this window coalesce into one procurement-only saga.",
    )
    low_stock_scan_seconds: float = Field(
        default=1.0, gt=0, description="How often the orchestrator looks for low-stock signals whose window passed."
    )
    schedule_jitter_seconds: float = Field(
        default=20.0,
        ge=0,
        description="Each tenant's daily run fires a fixed offset in [0, this) after its run time (0 = none).",
    )
    deadline_scan_seconds: float = Field(default=1.0, gt=0, description="How often the orchestrator checks deadlines.")
    fetch_max_wait_ms: int = Field(
        default=100, ge=1, description="How long a consumer's fetch waits at the broker (latency vs idle CPU)."
    )
    kafka_compression: Literal["zstd", "lz4", "gzip", "snappy", "none"] = Field(
        default="zstd",
        description="Producer compression: zstd packs JSON nearly as tightly as gzip at a twentieth of its CPU.",
    )
    horizon_days: int = Field(default=14, ge=1, le=60, description="Planning horizon of a daily plan.")
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of the topics bakeplan creates.")
    topic_replication_factor: int = Field(default=1, ge=1, description="Replication of the topics bakeplan creates.")
    max_poll_interval_ms: int = Field(
        default=300_000, ge=1000, description="Kafka max.poll.interval.ms: a slower handler loses its partitions."
    )
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, description="Kafka session.timeout.ms: a silent consumer's partitions move after it."
    )
    heartbeat_interval_ms: int = Field(default=3_000, ge=100, description="Kafka heartbeat.interval.ms.")
    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest record body a consumer accepts (uncompressed); bigger ones are parked.",
    )
    crash_at: str = Field(
        default="",
        description="Testing only: a crash point label (see infra/crash_points.py); the process kills itself there.",
    )
    crash_after_hits: int = Field(default=1, ge=1, description="Testing only: crash at the n-th hit of `crash_at`.")
    crash_log: str = Field(default="", description="Testing only: file a crash point appends `label pid` to first.")
    unsafe_disable_inbox: bool = Field(
        default=False, description="Testing only (the fault suite's mutation switch): skip inbox dedupe."
    )
    supervise_backoff_seconds: float = Field(
        default=1.0, ge=0, description="serve --role all: first wait before restarting a child that exited."
    )
    supervise_backoff_max_seconds: float = Field(
        default=30.0, ge=0, description="serve --role all: the restart wait doubles per recent crash up to this."
    )
    supervise_max_restarts: int = Field(
        default=5, ge=0, description="serve --role all: more crashes of one child within the window and it gives up."
    )
    supervise_window_seconds: float = Field(
        default=300.0, gt=0, description="serve --role all: crashes older than this are forgiven."
    )
    metrics_port: int = Field(default=0, ge=0, description="Prometheus metrics port; 0 = off.")
    topic_prefix: str = Field(
        default="",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Put before every topic and consumer group name, so several installations (or test runs) "
        "share one Kafka cluster without seeing each other's messages.",
    )
    log_level: str = Field(default="INFO")
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log lines as JSON objects or as text; unset: json for `serve`, text for interactive commands.",
    )

    def topic(self, topic: Topic | str) -> str:
        """The Kafka name of one of bakeplan's topics (`contracts.topics.Topic`) in this installation."""
        return f"{self.topic_prefix}{topic}"

    def group(self, consumer: str) -> str:
        """The Kafka consumer group of one of bakeplan's consumers in this installation."""
        return f"{self.topic_prefix}bakeplan.{consumer}"

    @property
    def asyncpg_dsn(self) -> str:
        """The URL as asyncpg itself accepts it (no SQLAlchemy driver suffix)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
