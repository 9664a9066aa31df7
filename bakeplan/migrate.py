"""Database migrations (Alembic), configured in code: `bakeplan db upgrade`."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from infra.settings import Settings


def alembic_config(settings: Settings) -> Config:
    """With Postgres roles configured (`bakeplan db roles apply`), the migrations run as the migrations
    owner: through its own URL when `BAKEPLAN_DB_ROLE_URLS` names one, else on DATABASE_URL under
    `SET ROLE` to it (once it exists), so everything they create belongs to it, not to an app role."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    url = settings.role_database_url("owner") if "owner" in settings.db_role_urls else settings.database_url
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if settings.db_roles and "owner" not in settings.db_role_urls:
        config.attributes["owner_role"] = settings.db_role_name("owner")
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to run again and from several processes in turn."""
    command.upgrade(alembic_config(settings), revision)


def head_revision(settings: Settings) -> str | None:
    """The newest revision of the migration history (what `upgrade` brings the database to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
