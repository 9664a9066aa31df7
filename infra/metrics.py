"""Prometheus metrics of one process, in a registry of its own (created by `create_app`).

Label values are bounded: consumer and component names, outcomes, statuses; never a tenant id.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.messages = Counter(
            "bakeplan_messages_total",
            "Consumed messages by outcome (handled, retried, retry_scheduled, deferred, dead_lettered).",
            ["consumer", "outcome"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "bakeplan_handle_seconds",
            "Time to handle one delivery of a message (each retry is a delivery).",
            ["consumer"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.published = Counter(
            "bakeplan_outbox_published_total", "Outbox rows published to Kafka.", ["component"], registry=self.registry
        )
        self.outbox_parked = Counter(
            "bakeplan_outbox_parked_total",
            "Outbox rows Kafka refused for good, parked with an alert (docs/resilience.md).",
            ["component"],
            registry=self.registry,
        )
        self.quarantined = Counter(
            "bakeplan_scan_quarantined_total",
            "Items a background scan quarantined after repeated failures (docs/resilience.md).",
            ["scan"],
            registry=self.registry,
        )
        self.security_events = Counter(
            "bakeplan_security_events_total",
            "Messages refused because they do not fit the tenant, saga or content they claim "
            '(docs/security.md, "Tenant binding"), by consumer and kind; each is parked.',
            ["consumer", "kind"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "bakeplan_notifications_total",
            'Notices to a tenant\'s own target (docs/channels.md, "Notifications") by kind and outcome '
            "(sent, send_failed, no_target).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.sagas_finished = Counter(
            "bakeplan_sagas_finished_total", "Sagas that reached a terminal state.", ["status"], registry=self.registry
        )
