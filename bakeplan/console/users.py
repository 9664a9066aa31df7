"""The console's users: an argon2id password hash (argon2-cffi), a role and the tenants granted.

A viewer reads the pages of its tenants; an operator also acts on them (trigger, re-run, dead-letter
replay, schedule pause and resume). `all_tenants` grants every tenant, those created later too.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import RowMapping, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.console.tables import users

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# verified when the user is unknown, so a wrong name costs as long as a wrong password
_UNKNOWN_USER_HASH = _hasher.hash("no such user")
MIN_PASSWORD_CHARS = 10


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    tenants: frozenset[str]
    all_tenants: bool

    def may_see(self, tenant_id: str | None) -> bool:
        return self.all_tenants or (tenant_id is not None and tenant_id in self.tenants)

    def visible(self, tenant_ids: Iterable[str]) -> list[str]:
        return [t for t in tenant_ids if self.may_see(t)]

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


def parse_tenants(text: str) -> tuple[frozenset[str], bool]:
    """`a,b` → ({a, b}, False); `*` → (∅, True). Raises ValueError for an empty list."""
    if text.strip() == "*":
        return frozenset(), True
    names = frozenset(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise ValueError("--tenants: give tenant ids separated by commas (e.g. bakery-001,bakery-002), or * for all")
    return names, False


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}")


async def add_user(
    conn: AsyncConnection, username: str, password: str, *, role: Role, tenants: frozenset[str], all_tenants: bool
) -> bool:
    """Create the user, or replace its password, role and tenants; True when it was new."""
    check_password(password)
    values = {
        "password_hash": _hasher.hash(password),
        "role": role.value,
        "tenants": sorted(tenants),
        "all_tenants": all_tenants,
    }
    upsert = insert(users).values(username=username, **values)
    statement = upsert.on_conflict_do_update(
        index_elements=["username"], set_={**values, "updated_at": func.now()}
    ).returning(users.c.created_at == users.c.updated_at)
    return bool((await conn.execute(statement)).scalar_one())


async def authenticate(conn: AsyncConnection, username: str, password: str) -> User | None:
    """The user when `password` is theirs, else None (same work whether or not the name exists)."""
    row = (await conn.execute(select(users).where(users.c.username == username))).mappings().first()
    try:
        _hasher.verify(row["password_hash"] if row else _UNKNOWN_USER_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return None if row is None else _user(row)


async def load_user(conn: AsyncConnection, username: str) -> User | None:
    """The user as stored now (a role or grant changed since login applies at once)."""
    row = (await conn.execute(select(users).where(users.c.username == username))).mappings().first()
    return None if row is None else _user(row)


async def list_users(conn: AsyncConnection) -> list[User]:
    return [_user(r) for r in (await conn.execute(select(users).order_by(users.c.username))).mappings()]


def _user(r: RowMapping) -> User:
    return User(r["username"], Role(r["role"]), frozenset(r["tenants"]), bool(r["all_tenants"]))
