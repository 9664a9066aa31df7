"""The replication a new topic gets from the size of the cluster (infra.messaging.admin)."""

import pytest

from infra.messaging.admin import replication_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("brokers", "expected"), [(1, 1), (2, 1), (3, 3), (5, 3)])
def test_three_replicas_where_the_cluster_has_three_brokers(brokers: int, expected: int) -> None:
    factor, configs = replication_for(brokers, None)
    assert factor == expected
    # acks=all then waits for two brokers: one may die without losing an acknowledged record
    assert configs == ({"min.insync.replicas": "2"} if expected == 3 else {})


def test_a_configured_factor_wins() -> None:
    assert replication_for(5, 1) == (1, {})
    assert replication_for(3, 2) == (2, {})


def test_a_factor_larger_than_the_cluster_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"BAKEPLAN_TOPIC_REPLICATION_FACTOR=3 but the cluster has 1 broker"):
        replication_for(1, 3)
