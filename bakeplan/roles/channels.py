"""Composition root of the supplier channels' process (`bakeplan serve --role channels`): released
purchase orders from `Topic.PURCHASE_ORDERS`, each sent on its supplier's channel, and the bakery's
notifications from `Topic.PLANS` and `Topic.ALERTS`, each sent to its tenant's target (docs/channels.md).

It is the only process that loads the channels' secrets (`ChannelSettings`: the SMTP relay's login,
the webhook signing keys). It writes the procurement schema's delivery records and order lifecycle and
queues its alerts in the procurement outbox, which its own relay publishes too (one relay at a time
per outbox, whatever the process).
"""

import logging

from bakeplan.process import Process
from bakeplan.roles.clock import clock_of
from contracts.topics import Topic
from infra.settings import Settings
from workers.procurement.channels import ChannelSettings, Sender
from workers.procurement.notify_handler import NOTIFY_CONSUMER, NotificationWorker
from workers.procurement.send_handler import CONSUMER, ChannelWorker, worst_case_seconds
from workers.procurement.tables import delivery_attempts, outbox

log = logging.getLogger(__name__)


def create_app(settings: Settings, channel_settings: ChannelSettings | None = None) -> Process:
    channel_settings = channel_settings or ChannelSettings()
    worst = worst_case_seconds(
        channel_settings.send_attempts,
        channel_settings.send_timeout_seconds,
        channel_settings.send_backoff_max_seconds,
        channel_settings.send_backoff_base_seconds,
    )
    if worst * 1000 >= settings.max_poll_interval_ms:
        raise ValueError(
            f"a send may take {worst:.0f} s (BAKEPLAN_SEND_ATTEMPTS × BAKEPLAN_SEND_TIMEOUT_SECONDS plus the waits), "
            f"longer than BAKEPLAN_MAX_POLL_INTERVAL_MS {settings.max_poll_interval_ms} ms: the consumer would lose "
            "its partitions mid-send; lower the attempts or the timeout, or raise the poll interval"
        )
    process = Process(settings, "channels", outbox, delivery_attempts)
    sender = Sender(channel_settings)
    worker = ChannelWorker(
        engine=process.engine,
        send=sender.send,
        clock=clock_of(settings),
        on_commit=process.relay.wake,
        crash_points=process.crash_points,
        dedupe=process.dedupe,
    )
    process.subscribe(Topic.PURCHASE_ORDERS, CONSUMER, worker.handle)
    notifications = NotificationWorker(
        engine=process.engine,
        notify=sender.notify,
        clock=clock_of(settings),
        count=lambda kind, outcome: process.metrics.notifications.labels(kind, outcome).inc(),
        dedupe=process.dedupe,
    )
    process.subscribe(Topic.PLANS, NOTIFY_CONSUMER, notifications.handle)
    process.subscribe(Topic.ALERTS, NOTIFY_CONSUMER, notifications.handle)
    return process
