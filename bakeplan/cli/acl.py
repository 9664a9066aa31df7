"""`bakeplan acl`: the installation's Kafka topics and ACLs, provisioned by the admin (docs/security.md)."""

import asyncio
from typing import Annotated

import typer

from bakeplan.acl_table import Principal, acl_rules, acl_scope
from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import JsonFlag, console, print_json
from contracts.topics import Topic
from infra.messaging.acls import AclPlan, AclRule, create_acls, delete_acls, existing_acls, plan_acls
from infra.messaging.admin import apply_topic_configs, ensure_topics
from infra.messaging.kafka_client import librdkafka_config
from infra.settings import Settings


def provision(settings: Settings, *, dry_run: bool = False) -> tuple[list[str], AclPlan]:
    """As the admin: create the installation's missing topics, then make its ACLs equal the table
    (create the missing rules, remove the table principals' other rules under its prefix). Returns
    the topics created and the ACL plan carried out (with `dry_run`, what would be; nothing changes)."""
    topics = asyncio.run(ensure_topics(settings, Principal.ADMIN, dry_run=dry_run))
    if not dry_run:  # a dead-letter topic made before: its retention follows the setting
        asyncio.run(apply_topic_configs(settings, Principal.ADMIN, (Topic.DEAD_LETTER,)))
    config = librdkafka_config(settings, Principal.ADMIN)
    plan = plan_acls(acl_rules(settings), existing_acls(config), scope=acl_scope(settings))
    if not dry_run:
        delete_acls(config, plan.remove)
        create_acls(config, plan.create)
    return topics, plan


def unprovision(settings: Settings) -> list[AclRule]:
    """As the admin: remove every rule of the table's principals under the installation's prefix
    (a test run's, at its end); returns them. Topics are left to the caller."""
    config = librdkafka_config(settings, Principal.ADMIN)
    users = {f"User:{settings.kafka_user(p)}" for p in Principal}
    ours = [r for r in existing_acls(config) if r.principal in users and r.name.startswith(acl_scope(settings))]
    delete_acls(config, ours)
    return ours


def _rule_line(rule: AclRule) -> str:
    target = f"{rule.resource} {rule.name}{'*' if rule.pattern == 'prefixed' else ''}"
    return f"{rule.principal.removeprefix('User:')}: {rule.operation} {target}"


def acl_apply(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create the installation's topics and make the broker's ACLs equal the table (as the admin)."""
    settings = load_settings()
    topics, plan = provision(settings, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "topics_created": topics,
                "created": [r.as_dict() for r in plan.create],
                "removed": [r.as_dict() for r in plan.remove],
                "kept": len(plan.keep),
            }
        )
        return
    verb = ("would create", "would remove") if dry_run else ("created", "removed")
    console.print(f"topics: {verb[0]} {len(topics)}" + (f" ({', '.join(topics)})" if topics else ""))
    for rule in plan.create:
        console.print(f"  + {_rule_line(rule)}", highlight=False)
    for rule in plan.remove:
        console.print(f"  - {_rule_line(rule)}", highlight=False)
    counts = f"{verb[0]} {len(plan.create)}, {verb[1]} {len(plan.remove)}, kept {len(plan.keep)}"
    console.print(f"ACLs on {settings.kafka_bootstrap}: {counts}")


def acl_show(as_json: JsonFlag = False) -> None:
    """The ACL table for this installation (its topic prefix and user names); needs no broker."""
    rules = acl_rules(load_settings())
    if as_json:
        print_json([r.as_dict() for r in rules])
        return
    for rule in rules:
        console.print(_rule_line(rule), highlight=False)


def register(app: typer.Typer) -> None:
    acl = typer.Typer(help="Kafka topics and ACLs of this installation (docs/security.md).", no_args_is_help=True)
    acl.command("apply")(acl_apply)
    acl.command("show")(acl_show)
    app.add_typer(acl, name="acl")
