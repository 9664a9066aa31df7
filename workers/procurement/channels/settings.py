"""The sending side's settings, from environment variables prefixed `BAKEPLAN_` (docs/channels.md).

They hold the secrets master data must not: the SMTP relay's password and the webhook signing keys.
They are a class of their own rather than fields of `infra.settings.Settings` so that only the process
that sends purchase orders loads them: every other role runs without these secrets in its settings.
"""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.procurement.channels.retry import RetryPolicy


class ChannelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAKEPLAN_", extra="ignore", frozen=True)

    smtp_host: str = Field(default="", description="SMTP relay for email channels; empty: email channels fail.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls: upgrade after connecting; tls: implicit TLS (port 465)."
    )
    smtp_ca_file: str = Field(default="", description="CA bundle to trust for the relay; empty: the system's.")
    smtp_username: str = Field(default="", description="Log in with this user; empty: no AUTH.")
    smtp_password: SecretStr = Field(default=SecretStr(""))
    smtp_from: str = Field(
        default="",
        pattern=r"^$|^[^@\s<>,;\"]+@[^@\s<>,;\"]+$",
        description="The bare sender address, e.g. orders@bakery.example (the From shows the bakery's name).",
    )
    webhook_signing_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='JSON object: key name → HMAC-SHA256 key, e.g. {"northern-mills": "…"}.',
    )
    file_drop_root: str = Field(default="", description="File-drop channels' directories are relative to this.")
    send_attempts: int = Field(default=5, ge=1, le=20, description="Attempts per send before send_failed.")
    send_backoff_base_seconds: float = Field(default=2.0, gt=0, description="Wait before the first retry.")
    send_backoff_max_seconds: float = Field(default=60.0, gt=0, description="Longest wait between attempts.")
    send_timeout_seconds: float = Field(default=30.0, gt=0, description="Longest one attempt may take.")

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.send_attempts,
            base_seconds=self.send_backoff_base_seconds,
            max_seconds=self.send_backoff_max_seconds,
            attempt_timeout_seconds=self.send_timeout_seconds,
        )
