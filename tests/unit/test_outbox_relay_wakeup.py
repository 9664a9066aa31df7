"""The relay's wake-up: a wake that comes while it is publishing starts another look at once.
CI found it lost (tests/e2e/test_outbox_relay.py waited out a 30 s deadline): the event was cleared
after the look, so a NOTIFY for a row committed after the look's snapshot slept until the poll."""

import asyncio
from typing import cast

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging.outbox import OutboxRelay
from infra.messaging.relay_look import Snapshot

pytestmark = pytest.mark.unit


class _WokenWhileLooking(OutboxRelay):
    """Each look is stubbed: the first gets a wake in the middle (a NOTIFY arriving then)."""

    def __init__(self) -> None:
        table = Table("outbox", MetaData(), Column("id", Integer, primary_key=True))
        super().__init__(cast(AsyncEngine, None), table, cast(AIOKafkaProducer, None), poll_seconds=3600)
        self.looks = 0
        self.second_look = asyncio.Event()

    async def publish_pending(self) -> int:
        self.looks += 1
        if self.looks == 1:
            await asyncio.sleep(0)
            self.wake()  # the row's commit came after this look's snapshot
            await asyncio.sleep(0)
        else:
            self.second_look.set()
        return 0


async def test_a_wake_during_a_look_starts_another_look() -> None:
    relay = _WokenWhileLooking()
    task = asyncio.create_task(relay.run())
    try:
        # the poll is an hour: only the kept wake can bring the second look
        await asyncio.wait_for(relay.second_look.wait(), timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert relay.looks >= 2


async def test_without_a_wake_the_relay_waits_for_its_poll() -> None:
    relay = _WokenWhileLooking()
    relay.looks = 1  # past the looking that wakes itself
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)
        assert relay.looks == 2  # one look at start, then it sleeps
        assert relay.second_look.is_set()
        relay.second_look.clear()
        relay.wake()
        await asyncio.wait_for(relay.second_look.wait(), timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert relay.looks == 3


class _Led(OutboxRelay):
    """Each look is stubbed as one this relay led, whose snapshot saw every transaction below 100."""

    def __init__(self) -> None:
        table = Table("outbox", MetaData(), Column("id", Integer, primary_key=True))
        super().__init__(cast(AsyncEngine, None), table, cast(AIOKafkaProducer, None), poll_seconds=3600)
        self.looks = asyncio.Queue[int]()
        self.count = 0

    async def publish_pending(self) -> int:
        self.count += 1
        self._saw(Snapshot(xmin=90, xmax=100, running=frozenset({95})))
        self.looks.put_nowait(self.count)
        return 0


async def _next_look(relay: _Led, *, within: float) -> bool:
    try:
        await asyncio.wait_for(relay.looks.get(), timeout=within)
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize(
    ("payload", "looks"),
    [
        ("42", False),  # committed before the last look: it saw the rows
        ("97", False),  # between xmin and xmax, not running then: seen
        ("95", True),  # running when the last look began: not seen
        ("100", True),  # began after the last look: not seen
        ("", True),  # a writer that sends no transaction id: look
    ],
)
async def test_a_notification_starts_a_look_only_for_a_commit_the_last_look_did_not_see(
    payload: str, looks: bool
) -> None:
    relay = _Led()
    task = asyncio.create_task(relay.run())
    try:
        assert await _next_look(relay, within=10)  # the first look, at start
        relay.notified(payload)
        assert await _next_look(relay, within=0.3) is looks
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_local_wake_always_starts_a_look() -> None:
    relay = _Led()
    task = asyncio.create_task(relay.run())
    try:
        assert await _next_look(relay, within=10)
        relay.notified("42")
        relay.wake()
        assert await _next_look(relay, within=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_snapshot_reads_postgres_text_form() -> None:
    snapshot = Snapshot.parse("90:100:95,97")
    assert (snapshot.xmin, snapshot.xmax, snapshot.running) == (90, 100, frozenset({95, 97}))
    assert Snapshot.parse("7:7:").running == frozenset()
    assert [x for x in (89, 90, 95, 96, 97, 99, 100) if snapshot.sees(x)] == [89, 90, 96, 99]
