"""Postgres roles of least privilege, one per component, from one table: `bakeplan db roles apply`.

`ROLES` says what each role may touch; `apply_roles` makes the database say the same, idempotently, in
one transaction, connected as the operator (DATABASE_URL: a superuser; a non-superuser also needs
CREATEROLE, the tables' ownership and membership of the owner role). Role names are
`{BAKEPLAN_DB_ROLE_PREFIX}{role}`, passwords come from `BAKEPLAN_DB_ROLE_PASSWORDS`. It:

- creates or alters each role (LOGIN, no superuser, no CREATEDB/CREATEROLE, no BYPASSRLS);
- hands every bakeplan schema, table, sequence and function (and `alembic_version`) to the migrations
  owner, so no app role owns a table: only an owner may ALTER a table or DISABLE its TRIGGERs, which
  keeps the audit archive's append-only trigger out of the app roles' reach;
- revokes what each app role had in bakeplan's schemas and grants exactly what `ROLES` lists;
- enables row-level security on master data and results (`RLS_TABLES`), with one policy that lets
  the app roles see every tenant and one that shows the reporting and tenant roles only the rows of
  `app.tenant_id` (`SET app.tenant_id = '...'`; unset, they see nothing).

docs/security.md ("Postgres roles, row-level security and the keyed audit chain") explains the table.
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.settings import Settings

SCHEMAS = ("masterdata", "orchestrator", "forecasting", "production", "procurement", "messaging", "console")
READ = ("SELECT",)
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
PRUNE = ("SELECT", "UPDATE", "DELETE")
Scope = Literal["owner", "all_tenants", "one_tenant"]


@dataclass(frozen=True)
class TableGrant:
    """Privileges on the tables of one schema: `tables` (every table in the schema when empty),
    less `except_tables`."""

    schema: str
    privileges: tuple[str, ...]
    tables: tuple[str, ...] = ()
    except_tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class DbRole:
    role: str
    purpose: str
    scope: Scope
    """owner: owns everything (bypasses RLS as the owner); all_tenants: an app role that serves every
    tenant; one_tenant: sees only the rows of `app.tenant_id`."""
    grants: tuple[TableGrant, ...] = ()


RESULTS = (
    TableGrant("orchestrator", READ, tables=("sagas",)),
    TableGrant("forecasting", READ, tables=("forecasts",)),
    TableGrant("production", READ, tables=("batches", "requirements")),
    TableGrant(
        "procurement",
        READ,
        tables=(
            "purchase_lines",
            "purchase_orders",
            "purchase_order_lines",
            "purchase_order_history",
            "purchase_order_receipts",
            "po_deliveries",
        ),
    ),
)
"""Master data aside, what a tenant-scoped role reads: the plans and what they ordered."""

CLAIM_CHECKS = TableGrant("messaging", ("SELECT", "INSERT"), tables=("claim_checks",))
"""Every process writes the large payloads it sends and reads those it receives (docs/resilience.md)."""

ROLES: tuple[DbRole, ...] = (
    DbRole("owner", "runs the migrations; owns every schema and table, the audit archive included", "owner"),
    DbRole(
        "orchestrator",
        "the saga: its own schema, master data (snapshots, feeds, receipts as stock lots) and the purchase "
        "orders' lifecycle; the audit archive only INSERT and SELECT",
        "all_tenants",
        (
            TableGrant("orchestrator", DML, except_tables=("audit_events", "audit_chain_heads", "snapshots")),
            # a snapshot is the audit archive's copy too (orchestrator/audit_snapshots.py): append-only for the app
            TableGrant("orchestrator", ("SELECT", "INSERT"), tables=("audit_events", "snapshots")),
            TableGrant("orchestrator", ("SELECT", "INSERT", "UPDATE"), tables=("audit_chain_heads",)),
            TableGrant("masterdata", DML),
            TableGrant(
                "procurement",
                ("SELECT", "INSERT", "UPDATE"),
                tables=("purchase_orders", "purchase_order_lines", "purchase_order_history", "purchase_order_receipts"),
            ),
            CLAIM_CHECKS,
        ),
    ),
    DbRole(
        "forecasting",
        "the forecasting worker: its own schema only",
        "all_tenants",
        (TableGrant("forecasting", DML), CLAIM_CHECKS),
    ),
    DbRole(
        "production",
        "the production worker: its own schema only",
        "all_tenants",
        (TableGrant("production", DML), CLAIM_CHECKS),
    ),
    DbRole(
        "procurement",
        "the procurement worker (planning and releasing purchase orders): its own schema only",
        "all_tenants",
        (TableGrant("procurement", DML), CLAIM_CHECKS),
    ),
    DbRole(
        "channels",
        "the supplier channels: the procurement schema (delivery records, the orders' lifecycle, its alerts in "
        "the procurement outbox), like the procurement worker it shares it with",
        "all_tenants",
        (TableGrant("procurement", DML), CLAIM_CHECKS),
    ),
    DbRole(
        "retention",
        "the retention job (docs/retention.md): deletes inbox claims, published outbox rows, effect-log rows and "
        "claim checks past their horizon, and finished sagas' timelines, step results and snapshots; marks "
        "sagas pruned; never the audit archive",
        "all_tenants",
        # UPDATE only because a batch locks its rows `FOR UPDATE SKIP LOCKED`, which Postgres allows to
        # holders of UPDATE; the job updates nothing but `sagas.pruned_at`
        (
            *(
                TableGrant(schema, PRUNE, tables=("inbox", "outbox", "effect_log"))
                for schema in ("orchestrator", "forecasting", "production", "procurement")
            ),
            TableGrant("orchestrator", PRUNE, tables=("saga_log", "step_results", "snapshots")),
            TableGrant("orchestrator", ("SELECT", "UPDATE"), tables=("sagas",)),
            TableGrant("messaging", PRUNE, tables=("claim_checks",)),
            # which snapshots the archive keeps, and nothing else of it
            TableGrant("orchestrator", ("SELECT (snapshot_sha256)",), tables=("audit_events",)),
        ),
    ),
    DbRole(
        "console",
        "the web console (docs/console.md): reads every schema's plans and state, writes its own users and "
        "action log, pauses schedules and records dead-letter replays as the CLI does",
        "all_tenants",
        (
            TableGrant("console", DML),
            TableGrant("masterdata", READ),
            TableGrant("orchestrator", READ),
            TableGrant("orchestrator", ("SELECT", "UPDATE"), tables=("schedules",)),
            TableGrant("orchestrator", ("SELECT", "INSERT", "UPDATE"), tables=("dead_letter_replays",)),
            TableGrant("forecasting", READ),
            TableGrant("production", READ),
            TableGrant("procurement", READ),
        ),
    ),
    DbRole(
        "reporting",
        "read-only reports: master data and results of the tenant in app.tenant_id",
        "one_tenant",
        (TableGrant("masterdata", READ), *RESULTS),
    ),
    DbRole(
        "tenant",
        "one tenant's own access path (a tenant portal): reads its results and maintains its master data, "
        "only the rows of the tenant in app.tenant_id",
        "one_tenant",
        (TableGrant("masterdata", DML), *RESULTS),
    ),
)

RLS_TABLES: tuple[TableGrant, ...] = (TableGrant("masterdata", ()), *RESULTS)
"""Tables under row-level security by `tenant_id` (the privileges are unused here)."""

TENANT_PREDICATE = "tenant_id = current_setting('app.tenant_id', true)"
ALL_TENANTS_POLICY = "bakeplan_all_tenants"
ONE_TENANT_POLICY = "bakeplan_one_tenant"


@dataclass(frozen=True)
class AppliedRole:
    role: str
    name: str
    purpose: str
    created: bool
    password_set: bool
    tables: int
    """Tables it holds a privilege on after the apply (owner: tables it owns)."""


async def _tables(conn: AsyncConnection, schema: str) -> list[str]:
    rows = await conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"), {"s": schema}
    )
    return list(rows.scalars())


def _expand(grant: TableGrant, existing: dict[str, list[str]]) -> list[str]:
    """The tables a grant covers (qualified, quoted), among those that exist."""
    names = existing.get(grant.schema, [])
    chosen = [t for t in names if t in grant.tables] if grant.tables else names
    return [f'"{grant.schema}"."{t}"' for t in chosen if t not in grant.except_tables]


async def _execute_formatted(conn: AsyncConnection, template: str, *args: str) -> None:
    """Run a utility statement whose identifiers (%I) and literals (%L) Postgres' own `format` quotes:
    CREATE/ALTER ROLE take no bind parameters."""
    params = {f"a{n}": a for n, a in enumerate(args)}
    placeholders = ", ".join(f"CAST(:a{n} AS text)" for n in range(len(args)))
    statement = (await conn.execute(text(f"SELECT format('{template}', {placeholders})"), params)).scalar_one()
    await conn.execute(text(statement))


async def apply_roles(conn: AsyncConnection, settings: Settings) -> list[AppliedRole]:
    """Make the database's roles, ownership, grants and row-level security match `ROLES`, in the
    caller's transaction (run it after the migrations; running it again changes nothing)."""
    names = {r.role: settings.db_role_name(r.role) for r in ROLES}
    owner = names["owner"]
    existing_roles = set(
        (await conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"), {"n": list(names.values())}))
        .scalars()
        .all()
    )
    schemas = [
        s
        for s in SCHEMAS
        if (await conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": s})).first() is not None
    ]
    if not schemas:
        raise RuntimeError("no bakeplan schema in this database: run `bakeplan db upgrade` first")
    tables = {s: await _tables(conn, s) for s in schemas}

    for role in ROLES:
        name = names[role.role]
        verb = "ALTER" if name in existing_roles else "CREATE"
        await _execute_formatted(
            conn, f"{verb} ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION", name
        )
        password = settings.db_role_passwords.get(role.role)
        if password is not None:
            await _execute_formatted(conn, "ALTER ROLE %I PASSWORD %L", name, password.get_secret_value())
        await _execute_formatted(conn, "GRANT CONNECT ON DATABASE %I TO %I", await _database(conn), name)
    await _execute_formatted(conn, "GRANT CREATE ON DATABASE %I TO %I", await _database(conn), owner)

    # the migrations owner owns everything bakeplan created; owned sequences and indexes follow their table
    for schema in schemas:
        await conn.execute(text(f'ALTER SCHEMA "{schema}" OWNER TO "{owner}"'))
        for table in tables[schema]:
            await conn.execute(text(f'ALTER TABLE "{schema}"."{table}" OWNER TO "{owner}"'))
        functions = await conn.execute(
            text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = :s"
            ),
            {"s": schema},
        )
        for signature in functions.scalars().all():
            await conn.execute(text(f'ALTER FUNCTION {signature} OWNER TO "{owner}"'))
    if (await conn.execute(text("SELECT to_regclass('public.alembic_version')"))).scalar_one() is not None:
        await conn.execute(text(f'ALTER TABLE public.alembic_version OWNER TO "{owner}"'))

    applied: list[AppliedRole] = []
    for role in ROLES:
        name = names[role.role]
        if role.scope == "owner":
            owned = sum(len(t) for t in tables.values())
            applied.append(AppliedRole(role.role, name, role.purpose, name not in existing_roles, False, owned))
            continue
        for schema in schemas:  # start from nothing, so a privilege dropped from `ROLES` goes too
            await conn.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{name}"'))
            await conn.execute(text(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{schema}" FROM "{name}"'))
            await conn.execute(text(f'REVOKE ALL ON SCHEMA "{schema}" FROM "{name}"'))
        granted: set[str] = set()
        for grant in role.grants:
            if grant.schema not in tables:
                continue
            await conn.execute(text(f'GRANT USAGE ON SCHEMA "{grant.schema}" TO "{name}"'))
            covered = _expand(grant, tables)
            if covered:
                await conn.execute(text(f'GRANT {", ".join(grant.privileges)} ON {", ".join(covered)} TO "{name}"'))
                granted.update(covered)
            if "INSERT" in grant.privileges:  # serial ids (outbox, effect log)
                await conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{grant.schema}" TO "{name}"'))
        password_set = role.role in settings.db_role_passwords
        applied.append(
            AppliedRole(role.role, name, role.purpose, name not in existing_roles, password_set, len(granted))
        )

    app_roles = ", ".join(f'"{names[r.role]}"' for r in ROLES if r.scope == "all_tenants")
    tenant_roles = ", ".join(f'"{names[r.role]}"' for r in ROLES if r.scope == "one_tenant")
    rls_tables = sorted({t for grant in RLS_TABLES for t in _expand(grant, tables)})
    for table in rls_tables:
        await conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        await conn.execute(text(f"DROP POLICY IF EXISTS {ALL_TENANTS_POLICY} ON {table}"))
        await conn.execute(text(f"DROP POLICY IF EXISTS {ONE_TENANT_POLICY} ON {table}"))
        await conn.execute(
            text(f"CREATE POLICY {ALL_TENANTS_POLICY} ON {table} TO {app_roles} USING (true) WITH CHECK (true)")
        )
        await conn.execute(
            text(
                f"CREATE POLICY {ONE_TENANT_POLICY} ON {table} TO {tenant_roles}"
                f" USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
            )
        )
    return applied


async def _database(conn: AsyncConnection) -> str:
    return str((await conn.execute(text("SELECT current_database()"))).scalar_one())
