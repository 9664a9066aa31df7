"""The envelope every bakeplan message carries, and the registry of message types."""

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Message(BaseModel):
    """Base of every message on Kafka.

    Subclasses set `event_type` as a `Literal` and `SCHEMA_VERSION`; new fields only with defaults.
    `saga_id` is `None` only for messages that start a saga (triggers).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID
    event_type: str
    schema_version: int = Field(default=1, ge=1)
    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    saga_id: UUID | None = None
    causation_id: UUID | None = None
    correlation_id: UUID | None = None
    occurred_at: AwareDatetime


class Strict(BaseModel):
    """Base of the value objects inside messages."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
