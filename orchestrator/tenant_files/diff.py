"""What an import changes: per tenant file, the rows added, changed and removed, matched by key."""

from dataclasses import dataclass
from typing import Any

from orchestrator.tenant_files.columns import FILES
from orchestrator.tenant_files.reading import TenantRows


@dataclass(frozen=True)
class Change:
    added: int
    changed: int
    removed: int

    @property
    def none(self) -> bool:
        return self.added == self.changed == self.removed == 0


def _by_key(rows: list[dict[str, Any]], key: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[k] for k in key): row for row in rows}


def diff(current: TenantRows, imported: TenantRows) -> dict[str, Change]:
    """Per tenant file (in `FILES` order), how `imported` differs from `current` (empty for a new tenant).

    Rows are equal when every column is: numbers as floats, so `2.4` and `2.40` are the same price.
    """
    changes = {}
    for spec in FILES:
        before = _by_key(current.get(spec.name, []), spec.key)
        after = _by_key(imported.get(spec.name, []), spec.key)
        changes[spec.name] = Change(
            added=sum(1 for k in after if k not in before),
            changed=sum(1 for k, row in after.items() if k in before and before[k] != row),
            removed=sum(1 for k in before if k not in after),
        )
    return changes
