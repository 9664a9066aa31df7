"""The contract document (docs/contract.md): committed files current, made from contracts/ and the
roles alone, and true to what the code sends."""

import json
from pathlib import Path
from typing import Any, Literal

import pytest

from bakeplan.contract import document as document_module
from bakeplan.contract.document import PARKED, asyncapi_document
from bakeplan.contract.files import DOCUMENT, REGENERATE, SCHEMAS, rendered, stale, write
from bakeplan.contract.parties import Operation, operations, role_subscriptions
from bakeplan.process import Subscription
from bakeplan.roles.worker import SPECS
from contracts import routing, wire_schemas
from contracts.envelope import Message
from contracts.messages import (
    ALL_MESSAGES,
    DiscardForecast,
    ForecastDemand,
    PlanningRequested,
    PlanProcurement,
    ScheduleProduction,
    StepCompensated,
    StepFailed,
)
from contracts.past_versions import PlanningRequestedV1
from contracts.purchasing_messages import ReleasePurchaseOrders
from contracts.routing import TOPIC_MESSAGES
from contracts.topics import Topic
from contracts.wire_schemas import MessageVersion, message_versions, wire_schema
from orchestrator.saga import STEP_TOPICS
from tests.golden.write import path_of
from tests.unit.orchestrator_world import OTHER_BAKERY, World, a_reply_envelope, a_trigger, reply_to, started

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def subscriptions() -> dict[Any, tuple[Subscription, ...]]:
    return role_subscriptions()  # builds every role's process: do it once


@pytest.fixture(scope="module")
def doc(subscriptions: dict[Any, tuple[Subscription, ...]]) -> dict[str, Any]:
    return asyncapi_document(operations(subscriptions), version="test")


def test_the_committed_contract_files_are_what_the_command_writes() -> None:
    differ = stale(ROOT)

    assert not differ, (
        f"the contract files differ from contracts/: {', '.join(map(str, differ))}. "
        f"Run `{REGENERATE}` and commit docs/asyncapi.json and docs/schemas/"
    )


def test_a_changed_missing_or_orphan_file_is_stale_and_write_repairs_it(tmp_path: Path) -> None:
    wanted = rendered()
    write(tmp_path)
    (tmp_path / DOCUMENT).write_text("{}\n")
    (tmp_path / SCHEMAS / "planning.requested.v1.json").unlink()
    (tmp_path / SCHEMAS / "planning.requested.v9.json").write_text("{}\n")

    assert stale(tmp_path, wanted) == sorted(
        [DOCUMENT, SCHEMAS / "planning.requested.v1.json", SCHEMAS / "planning.requested.v9.json"]
    )
    write(tmp_path)
    assert stale(tmp_path, wanted) == []


def test_every_topic_is_a_channel_carrying_every_version_of_its_messages(doc: dict[str, Any]) -> None:
    by_address = {channel["address"]: channel for channel in doc["channels"].values()}

    assert set(by_address) == {str(topic) for topic in Topic}
    triggers = by_address[str(Topic.TRIGGERS)]["messages"]
    assert set(triggers) == {"planning.requested.v1", "planning.requested.v2"}
    replies = by_address[str(Topic.STEP_REPLIES)]["messages"]
    assert "planning.step_failed.v1" in replies
    assert "forecasting.forecast_demand.v1" not in replies
    assert set(by_address[str(Topic.DEAD_LETTER)]["messages"]) == {PARKED}


def test_every_version_of_every_message_is_a_message_with_its_schema(doc: dict[str, Any]) -> None:
    messages, schemas = doc["components"]["messages"], doc["components"]["schemas"]
    expected = {f"{v.event_type}.v{v.version}" for v in message_versions()}

    assert len(expected) > len(ALL_MESSAGES)  # planning.requested has two versions
    assert set(messages) == expected | {PARKED}
    for key in expected:
        assert messages[key]["payload"] == {"$ref": f"#/components/schemas/{key}"}
        assert messages[key]["bindings"]["kafka"]["key"]["type"] == "string"
    v2 = schemas["planning.requested.v2"]
    assert "source" in v2["required"]
    assert "source" not in schemas["planning.requested.v1"]["properties"]
    # nested models live once, under their class name, and messages point at them
    assert schemas["planning.snapshot_taken.v1"]["properties"]["snapshot"] == {
        "$ref": "#/components/schemas/PlanningSnapshot"
    }
    assert "PlanningSnapshot" in schemas


def test_the_parked_message_carries_every_dead_letter_header(doc: dict[str, Any]) -> None:
    parked = doc["components"]["messages"][PARKED]["headers"]

    assert set(parked["required"]) == {
        "dlq.reason",
        "dlq.exception",
        "dlq.attempts",
        "dlq.consumer",
        "dlq.source.topic",
        "dlq.source.partition",
        "dlq.source.offset",
        "dlq.parked_at",
    }


def test_the_wire_schema_requires_what_the_codec_needs() -> None:
    v2 = wire_schema(MessageVersion(PlanningRequested))
    v1 = wire_schema(MessageVersion(PlanningRequestedV1))

    # event_type selects the model; a v2 body without schema_version would be read as v1
    assert v2["required"][:3] == ["event_id", "event_type", "schema_version"]
    assert v2["properties"]["schema_version"]["const"] == 2
    assert "schema_version" not in v1["required"]
    assert v1["properties"]["schema_version"]["const"] == 1
    assert v2["additionalProperties"] is False


def test_a_past_version_model_reads_its_golden_file() -> None:
    body = path_of("planning.requested", 1).read_bytes()

    old = PlanningRequestedV1.model_validate_json(body)

    assert (old.schema_version, old.requested_by) == (1, "scheduler")


def test_a_version_without_a_model_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_schemas, "PAST_VERSIONS", ())

    with pytest.raises(ValueError, match=r"planning.requested: .*expected \[1\].*contracts/past_versions.py"):
        message_versions()


def test_the_roles_receive_what_their_composition_roots_subscribe(doc: dict[str, Any]) -> None:
    receives = {
        op_id: op["bindings"]["kafka"]["groupId"]["enum"][0]
        for op_id, op in doc["operations"].items()
        if op["action"] == "receive" and "bindings" in op
    }

    assert receives["orchestrator.receive.triggers"] == "bakeplan.orchestrator"
    assert receives["orchestrator.receive.step-replies"] == "bakeplan.orchestrator"
    assert receives["forecasting.receive.forecasting-commands"] == "bakeplan.forecasting"
    assert receives["procurement.receive.plans"] == "bakeplan.procurement-plans"
    assert "forecasting.receive.triggers" not in receives


def test_a_worker_sends_only_the_replies_of_its_own_step(doc: dict[str, Any]) -> None:
    sent = [m["$ref"].rsplit("/", 1)[1] for m in doc["operations"]["production.send.step-replies"]["messages"]]

    assert sent == ["production.production_scheduled.v1", "planning.step_failed.v1", "planning.step_compensated.v1"]


def test_each_step_topic_carries_its_workers_command_and_compensation() -> None:
    for step, spec in SPECS.items():
        assert STEP_TOPICS[step] == spec.commands_topic
        assert {spec.command, spec.compensation} <= set(TOPIC_MESSAGES[spec.commands_topic])


async def _a_completed_and_a_compensated_saga(world: World) -> None:
    await started(world)
    for kind in (ForecastDemand, ScheduleProduction, PlanProcurement, ReleasePurchaseOrders):
        (command,) = world.sent(kind)
        assert isinstance(command, ForecastDemand | ScheduleProduction | PlanProcurement | ReleasePurchaseOrders)
        await world.orchestrator.handle(reply_to(command, world.clock.now))
    other = await started(world, a_trigger(OTHER_BAKERY))
    (forecast,) = world.sent(ForecastDemand, other)
    await world.orchestrator.handle(reply_to(forecast, world.clock.now))
    (schedule,) = world.sent(ScheduleProduction, other)
    failed = StepFailed(
        step="production", reason="oven 2 is out of order", **a_reply_envelope(schedule, world.clock.now)
    )
    await world.orchestrator.handle(failed)
    (discard,) = world.sent(DiscardForecast, other)
    done = StepCompensated(step="forecasting", affected_rows=3, **a_reply_envelope(discard, world.clock.now))
    await world.orchestrator.handle(done)


async def test_what_the_orchestrator_sends_goes_where_the_document_says(doc: dict[str, Any]) -> None:
    world = World()
    await _a_completed_and_a_compensated_saga(world)
    declared = {
        (op["channel"]["$ref"].rsplit("/", 1)[1], m["$ref"].rsplit("/", 1)[1])
        for op_id, op in doc["operations"].items()
        if op_id.startswith("orchestrator.send.")
        for m in op["messages"]
    }
    channel_of = {channel["address"]: key for key, channel in doc["channels"].items()}

    sent = {(channel_of[str(o.topic)], MessageVersion(type(o.message)).key) for o in world.stores.outbox}

    assert world.finished == ["COMPLETED", "COMPENSATED"]
    assert {key for _, key in sent} >= {
        "planning.snapshot_taken.v1",
        "procurement.plan_procurement.v1",
        "procurement.release_purchase_orders.v1",
        "forecasting.discard_forecast.v1",
        "planning.plan_ready.v1",
        "planning.plan_compensated.v1",
    }
    assert sent <= declared, f"sent but not in the document: {sorted(sent - declared)}"


class SupplierConfirmed(Message):
    """A message another team is adding: only routing it and regenerating should be needed."""

    event_type: Literal["purchasing.supplier_confirmed"] = "purchasing.supplier_confirmed"
    po_number: str


def test_a_new_routed_message_needs_nothing_but_a_regenerate(
    monkeypatch: pytest.MonkeyPatch, subscriptions: dict[Any, tuple[Subscription, ...]]
) -> None:
    monkeypatch.setattr(wire_schemas, "ALL_MESSAGES", (*ALL_MESSAGES, SupplierConfirmed))
    monkeypatch.setattr(
        document_module,
        "TOPIC_MESSAGES",
        {**TOPIC_MESSAGES, Topic.PLANS: (*TOPIC_MESSAGES[Topic.PLANS], SupplierConfirmed)},
    )

    doc = asyncapi_document(operations(subscriptions), version="test")

    assert "purchasing.supplier_confirmed.v1" in doc["channels"]["plans"]["messages"]
    assert doc["components"]["schemas"]["purchasing.supplier_confirmed.v1"]["required"][:2] == [
        "event_id",
        "event_type",
    ]
    receive = doc["operations"]["forecasting.receive.plans"]["messages"]
    assert {"$ref": "#/channels/plans/messages/purchasing.supplier_confirmed.v1"} in receive


def test_an_unrouted_message_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, subscriptions: dict[Any, tuple[Subscription, ...]]
) -> None:
    monkeypatch.setattr(wire_schemas, "ALL_MESSAGES", (*ALL_MESSAGES, SupplierConfirmed))

    with pytest.raises(ValueError, match=r"purchasing.supplier_confirmed.*TOPIC_MESSAGES in contracts/routing.py"):
        asyncapi_document(operations(subscriptions), version="test")


def test_an_unrouted_topic_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        document_module, "TOPIC_MESSAGES", {t: m for t, m in TOPIC_MESSAGES.items() if t != Topic.ALERTS}
    )

    with pytest.raises(ValueError, match=r"\['ALERTS'\] carry no messages"):
        asyncapi_document([], version="test")


def test_two_operations_with_one_id_are_refused() -> None:
    twice = [Operation("cli", "send", Topic.FEEDS, "feed"), Operation("cli", "send", Topic.FEEDS, "feed again")]

    with pytest.raises(ValueError, match=r"two operations are both cli\.send\.feeds"):
        asyncapi_document(twice, version="test")


def test_every_message_is_on_exactly_the_topics_routing_says() -> None:
    assert routing.topics_of(PlanningRequested) == (Topic.TRIGGERS,)
    assert all(routing.topics_of(cls) for cls in ALL_MESSAGES)


def test_the_schema_files_are_standalone_json_schemas() -> None:
    files = {path.name: json.loads(text) for path, text in rendered().items() if path.parent == SCHEMAS}

    snapshot = files["planning.snapshot_taken.v1.json"]
    assert snapshot["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert snapshot["properties"]["snapshot"] == {"$ref": "#/$defs/PlanningSnapshot"}
    assert "PlanningSnapshot" in snapshot["$defs"]
