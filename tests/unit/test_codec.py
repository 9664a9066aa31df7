"""Unit tests of the wire codec: round trips, and helpful errors for every kind of bad input."""

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.envelope import Message, current_version
from contracts.errors import InvalidMessageError, PermanentError
from contracts.ids import saga_id_for_trigger
from contracts.messages import (
    CancelProductionBatches,
    DemandForecasted,
    ForecastDemand,
    PlanningRequested,
    StepFailed,
    message_types,
)
from contracts.planning import Calendar, ForecastLine, Product, SalesHistory
from infra.messaging.codec import decode, decode_checked, encode
from tests.golden.write import HERE

pytestmark = pytest.mark.unit

MONDAY = date(2024, 5, 13)
AT_4AM = datetime(2024, 5, 13, 4, 0, 0, 123456, tzinfo=UTC)
EVENT_ID = UUID("0f0e5a52-5d8c-4b1e-9f1a-2c3d4e5f6a01")
SAGA_ID = UUID("9b7c2f0e-1a2b-4c3d-8e9f-0a1b2c3d4e02")
CAUSE_ID = UUID("5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d03")
TENANT = "boulangerie-nord"


def a_planning_request(**changes: Any) -> PlanningRequested:
    fields: dict[str, Any] = {
        "event_id": EVENT_ID,
        "tenant_id": TENANT,
        "occurred_at": AT_4AM,
        "business_date": MONDAY,
        "source": "external",
        "requested_by": "cron",
        "horizon_days": 7,
    }
    return PlanningRequested(**(fields | changes))


def a_demand_forecast(*lines: ForecastLine) -> DemandForecasted:
    return DemandForecasted(
        event_id=EVENT_ID,
        tenant_id=TENANT,
        saga_id=SAGA_ID,
        causation_id=CAUSE_ID,
        correlation_id=SAGA_ID,
        occurred_at=AT_4AM,
        forecast=lines,
    )


def wire_dict(message: Message) -> dict[str, Any]:
    """The message as it is on the wire, ready to be corrupted."""
    obj = orjson.loads(encode(message))
    assert isinstance(obj, dict)
    return obj


# --- round trips -------------------------------------------------------------------------------------

ROUND_TRIP_MESSAGES: list[Message] = [
    a_planning_request(),
    a_planning_request(occurred_at=datetime(2024, 5, 13, 6, 0, tzinfo=timezone(timedelta(hours=2)))),
    StepFailed(
        event_id=EVENT_ID,
        tenant_id=TENANT,
        saga_id=SAGA_ID,
        causation_id=CAUSE_ID,
        occurred_at=AT_4AM,
        step="production",
        reason="oven capacity 480 min < 510 min needed on 2024-05-14",
    ),
    a_demand_forecast(
        ForecastLine(product_id="baguette", day=MONDAY, units=120.5),
        ForecastLine(product_id="baguette", day=MONDAY + timedelta(days=1), units=0.0),
        ForecastLine(product_id="pain-au-chocolat", day=MONDAY, units=0.1),
    ),
    a_demand_forecast(),
    CancelProductionBatches(event_id=EVENT_ID, tenant_id=TENANT, saga_id=SAGA_ID, occurred_at=AT_4AM, attempt=3),
    ForecastDemand(
        event_id=EVENT_ID,
        tenant_id=TENANT,
        saga_id=SAGA_ID,
        occurred_at=AT_4AM,
        business_date=MONDAY,
        horizon_days=2,
        products=(
            Product(
                product_id="baguette",
                name="Baguette «tradition»",
                family="bread",
                unit_price=1.2,
                unit_cost=0.35,
                shelf_life_days=1,
                finished_stock_units=4,
            ),
        ),
        sales=(SalesHistory(product_id="baguette", start_date=MONDAY - timedelta(days=3), daily_units=(80, None, 95)),),
        calendar=Calendar(closed_weekdays=(6,), closed_dates=(date(2024, 12, 25),)),
    ),
]


@pytest.mark.parametrize("message", ROUND_TRIP_MESSAGES, ids=lambda m: type(m).__name__)
def test_decode_of_encode_gives_back_the_same_message(message: Message) -> None:
    decoded = decode(encode(message))

    assert type(decoded) is type(message)
    assert decoded == message


def test_encode_writes_the_envelope_and_iso_dates() -> None:
    obj = wire_dict(a_planning_request())

    assert obj["event_type"] == "planning.requested"
    assert obj["schema_version"] == 2
    assert obj["event_id"] == str(EVENT_ID)
    assert obj["business_date"] == "2024-05-13"
    assert obj["occurred_at"] == "2024-05-13T04:00:00.123456+00:00"


@given(
    lines=st.lists(
        st.builds(
            ForecastLine,
            product_id=st.text(max_size=20),
            day=st.dates(),
            units=st.floats(min_value=0, allow_nan=False, allow_infinity=False),
        ),
        max_size=5,
    ),
    tenant_id=st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z"),
)
def test_any_valid_forecast_round_trips(lines: list[ForecastLine], tenant_id: str) -> None:
    message = a_demand_forecast(*lines).model_copy(update={"tenant_id": tenant_id})

    assert decode(encode(message)) == message


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_contracts_reject_non_finite_numbers_so_encode_never_writes_what_decode_rejects(value: float) -> None:
    # orjson writes inf and NaN as JSON null; the contracts refuse them before they reach the wire
    with pytest.raises(ValidationError, match="finite number"):
        ForecastLine(product_id="baguette", day=MONDAY, units=value)


# --- bad input ---------------------------------------------------------------------------------------


def with_changes(message: Message, **changes: Any) -> bytes:
    return orjson.dumps(wire_dict(message) | changes)


def without(message: Message, field_name: str) -> bytes:
    obj = wire_dict(message)
    del obj[field_name]
    return orjson.dumps(obj)


@pytest.mark.parametrize(
    ("raw", "expected_words"),
    [
        pytest.param(b"", ["empty message body", "JSON object"], id="empty body"),
        pytest.param(None, ["empty message body"], id="None"),
        pytest.param(b'{"event_type": "planning.requested", ', ["not valid JSON", "UTF-8"], id="truncated JSON"),
        pytest.param(b"\xff\xfe{}", ["not valid JSON"], id="not UTF-8"),
        pytest.param(
            with_changes(a_planning_request(), schema_version=1).replace(
                b'"schema_version":1', b'"schema_version":Infinity'
            ),
            ["not valid JSON"],
            id="Infinity (pydantic's parser takes it, JSON does not)",
        ),
        pytest.param(b'[{"event_type": "planning.requested"}]', ["JSON list", "expected an object"], id="array"),
        pytest.param(b'"planning.requested"', ["JSON str", "expected an object"], id="string"),
        pytest.param(
            with_changes(a_planning_request(), event_type="planning.exploded"),
            ["unknown event_type 'planning.exploded'", "planning.requested", "planning.step_failed"],
            id="unknown event_type",
        ),
        pytest.param(without(a_planning_request(), "event_type"), ["unknown event_type None"], id="no event_type"),
        pytest.param(
            with_changes(a_planning_request(), schema_version=99),
            ["planning.requested", "unsupported schema_version 99", "reads version 2", "upgrade bakeplan"],
            id="schema_version 99",
        ),
        pytest.param(
            with_changes(a_planning_request(), business_date="not-a-date"),
            ["planning.requested", f"tenant {TENANT!r}", "failed validation", "business_date", "date"],
            id="bad date",
        ),
        pytest.param(
            with_changes(a_planning_request(), horizon_days="7"),
            ["horizon_days", "valid integer"],
            id="string for int",
        ),
        pytest.param(
            with_changes(a_planning_request(), priority="high"),
            ["priority", "Extra inputs are not permitted"],
            id="extra field",
        ),
        pytest.param(
            without(a_planning_request(), "tenant_id"),
            ["planning.requested for tenant None", "tenant_id", "Field required"],
            id="missing tenant_id",
        ),
        pytest.param(
            with_changes(a_planning_request(), tenant_id="bad tenant/id"),
            ["tenant_id", "pattern"],
            id="tenant_id pattern",
        ),
        pytest.param(
            with_changes(a_planning_request(), occurred_at="2024-05-13T04:00:00"),
            ["occurred_at", "timezone"],
            id="naive occurred_at",
        ),
    ],
)
def test_decode_rejects_bad_input_with_a_helpful_error(raw: bytes | None, expected_words: list[str]) -> None:
    with pytest.raises(InvalidMessageError) as caught:
        decode(raw)

    for words in expected_words:
        assert words in str(caught.value)
    assert isinstance(caught.value, PermanentError), "retrying a bad message cannot help"


def test_a_validation_error_names_the_nested_field() -> None:
    obj = wire_dict(a_demand_forecast(ForecastLine(product_id="baguette", day=MONDAY, units=3.0)))
    obj["forecast"][0]["units"] = -1.0

    with pytest.raises(InvalidMessageError, match=r"forecast\.0\.units: Input should be greater than or equal to 0"):
        decode(orjson.dumps(obj))


def test_a_validation_error_lists_every_bad_field() -> None:
    raw = with_changes(a_planning_request(), business_date="not-a-date", horizon_days=0)

    with pytest.raises(InvalidMessageError) as caught:
        decode(raw)

    assert "business_date:" in str(caught.value)
    assert "horizon_days:" in str(caught.value)


# --- saga ids ----------------------------------------------------------------------------------------


def test_saga_id_for_trigger_is_deterministic_and_distinct_per_trigger() -> None:
    other_trigger = UUID("0f0e5a52-5d8c-4b1e-9f1a-2c3d4e5f6a02")

    assert saga_id_for_trigger(EVENT_ID) == saga_id_for_trigger(UUID(str(EVENT_ID)))
    assert saga_id_for_trigger(EVENT_ID) != saga_id_for_trigger(other_trigger)
    assert saga_id_for_trigger(EVENT_ID) != EVENT_ID
    assert saga_id_for_trigger(EVENT_ID).version == 5


@given(first=st.uuids(), second=st.uuids())
def test_different_triggers_never_share_a_saga_id(first: UUID, second: UUID) -> None:
    assert (saga_id_for_trigger(first) == saga_id_for_trigger(second)) == (first == second)


def _either(way: Callable[[bytes], Message], raw: bytes) -> Message | str:
    try:
        return way(raw)
    except InvalidMessageError as exc:
        return f"InvalidMessageError: {exc}"


@pytest.mark.parametrize("path", sorted(HERE.glob("*.v*.json")), ids=lambda p: p.name)
def test_the_one_parse_way_decodes_every_golden_message_as_the_checked_way_does(path: Path) -> None:
    """`decode` parses a current message once (pydantic) and leaves everything else to the checked
    way (orjson, upcasting, the helpful errors): both give the same message, old versions lifted."""
    raw = path.read_bytes()
    decoded = decode(raw)
    assert decoded == decode_checked(raw)
    assert type(decoded) is message_types()[decoded.event_type]
    assert decoded.schema_version == current_version(type(decoded))


@given(
    st.sampled_from(sorted(HERE.glob("*.v*.json"))),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=0, max_size=4),
)
def test_a_damaged_golden_message_is_decoded_or_refused_alike_both_ways(path: Path, at: int, junk: bytes) -> None:
    raw = path.read_bytes()
    at %= len(raw)
    damaged = raw[:at] + junk + raw[at + len(junk) :]
    assert _either(decode, damaged) == _either(decode_checked, damaged)
