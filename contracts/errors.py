"""The one error hierarchy. Each error says whether retrying can help.

Messages name the tenant, the saga, the field and what would fix it.
"""


class BakeplanError(Exception):
    """Base of every error bakeplan raises on purpose."""


class TransientError(BakeplanError):
    """Retrying later can help (a broker or database briefly unreachable, a lock timeout)."""


class DeferredError(TransientError):
    """Nothing is wrong, but the message must wait (e.g. the orchestrator runs as many sagas as it may).

    The consumer rewinds and pauses the record's partition for `retry_after` seconds without counting
    an attempt, so a deferred message is neither parked nor lost, and other partitions go on.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(BakeplanError):
    """Retrying cannot help: the saga step fails and the saga compensates."""


class PlanningError(PermanentError):
    """The tenant's data does not allow a plan (e.g. an ingredient no supplier offers)."""


class InvalidMessageError(PermanentError):
    """A message could not be parsed or validated; it is parked in the dead-letter topic."""


class TenantBindingError(PermanentError):
    """A message does not fit the tenant, saga or content it claims (docs/security.md, "Tenant binding"):
    a reply for another tenant's saga, a reply to a command the saga never sent, an event id already
    taken by other content. Parked like any `PermanentError`, and also counted as a security event.

    `kind` is one of a few fixed words (a metric label): never a tenant id or free text.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
