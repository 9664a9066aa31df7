"""Who sends and who receives each topic's messages: the contract document's operations.

What each role receives is read from its composition root: every role's process is built, connecting
to nothing, and its subscriptions are listed (`Process.subscriptions`). What the roles send follows the
code that sends it: the orchestrator's step commands go where `orchestrator.saga.STEP_TOPICS` says; a
worker replies on `Topic.STEP_REPLIES` with the replies whose `step` can be its own. Parties outside
the processes (the CLI, a bakery's own systems) are declared here, each with the command or the purpose.
"""

import asyncio
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bakeplan.process import ROLES, Role, Subscription, create_app
from contracts.envelope import Message
from contracts.messages import OperationsAlert, SagaFailedAlert
from contracts.purchasing_messages import OrderSendFailed
from contracts.routing import TOPIC_MESSAGES
from contracts.topics import Topic
from infra.settings import Settings
from orchestrator.saga import STEP_TOPICS

Action = Literal["send", "receive"]

CLI = "cli"
OUTSIDE = "outside"


@dataclass(frozen=True)
class Operation:
    """`party` sends or receives `messages` (all the topic carries when None) on `topic`."""

    party: str
    action: Action
    topic: Topic
    summary: str
    group: str | None = None
    """The consumer group of a receiving role."""
    messages: tuple[type[Message], ...] | None = None
    current_only: bool = False
    """True when the party writes only the current version of each message (bakeplan's own code)."""

    @property
    def id(self) -> str:
        return f"{self.party}.{self.action}.{channel_id(self.topic)}"


def channel_id(topic: Topic) -> str:
    """The channel's id in the document: the enum name, e.g. `step-replies`."""
    return topic.name.lower().replace("_", "-")


async def _subscriptions_of_roles() -> dict[Role, tuple[Subscription, ...]]:
    found: dict[Role, tuple[Subscription, ...]] = {}
    for role in ROLES:
        process = create_app(Settings(), role)  # builds clients, connects nothing
        found[role] = tuple(process.subscriptions)
        await process.producer.stop()  # never started: this only marks it closed
        await process.engine.dispose()
    return found


def role_subscriptions() -> dict[Role, tuple[Subscription, ...]]:
    """What each role consumes, as its composition root subscribes it (a loop is needed to build one)."""
    return asyncio.run(_subscriptions_of_roles())


def _replies_of(step: str) -> tuple[type[Message], ...]:
    """The replies on `Topic.STEP_REPLIES` whose `step` field admits `step`."""
    replies = []
    for cls in TOPIC_MESSAGES[Topic.STEP_REPLIES]:
        annotation = cls.model_fields["step"].annotation
        if step in typing.get_args(annotation):
            replies.append(cls)
    return tuple(replies)


def _role_sends(role: Role) -> list[Operation]:
    if role == "channels":
        return [
            Operation(role, "send", Topic.ALERTS, "a purchase order its channel could not send (retries exhausted "
                      "or refused): an operator resends or cancels it (docs/channels.md)", None,
                      (OrderSendFailed,), current_only=True),
        ]  # fmt: skip
    if role != "orchestrator":
        steps = [step for step, topic in STEP_TOPICS.items() if topic == STEP_TOPICS[role]]
        replies = tuple(dict.fromkeys(cls for step in steps for cls in _replies_of(step)))
        sends = [
            Operation(role, "send", Topic.STEP_REPLIES, f"{role} replies to its step commands ({', '.join(steps)})",
                      None, replies, current_only=True),
        ]  # fmt: skip
        sends.append(
            Operation(role, "send", Topic.ALERTS, "an outbox row Kafka refused for good was parked: an operator must "
                      "look (docs/resilience.md)", None, (OperationsAlert,), current_only=True)
        )  # fmt: skip
        if "release" in steps:
            sends.append(
                Operation(role, "send", Topic.PURCHASE_ORDERS, "each purchase order the release step sent out, and "
                          "each one cancelled, for the supplier channels (docs/orders.md)", current_only=True)
            )  # fmt: skip
        return sends
    by_topic: dict[Topic, list[str]] = {}
    for step, topic in STEP_TOPICS.items():
        by_topic.setdefault(topic, []).append(step)
    commands = [
        Operation(role, "send", topic, f"the saga's {' and '.join(steps)} step: run it, or undo it (compensate)",
                  current_only=True)
        for topic, steps in by_topic.items()
    ]  # fmt: skip
    return [
        Operation(role, "send", Topic.TRIGGERS, "the scheduler's daily trigger at a tenant's local time",
                  current_only=True),
        Operation(role, "send", Topic.SNAPSHOTS, "the master-data snapshot a saga plans from (audit, replay)",
                  current_only=True),
        *commands,
        Operation(role, "send", Topic.PLANS, "the saga's outcome: plan ready (drafts become active) or compensated",
                  current_only=True),
        Operation(role, "send", Topic.ALERTS, "a saga whose compensation could not finish, an outbox row parked or "
                  "a scan item quarantined (docs/resilience.md): an operator must look", None,
                  (SagaFailedAlert, OperationsAlert), current_only=True),
    ]  # fmt: skip


def _outside() -> list[Operation]:
    return [
        Operation(CLI, "send", Topic.TRIGGERS, "`bakeplan trigger --tenant T`: start a tenant's daily plan",
                  current_only=True),
        Operation(CLI, "send", Topic.FEEDS, "`bakeplan feed FILE`: publish live-feed events from a file",
                  current_only=True),
        Operation(CLI, "receive", Topic.DEAD_LETTER, "`bakeplan dlq list` and `dlq replay` read parked records "
                  "(no consumer group); a replay publishes each back to its `dlq.source.topic`"),
        Operation(OUTSIDE, "send", Topic.TRIGGERS, "another system (e.g. an external cron) starts a daily plan, "
                  "with `source` \"external\""),
        Operation(OUTSIDE, "send", Topic.LOW_STOCK, "an inventory system reports stock at or below its threshold "
                  "(docs/low_stock.md)"),
        Operation(OUTSIDE, "send", Topic.FEEDS, "a till, stock app or ERP sends closed sales days, stock counts and "
                  "master-data changes (docs/feeds.md)"),
        Operation(OUTSIDE, "receive", Topic.PLANS, "a bakery's systems may learn that a plan is ready or was "
                  "compensated; no consumer outside bakeplan is required"),
        Operation(OUTSIDE, "receive", Topic.ALERTS, "monitoring should page someone; bakeplan's channels role "
                  "sends saga failures and unsent orders to each bakery's own target (docs/channels.md)"),
        Operation(OUTSIDE, "receive", Topic.PURCHASE_ORDERS, "another dispatcher may send released orders too "
                  "(bakeplan's own is the channels role, docs/channels.md); the PO number is the supplier's "
                  "idempotency key"),
        Operation(OUTSIDE, "send", Topic.PURCHASING_EVENTS, "suppliers and goods-in report orders sent, confirmed "
                  "and goods received (docs/orders.md)"),
    ]  # fmt: skip


def operations(subscriptions: dict[Role, tuple[Subscription, ...]] | None = None) -> Sequence[Operation]:
    """Every send and receive, the roles' first (in `ROLES` order), then the CLI's and outside systems'."""
    found = role_subscriptions() if subscriptions is None else subscriptions
    ops: list[Operation] = []
    for role in ROLES:
        for sub in found.get(role, ()):
            ops.append(
                Operation(role, "receive", sub.topic, f"consumer `{sub.consumer}`", group=f"bakeplan.{sub.consumer}")
            )
        ops += _role_sends(role)
        if found.get(role):
            ops.append(Operation(role, "send", Topic.DEAD_LETTER, "parks a record it cannot process, with the reason"))
    return ops + _outside()
