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
