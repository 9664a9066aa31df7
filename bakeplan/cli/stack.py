"""`bakeplan stack`: the local Kafka and Postgres, run by the scripts in `deploy/local/`.

`--secure` acts on the local secure broker instead of the plaintext one: SASL_SSL with SCRAM users
per principal and ACLs (docs/security.md). `--brokers 3` acts on a local 3-node KRaft cluster
(plaintext; ports from BAKEPLAN_KAFKA_CLUSTER_PORT, default 19092) whose topics get replication
factor 3 and min.insync.replicas=2 (docs/resilience.md). They may run side by side (their ports differ).
"""

import os
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from bakeplan.acl_table import Principal
from bakeplan.cli.terminal import JsonFlag, fail, print_json
from bakeplan.local_tls import prepare
from infra.settings import Settings

DEPLOY_LOCAL = Path(__file__).resolve().parents[2] / "deploy" / "local"
SecureFlag = Annotated[
    bool, typer.Option("--secure", help="The local SASL_SSL broker with ACLs (docs/security.md), not the plaintext.")
]


def _state_dir() -> Path:
    return Path(os.environ.get("BAKEPLAN_STATE_DIR") or DEPLOY_LOCAL.parents[1] / ".bakeplan-local")


def secure_dir() -> Path:
    """Where the secure broker keeps its data, certificates, passwords and `client.env`."""
    return _state_dir() / "kafka-secure"


BrokersOption = Annotated[
    int,
    typer.Option(
        "--brokers",
        min=1,
        help="Brokers of the local plaintext Kafka: 1 (default), or a local KRaft cluster of N, e.g. 3 "
        "(ports from BAKEPLAN_KAFKA_CLUSTER_PORT, default 19092).",
    ),
]


def _env(*, secure: bool = False, brokers: int = 1) -> dict[str, str]:
    return {**os.environ, "BAKEPLAN_KAFKA_SECURE": "1" if secure else "0", "BAKEPLAN_KAFKA_BROKERS": str(brokers)}


def _script(name: str, action: str, *, secure: bool = False, brokers: int = 1) -> int:
    return subprocess.call([str(DEPLOY_LOCAL / name), action], env=_env(secure=secure, brokers=brokers))


def cluster_bootstrap(brokers: int) -> str:
    """The bootstrap address list of the local cluster of `brokers` nodes."""
    done = subprocess.run(
        [str(DEPLOY_LOCAL / "kafka.sh"), "bootstrap"],
        capture_output=True,
        text=True,
        check=True,
        env=_env(brokers=brokers),
    )
    return done.stdout.strip()


def secure_port() -> int:
    return int(os.environ.get("BAKEPLAN_KAFKA_SECURE_PORT") or 9094)


def client_env(settings: Settings) -> dict[str, str]:
    """What a client of the local secure broker sets (every principal's password is a file in one directory)."""
    material = prepare(secure_dir(), [str(p) for p in Principal])
    return {
        "BAKEPLAN_KAFKA_BOOTSTRAP": f"127.0.0.1:{secure_port()}",
        "BAKEPLAN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "BAKEPLAN_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "BAKEPLAN_KAFKA_CA_FILE": str(material.ca_file),
        "BAKEPLAN_KAFKA_PASSWORD_DIR": str(material.password_dir),
        "BAKEPLAN_KAFKA_USER_PREFIX": settings.kafka_user_prefix,
    }


def _write_client_env(settings: Settings, env: dict[str, str]) -> Path:
    path = secure_dir() / "client.env"
    users = [
        f"#   {p:<12} user {settings.kafka_user(p)}, password in {env['BAKEPLAN_KAFKA_PASSWORD_DIR']}/{p}"
        for p in Principal
    ]
    lines = [
        "# Clients of the local secure broker (`bakeplan stack up --secure`): `set -a; . THIS_FILE; set +a`.",
        "# A process acts as its role's principal, the CLI as `operator`, `bakeplan acl apply` as `admin`:",
        *users,
        *(f"{key}={value}" for key, value in env.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def stack_up(secure: SecureFlag = False, brokers: BrokersOption = 1) -> None:
    """Start a local Kafka node (or cluster) and, unless DATABASE_URL is set, a throwaway Postgres cluster."""
    if secure and brokers > 1:
        fail("--secure runs one broker; the local cluster (--brokers N) is plaintext", 2)
    if secure:
        settings = Settings()
        env = client_env(settings)  # certificates and passwords first: the broker reads them
        os.environ.setdefault("BAKEPLAN_KAFKA_USER_PREFIX", settings.kafka_user_prefix)
    if _script("kafka.sh", "start", secure=secure, brokers=brokers) != 0:
        fail("Kafka did not start (see the messages above)", 1)
    if brokers > 1:
        typer.echo(f"clients of the cluster set BAKEPLAN_KAFKA_BOOTSTRAP={cluster_bootstrap(brokers)}")
    if secure:
        path = _write_client_env(settings, env)
        typer.echo(f"secure broker: clients need these settings (also in {path}):")
        for line in path.read_text().splitlines():
            typer.echo(f"  {line}")
        typer.echo("then provision the topics and ACLs once, as the admin: `bakeplan acl apply`")
    external_db = os.environ.get("DATABASE_URL") or os.environ.get("BAKEPLAN_DATABASE_URL")
    if not external_db and _script("postgres.sh", "start") != 0:
        fail("Postgres did not start (see the messages above)", 1)


def stack_down() -> None:
    """Stop the local Kafka nodes (plaintext, secure and the cluster's) and Postgres (their data stays)."""
    _script("kafka.sh", "stop")
    _script("kafka.sh", "stop", secure=True)
    if (_state_dir() / "kafka-cluster").is_dir():
        _script("kafka.sh", "stop", brokers=3)
    _script("postgres.sh", "stop")


def _status(name: str, *, secure: bool = False, brokers: int = 1) -> dict[str, Any]:
    env = _env(secure=secure, brokers=brokers)
    done = subprocess.run([str(DEPLOY_LOCAL / name), "status"], capture_output=True, text=True, check=False, env=env)
    return {"running": done.returncode == 0, "detail": (done.stdout + done.stderr).strip()}


def stack_status(secure: SecureFlag = False, brokers: BrokersOption = 1, as_json: JsonFlag = False) -> None:
    """Say whether the local Kafka and Postgres run (exit 1 when either does not)."""
    status = {"kafka": _status("kafka.sh", secure=secure, brokers=brokers), "postgres": _status("postgres.sh")}
    if as_json:
        print_json(status)
    else:
        for server in status.values():
            typer.echo(server["detail"])
    raise typer.Exit(0 if all(server["running"] for server in status.values()) else 1)


def register(app: typer.Typer) -> None:
    stack = typer.Typer(help="The local Kafka and Postgres (no Docker needed).", no_args_is_help=True)
    stack.command("up")(stack_up)
    stack.command("down")(stack_down)
    stack.command("status")(stack_status)
    app.add_typer(stack, name="stack")
