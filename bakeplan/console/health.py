"""The health page's figures: consumer lag per group, outbox backlog and age, sagas in flight, admission.

Lag comes from Kafka (each group's committed offsets against the partitions' end offsets, read as the
operator principal); the rest from Postgres. Kafka being unreachable, or the operator lacking the
right to describe a group on a broker with ACLs, is shown as such, never as zero lag.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.acl_table import Principal
from contracts.topics import Topic
from infra.messaging.kafka_client import new_admin, new_consumer
from infra.settings import Settings
from orchestrator import tables as orchestrator_tables
from orchestrator.ports import LIVE_STATUSES
from orchestrator.tables import sagas
from workers.forecasting import tables as forecasting_tables
from workers.procurement import tables as procurement_tables
from workers.production import tables as production_tables

OUTBOXES: dict[str, Table] = {
    "orchestrator": orchestrator_tables.outbox,
    "forecasting": forecasting_tables.outbox,
    "production": production_tables.outbox,
    "procurement": procurement_tables.outbox,
}


@dataclass
class GroupLag:
    group: str
    lag: int
    partitions: list[dict[str, Any]] = field(default_factory=list)  # topic, partition, committed, end, lag

    @property
    def topics(self) -> list[dict[str, Any]]:
        """Per topic: its partitions, their lag in all and the partitions that lag (`[partition]: lag`)."""
        by_topic: dict[str, dict[str, Any]] = {}
        for p in self.partitions:
            t = by_topic.setdefault(p["topic"], {"topic": p["topic"], "partitions": 0, "lag": 0, "lagging": []})
            t["partitions"] += 1
            t["lag"] += p["lag"]
            if p["lag"]:
                t["lagging"].append(f"[{p['partition']}]: {p['lag']}")
        return list(by_topic.values())


@dataclass
class Lag:
    groups: list[GroupLag]
    error: str | None = None

    def of(self, group: str, topic: str) -> int | None:
        for g in self.groups:
            if g.group == group:
                return int(sum(p["lag"] for p in g.partitions if p["topic"] == topic))
        return None


async def consumer_lag(settings: Settings, *, timeout_s: float = 10.0) -> Lag:
    """Every bakeplan consumer group of this installation (its topic prefix) with its lag per partition."""
    prefix = settings.group("")
    admin = new_admin(
        settings, Principal.OPERATOR, client_id="bakeplan-console", request_timeout_ms=int(timeout_s * 1000)
    )
    consumer = new_consumer(
        settings, Principal.OPERATOR, client_id="bakeplan-console", request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await admin.start()
        await consumer.start()
        names = sorted(g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix))
        committed = {name: await admin.list_consumer_group_offsets(name) for name in names}
        partitions = {tp for offsets in committed.values() for tp in offsets}
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(partitions)) if partitions else {}
    except KafkaError as exc:
        return Lag([], f"Kafka at {settings.kafka_bootstrap}: {exc!r}")
    finally:
        await consumer.stop()
        await admin.close()
    groups = []
    for name in names:
        rows = [
            {
                "topic": tp.topic,
                "partition": tp.partition,
                "committed": meta.offset,
                "end": ends.get(tp, meta.offset),
                "lag": max(ends.get(tp, meta.offset) - meta.offset, 0) if meta.offset >= 0 else ends.get(tp, 0),
            }
            for tp, meta in sorted(committed[name].items(), key=lambda item: (item[0].topic, item[0].partition))
        ]
        groups.append(GroupLag(name.removeprefix(prefix), sum(r["lag"] for r in rows), rows))
    return Lag(groups)


async def outbox_backlog(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Per component: rows not yet published (and not parked), the age of the oldest in seconds, and rows parked."""
    rows = []
    for component, table in OUTBOXES.items():
        pending = table.c.published_at.is_(None) & table.c.parked_at.is_(None)
        found = (
            await conn.execute(
                select(
                    func.count().filter(pending),
                    func.min(table.c.created_at).filter(pending),
                    func.count().filter(table.c.parked_at.is_not(None)),
                )
            )
        ).one()
        oldest = found[1]
        rows.append(
            {
                "component": component,
                "backlog": int(found[0]),
                "oldest_age_s": None if oldest is None else max((now - oldest).total_seconds(), 0.0),
                "parked": int(found[2]),
            }
        )
    return rows


async def sagas_in_flight(conn: AsyncConnection, *, tenants: list[str] | None) -> dict[str, int]:
    """Running and compensating sagas by `status/kind` (of `tenants` only, when given)."""
    query = (
        select(sagas.c.status, sagas.c.kind, func.count())
        .where(sagas.c.status.in_(LIVE_STATUSES))
        .group_by(sagas.c.status, sagas.c.kind)
    )
    if tenants is not None:
        query = query.where(sagas.c.tenant_id.in_(tenants))
    return {f"{r[0]} {r[1]}": int(r[2]) for r in await conn.execute(query)}


def admission(settings: Settings, in_flight: int, lag: Lag) -> dict[str, Any]:
    """Whether triggers are being deferred: the orchestrator admits at most `max_running_sagas` at once,
    and a trigger past that waits in Kafka (its lag on the triggers topic) until a saga ends."""
    waiting = lag.of("orchestrator", settings.topic(Topic.TRIGGERS))
    limit = settings.max_running_sagas
    return {
        "limit": limit,
        "in_flight": in_flight,
        "triggers_waiting": waiting,
        "deferring": bool(limit and in_flight >= limit and waiting),
    }
