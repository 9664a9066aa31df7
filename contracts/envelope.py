"""The envelope every bakeplan message carries, and the registry of message types."""

from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Message(BaseModel):
    """Base of every message on Kafka.

    Subclasses set `event_type` as a `Literal`. A compatible change adds a field with a default; a
    breaking change overrides `schema_version` with the next version as its default and registers an
    upcaster in `contracts.upcasting`.
    `saga_id` is `None` only for messages that start a saga (triggers).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    event_id: UUID = Field(description="unique per message; a consumer handles one id once, so a re-send is harmless")
    event_type: str = Field(description="which message this is; selects the schema")
    schema_version: int = Field(default=1, ge=1, description="the version of `event_type`'s schema the body follows")
    tenant_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the bakery (tenant) the message is about; also the Kafka record key",
    )
    saga_id: UUID | None = Field(default=None, description="the saga it belongs to; null on messages that start work")
    causation_id: UUID | None = Field(default=None, description="the `event_id` of the message that caused this one")
    correlation_id: UUID | None = Field(default=None, description="groups one saga's messages (its saga id)")
    occurred_at: AwareDatetime = Field(description="when it happened, ISO 8601 with the UTC offset")

    @model_validator(mode="after")
    def _is_the_current_version(self) -> Self:
        # an object of this class has this release's fields, so it cannot claim an older version
        current = current_version(type(self))
        if self.schema_version != current:
            raise ValueError(
                f"schema_version {self.schema_version}: {self.event_type} objects are version {current}; "
                "decode older versions with infra.messaging.codec.decode, which upcasts them"
            )
        return self


class Strict(BaseModel):
    """Base of the value objects inside messages."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def current_version(cls: type[Message]) -> int:
    """The version this release writes and reads natively: the class's `schema_version` default."""
    default = cls.model_fields["schema_version"].default
    assert isinstance(default, int), f"{cls.__name__}.schema_version needs an int default"
    return default
