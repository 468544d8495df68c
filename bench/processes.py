"""What the benchmarks need of the processes they start: their memory, and a clean stop."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

STOP_LIMIT_S = 30.0  # gunicorn's --graceful-timeout and the worker's drain are 25 s


def rss_kib(pid: int) -> int:
    """The resident memory of a process in KiB (VmRSS), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stop(process: subprocess.Popen[Any], limit: float = STOP_LIMIT_S) -> None:
    """SIGTERM (gunicorn's master stops its workers gracefully); SIGKILL only past the limit."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
