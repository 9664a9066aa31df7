"""Which messages travel on which topic: one map, read by the contract document (docs/contract.md).

Every message is keyed by `tenant_id`. The dead-letter topic carries no message of its own: it holds
records exactly as they were read (often not a valid message: that is why they were parked), with the
`dlq.*` headers of `contracts.headers`. A new message goes into the tuple of the topic it is sent on.
"""

from collections.abc import Mapping
from typing import get_args

from contracts.envelope import Message
from contracts.messages import (
    CancelProductionBatches,
    DiscardForecast,
    FeedEvent,
    ForecastDemand,
    LowStockObserved,
    OperationsAlert,
    PlanCompensated,
    PlanningRequested,
    PlanProcurement,
    PlanReady,
    SagaFailedAlert,
    ScheduleProduction,
    SnapshotTaken,
    StepReply,
    VoidPurchaseLines,
)
from contracts.purchasing_messages import (
    CancelReleasedOrders,
    GoodsReceived,
    OrderCancelled,
    OrderConfirmed,
    OrderReleased,
    OrderSendFailed,
    OrderSent,
    ReleasePurchaseOrders,
)
from contracts.topics import Topic

TOPIC_MESSAGES: Mapping[Topic, tuple[type[Message], ...]] = {
    Topic.TRIGGERS: (PlanningRequested,),
    Topic.LOW_STOCK: (LowStockObserved,),
    Topic.FEEDS: get_args(FeedEvent),
    Topic.SNAPSHOTS: (SnapshotTaken,),
    Topic.FORECASTING_COMMANDS: (ForecastDemand, DiscardForecast),
    Topic.PRODUCTION_COMMANDS: (ScheduleProduction, CancelProductionBatches),
    Topic.PROCUREMENT_COMMANDS: (PlanProcurement, VoidPurchaseLines, ReleasePurchaseOrders, CancelReleasedOrders),
    Topic.STEP_REPLIES: get_args(StepReply),
    Topic.PLANS: (PlanReady, PlanCompensated),
    Topic.ALERTS: (SagaFailedAlert, OperationsAlert, OrderSendFailed),
    Topic.PURCHASE_ORDERS: (OrderReleased, OrderCancelled),
    Topic.PURCHASING_EVENTS: (OrderSent, OrderConfirmed, GoodsReceived),
    Topic.DEAD_LETTER: (),
}


def topics_of(cls: type[Message]) -> tuple[Topic, ...]:
    """The topics `cls` is sent on (empty for a message nobody has routed yet)."""
    return tuple(topic for topic, kinds in TOPIC_MESSAGES.items() if cls in kinds)
