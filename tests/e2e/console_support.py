"""What the console's browser test needs around it: the system chromium, a port, the console's process."""

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PORTS = range(18450, 18480)


def chromium_path() -> str:
    """Debian's chromium; the browser tests never download one (the CDN may be unreachable)."""
    found = os.environ.get("BAKEPLAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("no chromium on PATH: `apt-get install chromium` (Debian), or set BAKEPLAN_CHROMIUM")
    return found


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for the console")


@dataclass
class ConsoleProcess:
    proc: "subprocess.Popen[bytes]"
    base: str
    log_path: Path

    def wait_ready(self, timeout_s: float = 180.0) -> str:
        """Poll the login page until it answers (imports alone take a minute on a machine at load 40)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return self.base
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"the console did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
