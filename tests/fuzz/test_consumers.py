"""Every consumer of every role, fed fuzzed records (raw bytes, mutated messages, garbled headers, odd
keys) through its real decode path, handlers and Postgres stores: it never raises out of the record
handler (under Kafka: a crash loop, or a record skipped), and each record ends acknowledged, either
processed or parked on the dead-letter topic with its original bytes and a reason."""

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bakeplan.process import ROLES, Role
from contracts import headers as h
from contracts.errors import InvalidMessageError
from contracts.topics import Topic
from infra.messaging.codec import decode
from infra.settings import Settings
from tests.fuzz.consumers import Outcome, Wired, wired
from tests.fuzz.profiles import fuzz_settings
from tests.fuzz.wire import WireRecord, records

pytestmark = pytest.mark.fuzz

# what each role consumes: the fuzz covers every one (checked below against the composition roots)
CONSUMERS: dict[Role, list[Topic]] = {
    "orchestrator": [Topic.TRIGGERS, Topic.LOW_STOCK, Topic.FEEDS, Topic.STEP_REPLIES, Topic.PURCHASING_EVENTS],
    "forecasting": [Topic.FORECASTING_COMMANDS, Topic.PLANS],
    "production": [Topic.PRODUCTION_COMMANDS, Topic.PLANS],
    "procurement": [Topic.PROCUREMENT_COMMANDS, Topic.PLANS],
    "channels": [Topic.PLANS, Topic.ALERTS, Topic.PURCHASE_ORDERS],
}


@pytest.fixture(scope="package")
async def roles(fuzz_settings: Settings) -> AsyncIterator[dict[Role, Wired]]:
    built: dict[Role, Wired] = {}
    try:
        for role in ROLES:
            built[role] = await wired(fuzz_settings, role).__aenter__()
        yield built
    finally:
        for each in built.values():
            await each.process.engine.dispose()


def refused_by_the_shell(record: WireRecord) -> str | None:
    """Why the consumer shell itself must park `record` before any handler sees it, or None."""
    if any(name == h.CLAIM_CHECK for name, _ in record.headers):
        return "a claim check this database never stored"
    try:
        message = decode(record.value)
    except InvalidMessageError as exc:
        return str(exc)
    if record.key is None or record.key.decode(errors="replace") != message.tenant_id:
        return "a key that is not the tenant"
    return None


def check(outcome: Outcome, record: WireRecord, topic_name: str) -> None:
    if refused_by_the_shell(record) is not None:
        assert outcome.parked is not None, f"{record!r} was processed; the shell must park it"
        assert outcome.parked.header(h.DLQ_EXCEPTION) == "InvalidMessageError"
    if outcome.parked is None:
        return  # processed: acknowledged, nothing parked
    parked = outcome.parked
    assert outcome.reason.strip(), "parked without a reason"
    assert (parked.value, parked.key) == (record.value, record.key), "the dead letter must hold the original bytes"
    assert parked.headers[: len(record.headers)] == record.headers, "the record's own headers come first"
    assert parked.header(h.DLQ_SOURCE_TOPIC) == topic_name


def test_the_fuzz_covers_every_consumer_the_roles_wire(roles: dict[Role, Wired]) -> None:
    for role, each in roles.items():
        assert sorted({topic for topic, _ in each.consumers()}) == sorted(CONSUMERS[role]), role


@pytest.mark.parametrize("role", ROLES)
@fuzz_settings(examples=40)
@given(data=st.data())
async def test_any_record_is_processed_or_parked_never_a_crash(
    roles: dict[Role, Wired], role: Role, data: st.DataObject
) -> None:
    each = roles[role]
    topic, group = data.draw(st.sampled_from(each.consumers()), label="consumer")
    record = data.draw(records(topic), label="record")
    outcome = await each.deliver(topic, group, record)
    check(outcome, record, each.process.settings.topic(topic))


# Found by the Kafka fuzz (test_kafka_consumer.py): FastStream's parser decoded every header as UTF-8 and
# raised before the shell saw the record, which was then committed past, never parked. Each consumer
# now parses it (infra/messaging/record_parser.py); this record is parked, its header kept byte for byte.
@pytest.mark.parametrize("header", [b"\xe6\x03J\\\x17_\xa2\xa9", b"\xff"])
async def test_a_header_that_is_not_utf8_reaches_the_shell(roles: dict[Role, Wired], header: bytes) -> None:
    each = roles["production"]
    topic, group = next((t, g) for t, g in each.consumers() if t == Topic.PLANS)
    record = WireRecord(value=b"{}", key=b"golden-bakery", headers=[("\x9d\x81", header)])
    outcome = await each.deliver(topic, group, record)
    assert outcome.parked is not None
    assert outcome.parked.headers[0] == ("\x9d\x81", header)
    check(outcome, record, each.process.settings.topic(topic))


# Found by this tier: a claim check header holding a NUL byte went into the claim-check query, Postgres
# refused it (not UTF-8), and the consumer raised that out of its record handler: a crash loop, or the
# record committed past. The digest is now checked first (infra/messaging/claim_check.py).
@pytest.mark.parametrize("digest", [b"\x00", b"\xff" * 64, b"z" * 100_000, b"", b"0" * 64])
async def test_a_bogus_claim_check_is_parked(roles: dict[Role, Wired], digest: bytes) -> None:
    each = roles["orchestrator"]
    topic, group = next((t, g) for t, g in each.consumers() if t == Topic.TRIGGERS)
    record = WireRecord(value=b"{}", key=b"golden-bakery", headers=[(h.CLAIM_CHECK, digest)])
    outcome = await each.deliver(topic, group, record)
    check(outcome, record, each.process.settings.topic(topic))
