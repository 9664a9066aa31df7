"""How a supplier takes its purchase orders: one `SupplierChannel` per supplier, kept with its master data.

A channel names where orders go and nothing secret: a webhook's signing key and the SMTP relay's
password come from the environment (`ChannelSettings`), and a webhook channel only names its key.
A file-drop directory is relative to the deployment's drop root, so master data cannot make the sender
write anywhere else.
"""

import hashlib
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import Field, field_validator

from contracts.envelope import Strict

EMAIL_ADDRESS = r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$"
SECRET_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class EmailTarget(Strict):
    """Orders by email: the PO as PDF and CSV attachments, sent through the deployment's SMTP relay."""

    kind: Literal["email"] = "email"
    to: tuple[Annotated[str, Field(pattern=EMAIL_ADDRESS, max_length=254)], ...] = Field(min_length=1, max_length=10)
    cc: tuple[Annotated[str, Field(pattern=EMAIL_ADDRESS, max_length=254)], ...] = Field(default=(), max_length=10)

    @property
    def address(self) -> str:
        return ", ".join((*self.to, *self.cc))


class WebhookTarget(Strict):
    """Orders by HTTP POST of the PO as JSON, signed with the key the settings hold under `signing_key_name`."""

    kind: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    signing_key_name: str = Field(
        pattern=SECRET_NAME, description="a key of BAKEPLAN_WEBHOOK_SIGNING_KEYS, never the key itself"
    )

    @property
    def address(self) -> str:
        return self.url


class FileDropTarget(Strict):
    """Orders as CSV files in a directory the supplier collects from (a mounted share, an SFTP root)."""

    kind: Literal["file_drop"] = "file_drop"
    directory: str = Field(min_length=1, max_length=255, description="relative to BAKEPLAN_FILE_DROP_ROOT")

    @field_validator("directory")
    @classmethod
    def _stays_under_the_root(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(
                f"file-drop directory {value!r} must be a relative path without '..' "
                "(it is resolved under BAKEPLAN_FILE_DROP_ROOT)"
            )
        return value

    @property
    def address(self) -> str:
        return self.directory


ChannelTarget = Annotated[EmailTarget | WebhookTarget | FileDropTarget, Field(discriminator="kind")]
ChannelKind = Literal["email", "webhook", "file_drop"]


class SupplierChannel(Strict):
    """Where one supplier of one tenant takes its purchase orders.

    `key` names the channel in the delivery records: the kind and a digest of the target, so a
    re-configured target (a fixed URL, new recipients) is a new channel on which a PO was not sent yet.
    """

    tenant_id: str = Field(min_length=1, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=64)
    target: ChannelTarget

    @property
    def kind(self) -> ChannelKind:
        return self.target.kind

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.target.model_dump_json().encode()).hexdigest()[:16]
        return f"{self.target.kind}:{digest}"

    def describe(self) -> str:
        """What a person reads: the kind and the address (recipients, URL or directory)."""
        return f"{self.target.kind} {self.target.address}"


NoticeTarget = Annotated[EmailTarget | WebhookTarget, Field(discriminator="kind")]


class TenantNotifications(Strict):
    """Where a bakery (one tenant) hears of its plans and alerts: one email or webhook target
    (`bakeplan notify set`; docs/channels.md, "Notifications"). A file drop is not offered: nobody reads it."""

    tenant_id: str = Field(min_length=1, max_length=64)
    target: NoticeTarget

    def describe(self) -> str:
        return f"{self.target.kind} {self.target.address}"
