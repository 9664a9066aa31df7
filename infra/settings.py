"""Settings of every bakeplan process, from environment variables prefixed `BAKEPLAN_`.

`DATABASE_URL` (without prefix) is honoured too, as most hosting platforms set it.
The reference table is in README.md ("Configuration").
"""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from contracts.topics import Topic

LOCAL_DATABASE_URL = "postgresql+asyncpg://bakeplan@127.0.0.1:55432/bakeplan"
DEV_AUDIT_KEY = "DEV-ONLY-bakeplan-audit-key-NOT-A-SECRET"
"""The audit key every installation starts with. It is in the source code, so it proves nothing:
production and CI set `BAKEPLAN_AUDIT_KEY` (docs/security.md)."""
DEV_AUDIT_KEY_ID = "dev"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAKEPLAN_", extra="ignore", frozen=True, populate_by_name=True)

    database_url: str = Field(
        default=LOCAL_DATABASE_URL,
        validation_alias=AliasChoices("BAKEPLAN_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of the Postgres database (driver asyncpg).",
    )
    db_roles: bool = Field(
        default=False,
        description="Each process connects as its own Postgres role (`{db_role_prefix}{role}`) on the server and "
        "database of DATABASE_URL, which stays the operator's (admin) URL; create the roles with `bakeplan db roles "
        "apply`.",
    )
    db_role_prefix: str = Field(
        default="bakeplan_",
        pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="Prefix of the Postgres role names (`bakeplan_orchestrator`, ...).",
    )
    db_role_passwords: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='JSON {role: password} for the Postgres roles, e.g. {"orchestrator": "..."}; `db roles apply` '
        "sets them and each process connects with its own. A role without one relies on the server's auth.",
    )
    db_role_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON {role: SQLAlchemy URL}: a role's own DATABASE_URL (any server); it wins over `db_roles`.",
    )
    audit_key: SecretStr = Field(
        default=SecretStr(DEV_AUDIT_KEY),
        min_length=16,
        description="HMAC key of the audit chain, held outside Postgres. The default is a development key in the "
        "source code: set your own.",
    )
    audit_key_id: str = Field(
        default=DEV_AUDIT_KEY_ID,
        pattern=r"^[A-Za-z0-9._-]{1,32}$",
        description="Name of `audit_key`, stored on every link it makes (rotation: give a new key a new id).",
    )
    audit_retired_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON {key id: key}: earlier audit keys, kept to verify the links they made.",
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="Kafka security.protocol of every client (docs/security.md); SASL_SSL in production.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_username: str = Field(
        default="",
        description="This process's Kafka user; empty = `kafka_user_prefix` + its principal (orchestrator, operator…).",
    )
    kafka_password: SecretStr = Field(default=SecretStr(""), description="This process's Kafka password.")
    kafka_password_dir: str = Field(
        default="",
        description="A directory with one file per principal holding its password (a mounted secret); "
        "read when BAKEPLAN_KAFKA_PASSWORD is empty.",
    )
    kafka_user_prefix: str = Field(
        default="bakeplan-",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Kafka user of a principal = this + the principal's name (`bakeplan acl apply` grants to them).",
    )
    kafka_ca_file: str = Field(default="", description="PEM CA bundle the broker's certificate is checked against.")
    kafka_cert_file: str = Field(default="", description="PEM client certificate, for brokers that require mTLS.")
    kafka_key_file: str = Field(default="", description="PEM private key of `kafka_cert_file` (unencrypted).")
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
    consumer_batch_records: int = Field(
        default=32,
        ge=1,
        description="Records of one fetch the hot-path consumers (saga replies, step commands) handle in one "
        "transaction, each alone when that fails; 1 handles every record in its own.",
    )
    consumer_batch_ms: int = Field(
        default=50,
        ge=1,
        description="A batch commits once its handlers have run this long and the rest of the fetch goes on in the "
        "next: the replies of its first records wait at most this long (plus one record).",
    )
    kafka_compression: Literal["zstd", "lz4", "gzip", "snappy", "none"] = Field(
        default="zstd",
        description="Producer compression: zstd packs JSON nearly as tightly as gzip at a twentieth of its CPU.",
    )
    horizon_days: int = Field(default=14, ge=1, le=60, description="Planning horizon of a daily plan.")
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of the topics bakeplan creates.")
    topic_replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="Replication of the topics bakeplan creates; unset: 3 (with min.insync.replicas=2) on a cluster "
        "of 3 or more brokers, else 1.",
    )
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
        description="Largest message body (uncompressed): an outbox write past it fails with the reason; "
        "a consumer parks a bigger record.",
    )
    claim_check_bytes: int = Field(
        default=512 * 1024,
        ge=1024,
        description="An outbox payload larger than this goes by claim check: stored once in Postgres "
        "(messaging.claim_checks, keyed by its SHA-256) and sent as a reference the consumer resolves.",
    )
    relay_batch_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="The outbox relay publishes at most this many payload bytes per batch (and at most 500 rows).",
    )
    statement_timeout_ms: int = Field(
        default=30_000, ge=0, description="Postgres statement_timeout of every connection (0 = none)."
    )
    lock_timeout_ms: int = Field(
        default=10_000, ge=0, description="Postgres lock_timeout of every connection (0 = none)."
    )
    idle_in_transaction_timeout_ms: int = Field(
        default=60_000,
        ge=0,
        description="Postgres idle_in_transaction_session_timeout: a transaction left open this long is ended "
        "(0 = none).",
    )
    retention_days: int = Field(
        default=30,
        ge=1,
        description="A finished saga's timeline, step results, snapshot and effect-log rows are pruned this many "
        "days after it ended (docs/retention.md); the saga row and the audit archive stay.",
    )
    retention_message_days: int = Field(
        default=14,
        ge=1,
        description="Inbox claims, published outbox rows and claim checks older than this are pruned; keep it "
        "longer than the topics' retention (a message redelivered after its inbox claim went is handled again).",
    )
    retention_batch_rows: int = Field(
        default=5000, ge=1, description="Rows the retention job deletes per transaction (one short transaction each)."
    )
    retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the orchestrator runs the retention job (one replica at a time); 0 = never "
        "(run `bakeplan retention run` from a cron instead).",
    )
    dead_letter_retention_days: int = Field(
        default=30,
        ge=0,
        description="Retention of the dead-letter topic (set when it is created and by `bakeplan acl apply`); "
        "0 = keep parked messages for ever.",
    )
    scan_quarantine_failures: int = Field(
        default=3,
        ge=1,
        description="A saga, schedule or tenant that fails this many scans in a row is quarantined (skipped, alerted).",
    )
    planner_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Planner processes of a worker: its pure planner runs there, off the event loop, so heartbeats "
        "and other messages go on while a large tenant plans (0 = plan inline on the event loop, for tests and "
        "debugging).",
    )
    planner_timeout_seconds: float = Field(
        default=45.0,
        gt=0,
        description="A plan running longer is killed and counts as a failed delivery (retried, then parked); keep it "
        "below BAKEPLAN_STEP_TIMEOUT_SECONDS.",
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
    metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Prometheus metrics port of `serve --role R`; 0 = off. `serve --role all` gives its children "
        "this port plus the child's index (roles in order, replicas together: orchestrator, forecasting, ...). "
        "A port in use is replaced by a free one, with a warning (docs/observability.md).",
    )
    metrics_sample_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often sampled gauges (outbox backlog and age, consumer lag, sagas in flight) are read.",
    )
    topic_prefix: str = Field(
        default="",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Put before every topic and consumer group name, so several installations (or test runs) "
        "share one Kafka cluster without seeing each other's messages.",
    )
    clock_file: Path | None = Field(
        default=None,
        description="Off in production. A simulated clock for a driven run (`bakeplan world`): the file holds "
        "an ISO instant, and every process's now is that instant plus the wall time since the file was "
        "written, times `clock_speed`. The driver writes the file to move all processes' days at once.",
    )
    clock_speed: float = Field(
        default=1.0, gt=0, description="How much faster than the wall clock the clock_file's clock runs."
    )
    log_level: str = Field(default="INFO")
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="Log lines as JSON objects or as text; unset: json for `serve`, text for interactive commands.",
    )

    def topic(self, topic: Topic | str) -> str:
        """The Kafka name of one of bakeplan's topics (`contracts.topics.Topic`) in this installation."""
        return f"{self.topic_prefix}{topic}"

    def kafka_user(self, principal: str) -> str:
        """The Kafka user name of one of bakeplan's principals (`bakeplan.acl_table.Principal`)."""
        return f"{self.kafka_user_prefix}{principal}"

    def group(self, consumer: str) -> str:
        """The Kafka consumer group of one of bakeplan's consumers in this installation."""
        return f"{self.topic_prefix}bakeplan.{consumer}"

    @property
    def asyncpg_dsn(self) -> str:
        """The URL as asyncpg itself accepts it (no SQLAlchemy driver suffix)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    @property
    def role_urls_configured(self) -> bool:
        return self.db_roles or bool(self.db_role_urls)

    def db_role_name(self, role: str) -> str:
        """The Postgres role of one of bakeplan's database roles (`bakeplan/db_roles.py`)."""
        return f"{self.db_role_prefix}{role}"

    def role_database_url(self, role: str) -> str:
        """The URL a process of `role` connects with: its own URL from `db_role_urls`, else (with
        `db_roles`) DATABASE_URL with the role's user and password, else DATABASE_URL itself."""
        if role in self.db_role_urls:
            return self.db_role_urls[role]
        if not self.db_roles:
            return self.database_url
        password = self.db_role_passwords.get(role)
        # `URL.set(password=None)` would keep the operator's password: replace the field outright
        url = make_url(self.database_url)._replace(
            username=self.db_role_name(role), password=password.get_secret_value() if password else None
        )
        return url.render_as_string(hide_password=False)

    def for_role(self, role: str) -> "Settings":
        """These settings with DATABASE_URL set to `role`'s URL (see `role_database_url`)."""
        url = self.role_database_url(role)
        return self if url == self.database_url else self.model_copy(update={"database_url": url})
