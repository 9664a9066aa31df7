"""Unit tests of the pure dead-letter parts: header parsing, filters, replay selection and headers."""

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.topics import Topic
from infra.messaging.dead_letter_records import (
    REPLAYED_FROM,
    ParkedMessage,
    PriorReplay,
    UnknownRecordError,
    matches,
    parse_parked,
    parse_record_id,
    plan_replay,
    replay_headers,
    to_json,
)

pytestmark = pytest.mark.unit

EVENT_ID = UUID("6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b")
RECORD_TS_MS = 1_764_300_000_000  # 2025-11-28 03:20:00 UTC
BODY = orjson.dumps({"event_id": str(EVENT_ID), "event_type": "planning.requested", "tenant_id": "bakery-001"})


def park_headers(
    *,
    original: list[tuple[str, bytes]] | None = None,
    consumer: str = "orchestrator",
    source_topic: str = Topic.TRIGGERS,
    reason: str = "orchestrator gave up after 5 attempts: RuntimeError('db down')",
    parked_at: str | None = "2026-11-28T04:00:00.123456+00:00",
) -> list[tuple[str, bytes]]:
    """Headers as `park()` writes them: the original ones, then the dlq.* ones."""
    headers = [
        *(original if original is not None else [("event_type", b"planning.requested")]),
        ("dlq.reason", reason.encode()),
        ("dlq.exception", b"RuntimeError"),
        ("dlq.attempts", b"5"),
        ("dlq.consumer", consumer.encode()),
        ("dlq.source.topic", source_topic.encode()),
        ("dlq.source.partition", b"4"),
        ("dlq.source.offset", b"1207"),
    ]
    if parked_at is not None:
        headers.append(("dlq.parked_at", parked_at.encode()))
    return headers


def a_parked(
    partition: int = 2,
    offset: int = 31,
    *,
    key: bytes | None = b"bakery-001",
    value: bytes | None = BODY,
    headers: list[tuple[str, bytes]] | None = None,
    timestamp_ms: int = RECORD_TS_MS,
) -> ParkedMessage:
    return parse_parked(
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        headers=headers if headers is not None else park_headers(),
    )


# --- parsing ---------------------------------------------------------------------------------------


def test_every_park_header_is_parsed() -> None:
    m = a_parked()

    assert (m.id, m.record_id) == ("2:31", (2, 31))
    assert m.parked_at == datetime(2026, 11, 28, 4, 0, 0, 123456, tzinfo=UTC)
    assert (m.consumer, m.source_topic, m.source_partition, m.source_offset) == (
        "orchestrator",
        Topic.TRIGGERS,
        4,
        1207,
    )
    assert (m.attempts, m.exception) == (5, "RuntimeError")
    assert m.reason == "orchestrator gave up after 5 attempts: RuntimeError('db down')"
    assert (m.tenant, m.event_type, m.event_id) == ("bakery-001", "planning.requested", EVENT_ID)
    assert m.replayed_from is None
    assert m.unreplayable_because is None


def test_parked_at_falls_back_to_the_record_timestamp_when_absent_or_unreadable() -> None:
    record_time = datetime.fromtimestamp(RECORD_TS_MS / 1000, tz=UTC)

    assert a_parked(headers=park_headers(parked_at=None)).parked_at == record_time
    assert a_parked(headers=park_headers(parked_at="yesterday-ish")).parked_at == record_time


def test_parked_at_keeps_its_offset_and_reads_a_naive_time_as_utc() -> None:
    plus_two = a_parked(headers=park_headers(parked_at="2026-11-28T06:00:00+02:00")).parked_at
    naive = a_parked(headers=park_headers(parked_at="2026-11-28T04:00:00")).parked_at

    assert plus_two.utcoffset() == timedelta(hours=2)
    assert plus_two == datetime(2026, 11, 28, 4, tzinfo=UTC)
    assert naive == datetime(2026, 11, 28, 4, tzinfo=UTC)
    assert naive.tzinfo is not None


def test_an_unparsable_body_has_no_event_id_but_keeps_the_event_type_header() -> None:
    m = a_parked(value=b"{not json")

    assert m.event_id is None
    assert m.event_type == "planning.requested"


def test_without_an_event_type_header_the_event_type_comes_from_the_body() -> None:
    m = a_parked(headers=park_headers(original=[]))

    assert m.event_type == "planning.requested"


@pytest.mark.parametrize(
    "value",
    [None, b"", b"[1, 2]", b'{"event_id": "not-a-uuid"}', b'{"event_id": 17}', b'"a string"'],
)
def test_odd_bodies_never_raise(value: bytes | None) -> None:
    m = a_parked(value=value, headers=park_headers(original=[]))

    assert (m.event_id, m.event_type) == (None, None)


def test_a_foreign_record_without_dlq_headers_lists_but_cannot_be_replayed() -> None:
    m = a_parked(key=None, headers=[("event_type", b"planning.requested")])

    assert (m.consumer, m.source_topic, m.source_partition, m.attempts, m.reason) == ("", "", None, None, "")
    assert m.tenant == ""
    assert m.unreplayable_because is not None
    assert "dlq.source.topic" in m.unreplayable_because


def test_a_replay_that_was_parked_again_shows_where_it_was_replayed_from_and_its_newest_parking() -> None:
    """The replayed record carried `dlq.replayed_from` as an original header; park() appends new dlq.* after it."""
    first = park_headers(reason="first failure")
    replayed = replay_headers(a_parked(partition=1, offset=9, headers=first))
    parked_again = park_headers(original=replayed, reason="still failing after the fix", consumer="production")

    m = a_parked(headers=parked_again)

    assert m.replayed_from == "1:9"
    assert (m.reason, m.consumer) == ("still failing after the fix", "production")


def test_non_utf8_header_bytes_are_replaced_not_fatal() -> None:
    m = a_parked(headers=[*park_headers(), ("dlq.consumer", b"prod\xffuction")])

    assert m.consumer == "prod\ufffduction"


# --- ids and filters -------------------------------------------------------------------------------


def test_record_ids_parse_as_partition_and_offset() -> None:
    assert parse_record_id("3:17") == (3, 17)
    assert parse_record_id(" 0:0 ") == (0, 0)


@pytest.mark.parametrize("text", ["", "3", "3:", ":17", "a:1", "3:17:2", "-1:4", "3;17"])
def test_a_malformed_record_id_is_rejected_by_name(text: str) -> None:
    with pytest.raises(UnknownRecordError, match="PARTITION:OFFSET") as raised:
        parse_record_id(text)
    assert repr(text) in str(raised.value)


def test_filters_match_exactly_and_combine() -> None:
    m = a_parked()

    assert matches(m)
    assert matches(m, consumer="orchestrator", source_topic=Topic.TRIGGERS, tenant="bakery-001")
    assert not matches(m, consumer="orchestra")
    assert not matches(m, source_topic=Topic.STEP_REPLIES)
    assert not matches(m, tenant="bakery-002")
    assert not matches(m, consumer="orchestrator", tenant="bakery-002")


# --- replay headers --------------------------------------------------------------------------------


def test_replay_headers_drop_every_dlq_header_and_say_where_they_came_from() -> None:
    original = [("event_type", b"planning.requested"), ("traceparent", b"00-abc-01"), ("dlq.replayed_from", b"0:1")]
    m = a_parked(partition=5, offset=88, headers=park_headers(original=original))

    assert replay_headers(m) == [
        ("event_type", b"planning.requested"),
        ("traceparent", b"00-abc-01"),
        (REPLAYED_FROM, b"5:88"),
    ]


header_names = st.one_of(st.text(min_size=1, max_size=12), st.text(max_size=8).map(lambda s: "dlq." + s))


@given(headers=st.lists(st.tuples(header_names, st.binary(max_size=8)), max_size=12))
def test_replay_headers_keep_the_non_dlq_headers_in_order_and_add_exactly_one_dlq_header(
    headers: list[tuple[str, bytes]],
) -> None:
    m = a_parked(partition=1, offset=2, headers=headers)

    out = replay_headers(m)

    assert out[:-1] == [(k, v) for k, v in headers if not k.startswith("dlq.")]
    assert out[-1] == (REPLAYED_FROM, b"1:2")
    assert [k for k, _ in out if k.startswith("dlq.")] == [REPLAYED_FROM]


# --- choosing what to replay -----------------------------------------------------------------------

AT = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)


def three_parked() -> list[ParkedMessage]:
    return [
        a_parked(0, 1),
        a_parked(0, 2, headers=park_headers(consumer="production", source_topic=Topic.PRODUCTION_COMMANDS)),
        a_parked(3, 7),
    ]


def test_unknown_ids_fail_naming_each_one_before_anything_is_chosen() -> None:
    with pytest.raises(UnknownRecordError) as raised:
        plan_replay(
            three_parked(), ids=[(0, 1), (9, 9), (3, 8)], consumer=None, source_topic=None, prior={}, force=False
        )

    assert "9:9" in str(raised.value)
    assert "3:8" in str(raised.value)
    assert "0:1" not in str(raised.value)


def test_named_ids_are_replayed_in_topic_order_not_argument_order() -> None:
    plan = plan_replay(three_parked(), ids=[(3, 7), (0, 1)], consumer=None, source_topic=None, prior={}, force=False)

    assert [m.id for m in plan.replay] == ["0:1", "3:7"]
    assert plan.skipped == ()


def test_already_replayed_records_are_skipped_unless_forced() -> None:
    prior = {(0, 1): PriorReplay(replayed_at=AT, replayed_by="ops@host")}

    plain = plan_replay(three_parked(), ids=None, consumer=None, source_topic=None, prior=prior, force=False)
    forced = plan_replay(three_parked(), ids=None, consumer=None, source_topic=None, prior=prior, force=True)

    assert [m.id for m in plain.replay] == ["0:2", "3:7"]
    assert [(m.id, why) for m, why in plain.skipped] == [
        ("0:1", "already replayed at 2026-11-28 05:30:00 by ops@host (use --force to replay it again)")
    ]
    assert [m.id for m in forced.replay] == ["0:1", "0:2", "3:7"]
    assert forced.skipped == ()


def test_all_takes_only_records_passing_the_filters_and_is_silent_about_the_rest() -> None:
    by_consumer = plan_replay(three_parked(), ids=None, consumer="production", source_topic=None, prior={}, force=False)
    by_topic = plan_replay(three_parked(), ids=None, consumer=None, source_topic=Topic.TRIGGERS, prior={}, force=False)

    assert ([m.id for m in by_consumer.replay], by_consumer.skipped) == (["0:2"], ())
    assert ([m.id for m in by_topic.replay], by_topic.skipped) == (["0:1", "3:7"], ())


def test_a_named_id_the_filters_exclude_is_skipped_with_the_reason() -> None:
    plan = plan_replay(three_parked(), ids=[(0, 1)], consumer="production", source_topic=None, prior={}, force=False)

    assert plan.replay == ()
    assert [(m.id, why) for m, why in plan.skipped] == [("0:1", "it does not match --consumer/--source-topic")]


def test_records_without_a_usable_source_topic_are_skipped_even_when_forced() -> None:
    foreign = a_parked(1, 1, headers=[("event_type", b"x")])
    looping = a_parked(1, 2, headers=park_headers(source_topic=Topic.DEAD_LETTER))

    plan = plan_replay([foreign, looping], ids=None, consumer=None, source_topic=None, prior={}, force=True)

    assert plan.replay == ()
    assert [m.id for m, _ in plan.skipped] == ["1:1", "1:2"]
    assert "dead-letter topic itself" in plan.skipped[1][1]


# --- JSON ------------------------------------------------------------------------------------------


def test_json_has_the_full_reason_the_original_headers_and_the_replay() -> None:
    reason = "x" * 500
    m = a_parked(headers=park_headers(reason=reason, parked_at="2026-11-28T04:00:00+01:00"))
    prior = PriorReplay(replayed_at=AT, replayed_by="ops@host")

    listed = to_json(m, prior)
    fresh = to_json(m, None)

    assert listed["reason"] == reason
    assert listed["headers"] == {"event_type": "planning.requested"}
    assert listed["parked_at"] == datetime(2026, 11, 28, 4, tzinfo=timezone(timedelta(hours=1))).isoformat()
    assert (listed["id"], listed["key"], listed["event_id"]) == ("2:31", "bakery-001", str(EVENT_ID))
    assert (listed["replayed"], listed["replayed_by"]) == (True, "ops@host")
    assert (fresh["replayed"], fresh["replayed_at"]) == (False, None)
    orjson.dumps(listed)  # every value is JSON-ready


def test_event_ids_from_distinct_bodies_differ() -> None:
    """Guards `body_identity` against returning a constant: each body's own id comes back."""
    ids = [uuid4() for _ in range(3)]
    parsed = [a_parked(value=orjson.dumps({"event_id": str(i)})).event_id for i in ids]

    assert parsed == ids


# --- a replay row is of one record, not of an offset ----------------------------------------------


def test_a_replay_of_an_earlier_record_at_the_same_offset_is_not_this_records() -> None:
    replayed = a_parked(0, 1)
    newer = a_parked(0, 1, value=b'{"event_type": "planning.requested", "t', timestamp_ms=RECORD_TS_MS + 1)
    row = PriorReplay(replayed_at=AT, replayed_by="ops@host", record_digest=replayed.digest)
    legacy = PriorReplay(replayed_at=AT, replayed_by="ops@host", record_digest=None)

    assert (row.is_of(replayed), row.is_of(newer)) == (True, False)
    assert (legacy.is_of(replayed), legacy.is_of(newer)) == (True, True), "rows from before the digest match by offset"
    plan = plan_replay([newer], ids=None, consumer=None, source_topic=None, prior={(0, 1): row}, force=False)
    assert ([m.id for m in plan.replay], plan.skipped) == (["0:1"], ())


@given(
    st.tuples(st.integers(0, 2**41), st.none() | st.binary(max_size=8), st.none() | st.binary(max_size=8)),
    st.tuples(st.integers(0, 2**41), st.none() | st.binary(max_size=8), st.none() | st.binary(max_size=8)),
)
def test_the_digest_differs_whenever_timestamp_key_or_value_differ(
    a: tuple[int, bytes | None, bytes | None], b: tuple[int, bytes | None, bytes | None]
) -> None:
    first = a_parked(timestamp_ms=a[0], key=a[1], value=a[2])
    second = a_parked(timestamp_ms=b[0], key=b[1], value=b[2])

    assert (first.digest == second.digest) == (a == b)
    assert len(first.digest) == 64
