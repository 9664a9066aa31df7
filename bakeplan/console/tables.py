"""The console's own schema: its users (password hashes, role, granted tenants) and every action they took."""

from sqlalchemy import ARRAY, BigInteger, Boolean, Column, DateTime, Index, MetaData, String, Table, Text, func

SCHEMA = "console"
metadata = MetaData(schema=SCHEMA)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    # argon2id encoded hash (argon2-cffi): algorithm, parameters, salt and digest in one string
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    # the tenants this user may see; `all_tenants` grants every tenant, present and future
    Column("tenants", ARRAY(String(64)), nullable=False, server_default="{}"),
    Column("all_tenants", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

actions = Table(
    "actions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    # trigger, rerun, schedule_pause, schedule_resume, dlq_replay, login, login_failed
    Column("action", String(32), nullable=False),
    Column("tenant_id", String(64)),
    Column("target", Text, nullable=False, server_default=""),
    # done, refused, failed
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Index("ix_console_actions_at", "at"),
)
