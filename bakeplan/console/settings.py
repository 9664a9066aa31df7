"""The console's settings, from `BAKEPLAN_CONSOLE_*` environment variables (the rest come from `infra.settings`)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "bakeplan-console-development-secret-not-for-production"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAKEPLAN_CONSOLE_", extra="ignore")

    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Signs the session cookie (and with it the CSRF token); set a long random value in production.",
    )
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60, description="A login lasts this long.")
    https_only: bool = Field(default=False, description="Mark the session cookie Secure (behind HTTPS).")
    refresh_seconds: float = Field(default=3.0, gt=0, description="How often the runs list refreshes itself.")

    @property
    def is_dev_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEV_SECRET
