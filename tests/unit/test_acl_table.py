"""The ACL table gives each principal what its work needs and nothing a role must not do."""

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from bakeplan.acl_table import COMMANDS, TABLE, Principal, acl_rules, acl_scope, topics_of
from bakeplan.cli import app
from bakeplan.local_tls import prepare
from contracts.topics import Topic
from infra.messaging.acls import AclRule, plan_acls
from infra.messaging.admin import topic_configs
from infra.settings import Settings
from workers.procurement.notify_handler import NOTIFY_CONSUMER

pytestmark = pytest.mark.unit
WORKERS = tuple(COMMANDS)


def allowed(principal: Principal, operation: str, topic: Topic) -> bool:
    access = TABLE[principal]
    return topic in (access.reads if operation == "read" else access.writes)


@pytest.mark.parametrize("worker", WORKERS)
def test_a_worker_reads_only_its_commands_and_the_plans_and_writes_only_replies_and_dead_letters(
    worker: Principal,
) -> None:
    assert set(TABLE[worker].reads) == {COMMANDS[worker], Topic.PLANS}
    released = {Topic.PURCHASE_ORDERS} if worker is Principal.PROCUREMENT else set()  # the release step
    assert set(TABLE[worker].writes) == {Topic.STEP_REPLIES, Topic.ALERTS, Topic.DEAD_LETTER, *released}
    assert not allowed(worker, "write", Topic.TRIGGERS)
    for other in WORKERS:
        assert not allowed(worker, "write", COMMANDS[other])


def test_the_outside_world_writes_only_triggers_signals_feeds_and_purchasing_events() -> None:
    assert TABLE[Principal.EXTERNAL].reads == ()
    assert set(TABLE[Principal.EXTERNAL].writes) == {
        Topic.TRIGGERS,
        Topic.LOW_STOCK,
        Topic.FEEDS,
        Topic.PURCHASING_EVENTS,
    }
    assert TABLE[Principal.EXTERNAL].groups == ()


def test_only_the_orchestrator_sends_step_commands_snapshots_and_plans_in_normal_work() -> None:
    for topic in (*COMMANDS.values(), Topic.SNAPSHOTS, Topic.PLANS):
        writers = {p for p in TABLE if allowed(p, "write", topic)}
        # the operator's `dlq replay` re-publishes what was parked from a consumed topic
        assert writers - {Principal.OPERATOR} == {Principal.ORCHESTRATOR}, topic
    assert not allowed(Principal.OPERATOR, "write", Topic.SNAPSHOTS)
    # the channels role reads the alerts (the bakery's notifications), so a parked alert is replayable
    assert allowed(Principal.OPERATOR, "write", Topic.ALERTS)


def test_the_channels_read_orders_plans_and_alerts_in_groups_under_their_own_prefix() -> None:
    access = TABLE[Principal.CHANNELS]
    assert set(access.reads) == {Topic.PURCHASE_ORDERS, Topic.PLANS, Topic.ALERTS}
    assert access.groups == (Principal.CHANNELS,)
    # groups are prefixes: the notifications' consumer group is covered by the channels' one
    assert NOTIFY_CONSUMER.startswith(Principal.CHANNELS)
    assert not allowed(Principal.CHANNELS, "write", Topic.PLANS)


def test_the_operator_reads_only_the_dead_letters_and_may_replay_to_every_consumed_topic() -> None:
    consumed = {t for p in TABLE for t in TABLE[p].reads if p is not Principal.OPERATOR}
    assert TABLE[Principal.OPERATOR].reads == (Topic.DEAD_LETTER,)
    assert set(TABLE[Principal.OPERATOR].writes) == consumed


def test_only_the_operator_reads_the_dead_letters() -> None:
    readers = {p for p in TABLE if allowed(p, "read", Topic.DEAD_LETTER)}
    assert readers == {Principal.OPERATOR}
    assert Principal.OPERATOR not in {p for p in TABLE if allowed(p, "write", Topic.DEAD_LETTER)}


def test_the_dead_letter_topic_expires_parked_messages_after_the_configured_days() -> None:
    assert topic_configs(Topic.DEAD_LETTER)["retention.ms"] == str(30 * 24 * 3600 * 1000)
    assert topic_configs(Topic.DEAD_LETTER, dead_letter_retention_days=2)["retention.ms"] == str(2 * 86_400_000)
    assert topic_configs(Topic.DEAD_LETTER, dead_letter_retention_days=0)["retention.ms"] == "-1"  # for ever
    assert "retention.ms" not in topic_configs(Topic.TRIGGERS)  # the broker's default


def test_every_consumed_topic_has_a_writer_and_every_consumer_a_group() -> None:
    for principal, access in TABLE.items():
        for topic in access.reads:
            assert any(allowed(p, "write", topic) for p in TABLE if p is not principal) or topic is Topic.TRIGGERS
        if principal in (Principal.ORCHESTRATOR, *WORKERS):
            assert access.groups == (principal,)


def test_the_rules_honour_the_topic_prefix_and_user_names() -> None:
    settings = Settings(topic_prefix="eu1.", kafka_user_prefix="svc-")
    rules = acl_rules(settings)
    assert AclRule("User:svc-forecasting", "topic", "eu1.bakeplan.forecasting.commands", "literal", "read") in rules
    assert AclRule("User:svc-forecasting", "group", "eu1.bakeplan.forecasting", "prefixed", "read") in rules
    assert all(r.name.startswith(acl_scope(settings)) for r in rules)
    assert not [r for r in rules if r.principal == "User:svc-admin"]  # the super user needs none
    assert len(rules) == sum(len(a.reads) + len(a.writes) + len(a.groups) + len(a.watches) for a in TABLE.values())


def test_only_the_operator_describes_consumer_groups_and_it_joins_none() -> None:
    """The console and the lag gauges read every group's committed offsets as the operator."""
    rules = acl_rules(Settings(topic_prefix="eu1."))
    describes = [r for r in rules if r.resource == "group" and r.operation == "describe"]
    assert describes == [AclRule("User:bakeplan-operator", "group", "eu1.bakeplan.", "prefixed", "describe")]
    assert TABLE[Principal.OPERATOR].groups == ()


def test_each_process_ensures_only_the_topics_it_uses() -> None:
    assert topics_of(Principal.FORECASTING) == (
        Topic.FORECASTING_COMMANDS,
        Topic.STEP_REPLIES,
        Topic.PLANS,
        Topic.ALERTS,
        Topic.DEAD_LETTER,
    )
    assert topics_of(Principal.ADMIN) == tuple(Topic)
    assert set(topics_of(Principal.ORCHESTRATOR)) == set(Topic)


def test_applying_removes_only_the_table_principals_rules_under_the_installation_prefix() -> None:
    wanted = [AclRule("User:a", "topic", "x.bakeplan.t", "literal", "read")]
    existing = [
        AclRule("User:a", "topic", "x.bakeplan.t", "literal", "read"),  # kept
        AclRule("User:a", "topic", "x.bakeplan.old", "literal", "write"),  # ours, no longer wanted: removed
        AclRule("User:a", "topic", "y.bakeplan.t", "literal", "write"),  # another installation's: left alone
        AclRule("User:someone-else", "topic", "x.bakeplan.t", "literal", "write"),  # not our principal
    ]
    plan = plan_acls(wanted, existing, scope="x.bakeplan.")
    assert plan.keep == wanted
    assert plan.create == []
    assert plan.remove == [AclRule("User:a", "topic", "x.bakeplan.old", "literal", "write")]
    fresh = plan_acls([*wanted, AclRule("User:a", "group", "x.bakeplan.a", "prefixed", "read")], [], scope="x.")
    assert len(fresh.create) == 2
    assert fresh.remove == []


def test_the_local_broker_certificate_is_for_loopback_signed_by_the_ca_and_keys_stay_private(tmp_path: Path) -> None:
    material = prepare(tmp_path, ["admin", "orchestrator"])
    pem = material.broker_pem.read_bytes()
    broker = x509.load_pem_x509_certificates(pem)[0]
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    broker.verify_directly_issued_by(ca)  # raises if the CA did not sign it
    for private in (material.broker_pem, material.password_dir / "admin"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = (material.password_dir / "orchestrator").read_text()
    assert len(first) >= 24
    again = prepare(tmp_path, ["admin", "orchestrator", "operator"])
    assert (again.password_dir / "orchestrator").read_text() == first  # kept: the broker's users were made from it
    assert (again.password_dir / "operator").read_text() != first
    assert again.broker_pem.read_bytes() == pem


def test_acl_show_prints_the_installations_rules_without_a_broker() -> None:
    env = {"BAKEPLAN_TOPIC_PREFIX": "eu1.", "BAKEPLAN_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = CliRunner().invoke(app, ["acl", "show", "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown == [r.as_dict() for r in acl_rules(Settings(topic_prefix="eu1."))]
    assert {
        "principal": "User:bakeplan-external",
        "resource": "topic",
        "name": "eu1.bakeplan.planning.triggers",
        "pattern": "literal",
        "operation": "write",
    } in shown
