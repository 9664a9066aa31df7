"""Labelled crash points for the fault suite: `hit(label)` kills the process at a chosen place.

Production processes never set `BAKEPLAN_CRASH_AT`, so every `hit` is a cheap string comparison.
A test arms one label; at its n-th hit the process appends `label pid` to the crash log (so the
test can prove the fault happened) and SIGKILLs itself — no cleanup, no flush, like a power cut.

Labels: `<consumer>.after_commit` (handler committed, Kafka offset not yet committed),
`orchestrator.before_publish` (state and outbox rows committed, not yet published),
`orchestrator.compensating` (a compensation command committed), `relay.after_publish` (Kafka
acknowledged an outbox batch, rows not yet marked sent), `<consumer>.handling:<event_type>:<tenant>`
(a delivery of that tenant's message of that type begins: a message that kills its process).
"""

import os
import signal
from dataclasses import dataclass, field


@dataclass
class CrashPoints:
    armed: str = ""
    after_hits: int = 1
    log_path: str = ""
    _hits: int = field(default=0, init=False)

    def hit(self, label: str) -> None:
        if not self.armed or label != self.armed:
            return
        self._hits += 1
        if self._hits < self.after_hits:
            return
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(f"{label} {os.getpid()}\n")
                log.flush()
                os.fsync(log.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


DISARMED = CrashPoints()
