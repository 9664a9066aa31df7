"""Which Postgres URL a process connects with: DATABASE_URL by default; with BAKEPLAN_DB_ROLES its own
role's user and password on the same server; a role's own URL from BAKEPLAN_DB_ROLE_URLS first."""

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import make_url

from bakeplan.db_roles import ROLES
from infra.settings import Settings

pytestmark = pytest.mark.unit
URL = "postgresql+asyncpg://operator:op-secret@db.example:5432/bakeplan"


def test_by_default_every_role_uses_database_url() -> None:
    settings = Settings(database_url=URL)
    assert {settings.role_database_url(r.role) for r in ROLES} == {URL}
    assert settings.for_role("forecasting") is settings


def test_with_db_roles_each_role_is_its_own_user_with_its_own_password() -> None:
    password = "p@ss:w/rd%?#"  # every character a URL must escape
    settings = Settings(database_url=URL, db_roles=True, db_role_passwords={"orchestrator": SecretStr(password)})
    orchestrator = make_url(settings.role_database_url("orchestrator"))
    assert (orchestrator.username, orchestrator.password) == ("bakeplan_orchestrator", password)
    assert (orchestrator.host, orchestrator.port, orchestrator.database) == ("db.example", 5432, "bakeplan")
    worker = make_url(settings.for_role("production").database_url)
    assert (worker.username, worker.password) == ("bakeplan_production", None)  # no operator password leaks


def test_a_role_url_wins_and_the_prefix_names_the_roles() -> None:
    own = "postgresql+asyncpg://fc@other-host/plans"
    settings = Settings(database_url=URL, db_roles=True, db_role_prefix="shop1_", db_role_urls={"forecasting": own})
    assert settings.role_database_url("forecasting") == own
    assert make_url(settings.role_database_url("procurement")).username == "shop1_procurement"


@pytest.mark.parametrize("field", [{"db_role_prefix": "Bad-Prefix"}, {"audit_key": "short"}, {"audit_key_id": "a b"}])
def test_bad_role_and_key_settings_are_refused(field: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(database_url=URL, **field)  # type: ignore[arg-type]
