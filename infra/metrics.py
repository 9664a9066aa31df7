"""Prometheus metrics of one process, in a registry of its own (created by `create_app`).

Label values are bounded: consumer, group, topic, partition, component, step and saga kind names,
outcomes, statuses, error class names; never a tenant id. Every metric, its source and a dashboard
that reads it: docs/observability.md.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# a saga runs well under a second on an idle stack, minutes when a step waits for its deadline
SAGA_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
STEP_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# from a small tenant's few kilobytes to the claim-checked snapshots of a large one
SNAPSHOT_BYTES_BUCKETS = tuple(float(2**n) for n in range(10, 26, 2))

DEAD_LETTER_CLASSES = (
    "oversize",
    "claim_check",
    "undecodable",
    "key_mismatch",
    "delivery_limit",
    "tenant_binding",
    "permanent",
    "retries_exhausted",
)
"""Why a message was parked, as the `reason_class` label of `bakeplan_dead_lettered_total`."""


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "bakeplan_messages_total",
            "Consumed messages by outcome (handled, retried, retry_scheduled, deferred, dead_lettered).",
            ["consumer", "outcome"],
            registry=r,
        )
        self.handle_seconds = Histogram(
            "bakeplan_handle_seconds",
            "Time to handle one delivery of a message (each retry is a delivery).",
            ["consumer"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.batch_records = Histogram(
            "bakeplan_consumer_batch_records",
            "Records of one fetch a batch consumer handled in one transaction (infra/messaging/consumer_batch.py); "
            "batches that fell back to one record at a time are not counted.",
            ["consumer"],
            registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.handler_errors = Counter(
            "bakeplan_handler_errors_total",
            "Deliveries whose handler raised, by consumer and exception class (deferrals are not errors).",
            ["consumer", "error_class"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "bakeplan_dead_lettered_total",
            "Messages parked in the dead-letter topic by consumer and reason class (oversize, claim_check, "
            "undecodable, key_mismatch, delivery_limit, tenant_binding, permanent, retries_exhausted).",
            ["consumer", "reason_class"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "bakeplan_consumer_lag_messages",
            "Records behind the end of each partition: the log end offset minus the group's committed "
            "offset, sampled by the processes of the group.",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.published = Counter(
            "bakeplan_outbox_published_total", "Outbox rows published to Kafka.", ["component"], registry=r
        )
        self.outbox_parked = Counter(
            "bakeplan_outbox_parked_total",
            "Outbox rows Kafka refused for good, parked with an alert (docs/resilience.md).",
            ["component"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "bakeplan_outbox_backlog_rows",
            "Outbox rows not yet published (parked rows excluded), sampled.",
            ["outbox"],
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "bakeplan_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none waits), sampled.",
            ["outbox"],
            registry=r,
        )
        self.quarantined = Counter(
            "bakeplan_scan_quarantined_total",
            "Items a background scan quarantined after repeated failures (docs/resilience.md).",
            ["scan"],
            registry=r,
        )
        self.security_events = Counter(
            "bakeplan_security_events_total",
            "Messages refused because they do not fit the tenant, saga or content they claim "
            '(docs/security.md, "Tenant binding"), by consumer and kind; each is parked.',
            ["consumer", "kind"],
            registry=r,
        )
        self.notifications = Counter(
            "bakeplan_notifications_total",
            'Notices to a tenant\'s own target (docs/channels.md, "Notifications") by kind and outcome '
            "(sent, send_failed, no_target).",
            ["kind", "outcome"],
            registry=r,
        )
        self.sagas_finished = Counter(
            "bakeplan_sagas_finished_total", "Sagas that reached a terminal state.", ["status"], registry=r
        )
        self.saga_seconds = Histogram(
            "bakeplan_saga_duration_seconds",
            "From a saga's start to its terminal state, by kind (daily, low_stock) and outcome "
            "(COMPLETED, COMPENSATED, FAILED).",
            ["kind", "outcome"],
            registry=r,
            buckets=SAGA_SECONDS_BUCKETS,
        )
        self.step_seconds = Histogram(
            "bakeplan_saga_step_duration_seconds",
            "From a step's command to its reply or deadline, by saga kind, step and outcome (DONE, FAILED, "
            "TIMED_OUT, COMPENSATED: a compensation's own duration).",
            ["kind", "step", "outcome"],
            registry=r,
            buckets=STEP_SECONDS_BUCKETS,
        )
        self.sagas_in_flight = Gauge(
            "bakeplan_sagas_in_flight",
            "Sagas running or compensating, by kind and status, sampled from the orchestrator's store.",
            ["kind", "status"],
            registry=r,
        )
        self.admission_deferrals = Counter(
            "bakeplan_admission_deferrals_total",
            "Triggers deferred because BAKEPLAN_MAX_RUNNING_SAGAS sagas were in flight (each retry counts).",
            registry=r,
        )
        self.schedule_decisions = Counter(
            "bakeplan_schedule_decisions_total",
            "Scheduler decisions recorded, by outcome (fired, skipped) and schedules that failed to decide (failed).",
            ["outcome"],
            registry=r,
        )
        self.scheduler_last_pass = Gauge(
            "bakeplan_scheduler_last_pass_timestamp_seconds",
            "Unix time of the scheduler's latest completed pass in this process.",
            registry=r,
        )
        self.schedules_overdue = Gauge(
            "bakeplan_schedules_overdue_seconds",
            "How long the most overdue unpaused schedule has been due without a decision (0: none), sampled.",
            registry=r,
        )
        self.snapshot_bytes = Histogram(
            "bakeplan_snapshot_bytes",
            "Size of each master-data snapshot a saga recorded (its canonical JSON).",
            registry=r,
            buckets=SNAPSHOT_BYTES_BUCKETS,
        )
        self.sample_errors = Counter(
            "bakeplan_metrics_sample_errors_total",
            "Failed samplings of the sampled gauges (the gauges keep their previous values).",
            ["sampler"],
            registry=r,
        )
