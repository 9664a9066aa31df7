"""The contract of the orchestrator's store ports (`orchestrator/ports.py`), run over the in-memory fake
and Postgres alike: what one adapter does, the other must do too.

Tests that add live sagas do it in a `rolled_back` unit of work: a live saga committed to the shared
database would count against other runs' admission (`count_live`) and be picked up by their deadline
ticks (`due`). Everything else commits, under fresh tenant ids.
"""

from datetime import timedelta
from uuid import uuid4

import pytest

from contracts.errors import PlanningError, TenantBindingError
from contracts.messages import (
    SnapshotTaken,
)
from contracts.topics import Topic
from infra.messaging.outbox import Outgoing
from orchestrator.ports import (
    Inbound,
    TenantProfile,
)
from tests.contract.conftest import TODAY, StoreHarness, unique_tenant_id
from tests.contract.store_records import T0, a_signal, a_trigger, kept, plan_ready, rolled_back

# --- inbox -----------------------------------------------------------------------------------------


async def test_the_inbox_claims_an_event_once(harness: StoreHarness) -> None:
    event_id = uuid4()
    async with harness.stores() as uow:
        first, again = await uow.inbox.claim(event_id), await uow.inbox.claim(event_id)
    async with harness.stores() as uow:
        later = await uow.inbox.claim(event_id)
        other = await uow.inbox.claim(uuid4())
    assert (first, again, later, other) == (True, False, False, True)


async def test_a_rolled_back_unit_of_work_unclaims_its_event(harness: StoreHarness) -> None:
    event_id = uuid4()
    async with rolled_back(harness.stores) as uow:
        assert await uow.inbox.claim(event_id)
    async with harness.stores() as uow:
        assert await uow.inbox.claim(event_id)


async def test_an_inbox_claim_is_bound_to_tenant_and_content(harness: StoreHarness) -> None:
    event_id = uuid4()
    async with harness.stores() as uow:
        first = await uow.inbox.claim(event_id, tenant_id="tenant-a", digest="1" * 64)
        again = await uow.inbox.claim(event_id, tenant_id="tenant-a", digest="1" * 64)
        # another tenant's message under the same id is its own claim: it cannot pre-empt this one
        other_tenant = await uow.inbox.claim(event_id, tenant_id="tenant-b", digest="2" * 64)
    assert (first, again, other_tenant) == (True, False, True)
    with pytest.raises(TenantBindingError, match="other content"):
        async with harness.stores() as uow:
            await uow.inbox.claim(event_id, tenant_id="tenant-a", digest="3" * 64)
    async with harness.stores() as uow:
        assert not await uow.inbox.claim(event_id, tenant_id="tenant-a", digest="1" * 64)


# --- outbox ----------------------------------------------------------------------------------------


async def test_the_outbox_keeps_each_event_id_once_in_the_order_queued(harness: StoreHarness) -> None:
    tenant_id, saga_id = harness.tenant_id(), uuid4()
    first, second, third = (plan_ready(tenant_id, saga_id) for _ in range(3))
    async with harness.stores() as uow:
        await uow.outbox.add([first, second, first])
    async with harness.stores() as uow:
        await uow.outbox.add([second, third])
        await uow.outbox.add([])
    ids = [o.message.event_id for o in (first, second, third)]
    assert await harness.queued(ids) == [(str(Topic.PLANS), event_id) for event_id in ids]


async def test_a_rolled_back_unit_of_work_queues_nothing(harness: StoreHarness) -> None:
    queued = plan_ready(harness.tenant_id(), uuid4())
    async with rolled_back(harness.stores) as uow:
        await uow.outbox.add([queued])
    assert await harness.queued([queued.message.event_id]) == []
    async with harness.stores() as uow:  # and its event id is not taken: queueing it again works
        await uow.outbox.add([queued])
    assert await harness.queued([queued.message.event_id]) == [(str(Topic.PLANS), queued.message.event_id)]


# --- snapshots -------------------------------------------------------------------------------------


async def test_a_snapshot_is_stored_by_its_content(harness: StoreHarness) -> None:
    snapshot = harness.tenant.planning_snapshot(business_date=TODAY, horizon_days=14)
    next_day = harness.tenant.planning_snapshot(business_date=TODAY + timedelta(days=1), horizon_days=14)
    async with harness.stores() as uow:
        stored = await uow.snapshots.add(snapshot)
    async with harness.stores() as uow:
        again = await uow.snapshots.add(snapshot.model_copy())
        other = await uow.snapshots.add(next_day)
        read, read_other = await uow.snapshots.get(stored.sha256), await uow.snapshots.get(other.sha256)
    assert again == stored
    assert len(stored.sha256) == 64
    assert stored.size_bytes > 0
    assert other.sha256 != stored.sha256
    assert (read, read_other) == (snapshot, next_day)


# --- master data -----------------------------------------------------------------------------------


async def test_master_data_knows_the_seeded_tenant_and_its_ingredients(harness: StoreHarness) -> None:
    tenant = harness.tenant
    ingredient = tenant.ingredients[0].ingredient_id
    stranger = unique_tenant_id()
    async with harness.stores() as uow:
        known = await uow.masterdata.tenant_exists(tenant.tenant_id), await uow.masterdata.tenant_exists(stranger)
        ingredients = (
            await uow.masterdata.ingredient_exists(tenant.tenant_id, ingredient),
            await uow.masterdata.ingredient_exists(tenant.tenant_id, "no-such-flour"),
            await uow.masterdata.ingredient_exists(stranger, ingredient),
        )
        time_zone = await uow.masterdata.time_zone(tenant.tenant_id)
        profile = await uow.masterdata.tenant_profile(tenant.tenant_id)
    assert known == (True, False)
    assert ingredients == (True, False, False)
    assert time_zone == tenant.timezone
    # what a purchase order says of the tenant: EUR is the currency column's default (migration 0008)
    assert profile == TenantProfile(name=tenant.name, time_zone=tenant.timezone, currency="EUR")


async def test_master_data_snapshot_is_the_tenants_for_the_date_asked(harness: StoreHarness) -> None:
    tenant = harness.tenant
    business_date = TODAY + timedelta(days=2)
    async with harness.stores(consistent_reads=True) as uow:
        snapshot = await uow.masterdata.snapshot(tenant.tenant_id, business_date=business_date, horizon_days=7)
    assert (snapshot.tenant_id, snapshot.business_date, snapshot.horizon_days) == (tenant.tenant_id, business_date, 7)
    assert [p.product_id for p in snapshot.products] == [p.product_id for p in tenant.products]
    assert snapshot.ingredients == tenant.ingredients
    assert snapshot.suppliers == tenant.suppliers


async def test_master_data_snapshot_of_an_unknown_tenant_names_the_fix(harness: StoreHarness) -> None:
    stranger = unique_tenant_id()
    async with harness.stores() as uow:
        with pytest.raises(PlanningError, match=rf"unknown tenant '{stranger}'.*bakeplan seed"):
            await uow.masterdata.snapshot(stranger, business_date=TODAY, horizon_days=14)


# --- low-stock signals -----------------------------------------------------------------------------


async def test_signals_stay_pending_oldest_first_until_assigned_to_a_saga(harness: StoreHarness) -> None:
    tenant_id, other_tenant = harness.tenant_id(), harness.tenant_id()
    early, late, elsewhere = a_signal(tenant_id), a_signal(tenant_id, "I0002"), a_signal(other_tenant)
    t1, t2, t3 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2), T0 + timedelta(seconds=3)
    async with harness.stores() as uow:
        await uow.signals.add(late, received_at=t2)
        await uow.signals.add(early, received_at=t1)
        await uow.signals.add(elsewhere, received_at=t3)
    async with harness.stores() as uow:
        await uow.signals.add(late, received_at=t3)  # a redelivery: the first receipt stands
        oldest = await uow.signals.oldest_pending()
        pending = await uow.signals.lock_pending(tenant_id)
    assert {t: oldest[t] for t in (tenant_id, other_tenant)} == {tenant_id: t1, other_tenant: t3}
    assert pending == [kept(early, t1), kept(late, t2)]

    saga_id = uuid4()
    async with harness.stores() as uow:
        await uow.signals.assign([early.event_id], saga_id)
    async with harness.stores() as uow:
        assert await uow.signals.lock_pending(tenant_id) == [kept(late, t2)]
        assert (await uow.signals.oldest_pending())[tenant_id] == t2
        await uow.signals.assign([late.event_id], saga_id)
    async with harness.stores() as uow:
        assert await uow.signals.lock_pending(tenant_id) == []
        oldest = await uow.signals.oldest_pending()
    assert tenant_id not in oldest
    assert oldest[other_tenant] == t3


# --- audit -----------------------------------------------------------------------------------------


async def test_the_audit_archives_what_came_in_then_what_went_out_each_event_once(harness: StoreHarness) -> None:
    tenant_id, saga_id = harness.tenant_id(), uuid4()
    trigger = a_trigger(tenant_id)
    snapshot = harness.tenant.planning_snapshot(business_date=TODAY, horizon_days=14)
    taken = SnapshotTaken(
        event_id=uuid4(),
        tenant_id=tenant_id,
        saga_id=saga_id,
        occurred_at=T0,
        snapshot=snapshot.model_copy(update={"tenant_id": tenant_id}),
        content_sha256="ab" * 32,
    )
    first, later = plan_ready(tenant_id, saga_id), plan_ready(tenant_id, saga_id)
    others = plan_ready(tenant_id, uuid4())
    inbound = Inbound(trigger, Topic.TRIGGERS, saga_id)
    async with harness.stores() as uow:
        await uow.audit.record(inbound=inbound, outgoing=[Outgoing(Topic.SNAPSHOTS, taken), first], at=T0)
        await uow.audit.record(outgoing=[others], at=T0)
    async with harness.stores() as uow:  # a redelivery archived again, with something new
        await uow.audit.record(inbound=inbound, outgoing=[first, later], at=T0 + timedelta(seconds=1))
        await uow.audit.record(at=T0)
    async with rolled_back(harness.stores) as uow:
        await uow.audit.record(outgoing=[plan_ready(tenant_id, saga_id)], at=T0)
    assert await harness.archived(saga_id) == [
        ("in", trigger.event_id, str(Topic.TRIGGERS)),
        ("out", taken.event_id, str(Topic.SNAPSHOTS)),
        ("out", first.message.event_id, str(Topic.PLANS)),
        ("out", later.message.event_id, str(Topic.PLANS)),
    ]
