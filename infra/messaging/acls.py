"""Kafka ACLs: what the broker has, what a table wants, and making the one into the other.

aiokafka has no ACL admin calls, so these use librdkafka's admin client (confluent-kafka), configured
from the same settings as every other client (`kafka_client.librdkafka_config`). Only ALLOW rules
for any host are managed; a rule is removed only when it belongs to one of the table's principals and
to a resource under the installation's scope (its topic prefix), so installations and test runs that
share a cluster never remove each other's rules.
"""

from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

Resource = Literal["topic", "group"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "describe"]

_RESOURCES: dict[Resource, ResourceType] = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERNS: dict[Pattern, ResourcePatternType] = {
    "literal": ResourcePatternType.LITERAL,
    "prefixed": ResourcePatternType.PREFIXED,
}
_OPERATIONS: dict[Operation, AclOperation] = {
    "read": AclOperation.READ,
    "write": AclOperation.WRITE,
    "describe": AclOperation.DESCRIBE,
}
TIMEOUT_S = 15.0


class AclAdminError(RuntimeError):
    """The broker did not list, create or delete ACLs; the message says what and why."""


@dataclass(frozen=True, order=True)
class AclRule:
    """ALLOW `operation` on the `resource` named `name` (exactly, or every name starting with it) to
    `principal` (`User:<name>`), from any host."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def binding(self) -> AclBinding:
        return AclBinding(
            _RESOURCES[self.resource],
            self.name,
            _PATTERNS[self.pattern],
            self.principal,
            "*",
            _OPERATIONS[self.operation],
            AclPermissionType.ALLOW,
        )


@dataclass(frozen=True)
class AclPlan:
    create: list[AclRule]
    remove: list[AclRule]
    keep: list[AclRule]


def plan_acls(wanted: Iterable[AclRule], existing: Iterable[AclRule], *, scope: str) -> AclPlan:
    """What to create and remove so that the rules of `wanted`'s principals on names starting with
    `scope` are exactly `wanted`. Pure."""
    wanted_set, existing_set = set(wanted), set(existing)
    principals = {rule.principal for rule in wanted_set}
    ours = {r for r in existing_set if r.principal in principals and r.name.startswith(scope)}
    return AclPlan(
        create=sorted(wanted_set - existing_set),
        remove=sorted(ours - wanted_set),
        keep=sorted(wanted_set & existing_set),
    )


def _rule(binding: AclBinding) -> AclRule | None:
    """The managed rule `binding` is, or None for one this module leaves alone (DENY, a host, CLUSTER…)."""
    resources: dict[object, Resource] = {v: k for k, v in _RESOURCES.items()}
    patterns: dict[object, Pattern] = {v: k for k, v in _PATTERNS.items()}
    operations: dict[object, Operation] = {v: k for k, v in _OPERATIONS.items()}
    if binding.permission_type != AclPermissionType.ALLOW or binding.host != "*":
        return None
    # the binding's fields are the enums by now (its constructor converts names and numbers)
    resource = resources.get(binding.restype)
    pattern = patterns.get(binding.resource_pattern_type)
    operation = operations.get(binding.operation)
    if resource is None or pattern is None or operation is None:
        return None
    return AclRule(binding.principal, resource, binding.name, pattern, operation)


def _admin(config: dict[str, str]) -> AdminClient:
    """A librdkafka admin client; keep a reference until its futures are done (it cancels them when collected)."""
    return AdminClient(dict[str, str | int | float | bool](config))


def _fail(what: str, config: dict[str, str], exc: KafkaException) -> AclAdminError:
    error = exc.args[0] if exc.args else exc
    # the broker's own text can quote a whole request: its error name says it, the text is cut short
    name = error.name() if hasattr(error, "name") else type(error).__name__
    text = error.str() if hasattr(error, "str") else str(error)
    detail = f"{name} ({text[:160]}{'…' if len(text) > 160 else ''})"
    return AclAdminError(
        f"could not {what} on {config['bootstrap.servers']} as {config.get('sasl.username', 'an anonymous client')}: "
        f"{detail}; ACLs are managed by the admin (a super user of the broker)"
    )


def existing_acls(config: dict[str, str]) -> list[AclRule]:
    """Every managed rule the broker has (see `_rule`)."""
    # None matches any name, principal and host (documented; the stubs say str)
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = _admin(config)
    try:
        bindings = admin.describe_acls(everything, request_timeout=TIMEOUT_S).result()
    except KafkaException as exc:
        raise _fail("list the ACLs", config, exc) from exc
    return sorted(rule for rule in map(_rule, bindings) if rule is not None)


def create_acls(config: dict[str, str], rules: Collection[AclRule]) -> None:
    if not rules:
        return
    admin = _admin(config)
    futures = admin.create_acls([rule.binding() for rule in rules], request_timeout=TIMEOUT_S)
    try:
        for future in futures.values():
            future.result()
    except KafkaException as exc:
        raise _fail("create ACLs", config, exc) from exc


def delete_acls(config: dict[str, str], rules: Collection[AclRule]) -> None:
    if not rules:
        return
    bindings = [rule.binding() for rule in rules]
    filters = [
        AclBindingFilter(
            b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
        )
        for b in bindings
    ]
    admin = _admin(config)
    futures = admin.delete_acls(filters, request_timeout=TIMEOUT_S)
    try:
        for future in futures.values():
            future.result()
    except KafkaException as exc:
        raise _fail("delete ACLs", config, exc) from exc
