"""Who may do what on Kafka: one principal per process role and per outside party, each allowed only
the topics and consumer groups its work needs (docs/security.md has the table in prose).

`bakeplan acl apply` turns `TABLE` into broker ACLs for an installation (its topic prefix honoured);
each process ensures only `topics_of` its principal. The admin is the broker's super user: it
creates the topics and the ACLs and holds no rows here.
"""

from dataclasses import dataclass
from enum import StrEnum

from contracts.topics import Topic
from infra.messaging.acls import AclRule
from infra.settings import Settings


class Principal(StrEnum):
    """Whom a Kafka client acts as; its user is `Settings.kafka_user(principal)`."""

    ADMIN = "admin"
    """Super user: creates the topics and the ACLs (`bakeplan acl apply`); never runs the saga."""
    ORCHESTRATOR = "orchestrator"
    FORECASTING = "forecasting"
    PRODUCTION = "production"
    PROCUREMENT = "procurement"
    CHANNELS = "channels"
    """The supplier channels' process: sends released orders and the bakery's notifications; relays the
    procurement outbox it shares."""
    EXTERNAL = "external"
    """A bakery's own systems and an external cron: they start plans and send signals and feeds."""
    OPERATOR = "operator"
    """A person at the CLI: triggers, feeds, and the dead-letter topic (list and replay)."""


@dataclass(frozen=True)
class Access:
    """Topics a principal reads (with its consumer groups) and writes."""

    reads: tuple[Topic, ...] = ()
    writes: tuple[Topic, ...] = ()
    groups: tuple[str, ...] = ()
    """Consumer names (`Settings.group`); each is a prefix, so `forecasting` covers `forecasting-plans`."""
    watches: tuple[str, ...] = ()
    """Consumer-name prefixes whose groups it may describe (their committed offsets, so their lag) but
    never join; `""` is every group of the installation."""


COMMANDS = {
    Principal.FORECASTING: Topic.FORECASTING_COMMANDS,
    Principal.PRODUCTION: Topic.PRODUCTION_COMMANDS,
    Principal.PROCUREMENT: Topic.PROCUREMENT_COMMANDS,
}


def _worker(role: Principal) -> Access:
    # the procurement worker's release step publishes the purchase orders it released
    orders = (Topic.PURCHASE_ORDERS,) if role is Principal.PROCUREMENT else ()
    return Access(
        reads=(COMMANDS[role], Topic.PLANS),
        # ALERTS: an outbox row the broker refuses for good is parked with an operations alert
        writes=(Topic.STEP_REPLIES, *orders, Topic.ALERTS, Topic.DEAD_LETTER),
        groups=(role,),
    )


_ROLES: dict[Principal, Access] = {
    Principal.ORCHESTRATOR: Access(
        reads=(Topic.TRIGGERS, Topic.STEP_REPLIES, Topic.LOW_STOCK, Topic.FEEDS, Topic.PURCHASING_EVENTS),
        # TRIGGERS: the scheduler queues each tenant's daily trigger through the orchestrator's outbox
        writes=(
            Topic.TRIGGERS,
            Topic.SNAPSHOTS,
            *COMMANDS.values(),
            Topic.PLANS,
            Topic.ALERTS,
            # an operator's `bakeplan orders cancel` goes out through the orchestrator's outbox
            Topic.PURCHASE_ORDERS,
            Topic.DEAD_LETTER,
        ),
        groups=(Principal.ORCHESTRATOR,),
    ),
    **{role: _worker(role) for role in COMMANDS},
    # the channels process writes its alerts into the procurement outbox and may be the one relaying it
    # (one relay per outbox, whichever process holds it), so it may write what that outbox carries
    # it also tells each bakery of its plans and alerts (docs/channels.md, "Notifications")
    Principal.CHANNELS: Access(
        reads=(Topic.PURCHASE_ORDERS, Topic.PLANS, Topic.ALERTS),
        writes=(Topic.STEP_REPLIES, Topic.PURCHASE_ORDERS, Topic.ALERTS, Topic.DEAD_LETTER),
        groups=(Principal.CHANNELS,),
    ),
}

REPLAYABLE = tuple(sorted({topic for access in _ROLES.values() for topic in access.reads}))
"""Every topic some consumer reads, and so may park from: `bakeplan dlq replay` writes back to them."""

TABLE: dict[Principal, Access] = {
    **_ROLES,
    # outside systems: cron, goods-in, the live feeds, and suppliers' confirmations and receipts
    Principal.EXTERNAL: Access(writes=(Topic.TRIGGERS, Topic.LOW_STOCK, Topic.FEEDS, Topic.PURCHASING_EVENTS)),
    # watches: the console's health page and `metrics` read every group's lag (describe, never read)
    Principal.OPERATOR: Access(reads=(Topic.DEAD_LETTER,), writes=REPLAYABLE, watches=("",)),
}


def topics_of(principal: Principal) -> tuple[Topic, ...]:
    """The topics `principal` reads or writes, in `Topic` order (all of them for the admin)."""
    if principal is Principal.ADMIN:
        return tuple(Topic)
    access = TABLE[principal]
    return tuple(t for t in Topic if t in access.reads or t in access.writes)


def acl_scope(settings: Settings) -> str:
    """Every topic and consumer group of the installation starts with this."""
    return settings.topic("bakeplan.")


def acl_rules(settings: Settings) -> list[AclRule]:
    """`TABLE` as broker rules for the installation of `settings`: topics by their exact name,
    consumer groups by prefix; read implies describe on the broker, write too. Describing a group
    also needs describe on its topics, which the watcher's reads and writes give."""
    rules = []
    for principal, access in TABLE.items():
        user = f"User:{settings.kafka_user(principal)}"
        rules += [AclRule(user, "topic", settings.topic(t), "literal", "read") for t in access.reads]
        rules += [AclRule(user, "topic", settings.topic(t), "literal", "write") for t in access.writes]
        rules += [AclRule(user, "group", settings.group(g), "prefixed", "read") for g in access.groups]
        rules += [AclRule(user, "group", settings.group(g), "prefixed", "describe") for g in access.watches]
    return sorted(rules)
