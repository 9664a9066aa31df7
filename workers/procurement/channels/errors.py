"""What a transport raises when a supplier's side refuses or cannot be reached, in the one hierarchy
(`contracts.errors`): transient errors are retried with backoff, permanent ones fail the send at once."""

from contracts.errors import PermanentError, TransientError


class TransientSendError(TransientError):
    """The supplier's side may take the order later: a refusal such as SMTP 4xx or HTTP 5xx/408/429, a
    refused connection, a timeout. `retry_after` (seconds) is the server's own hint, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(PermanentError):
    """Retrying cannot help until someone changes something: SMTP 5xx, HTTP 4xx other than 408/429, a
    missing secret or setting. The message says what to fix."""
