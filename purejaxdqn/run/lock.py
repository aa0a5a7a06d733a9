"""One writer per run directory: `train`, `train --resume` and `sweep` hold an exclusive OS
lock (`flock`) on RUN_DIR/.writer.lock while they run; readers (`eval`, `watch`) take none.

The OS drops the lock when its holder exits, however it ends (a SIGKILL included), so a
lock is never stale; the file itself stays behind and only names the last holder. Where
`flock` is not enforced (some network filesystems, platforms without `fcntl`) the lock
does not protect the run directory.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from purejaxdqn.run.run_dir import RunDirError

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: not enforced)
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".writer.lock"


class Locked(RunDirError):
    """Another process is writing the run directory."""


class WriterLock:
    """The held lock; `release` (or the process's exit) lets the next writer in."""

    def __init__(self, fd: int | None):
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


def acquire(run_dir: Path) -> WriterLock:
    """Locks `run_dir` (creating it) for this process, or raises `Locked` naming the holder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        return WriterLock(None)
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Locked(
            f"{run_dir}: another purejaxdqn is writing it ({holder(path)}); wait "
            "for it to end or stop it, then try again"
        ) from None
    os.ftruncate(fd, 0)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
    os.write(fd, json.dumps(me).encode())
    return WriterLock(fd)


def holder(path: Path) -> str:
    """ "host H, PID P, since T" of the lock file's last holder, as far as it says."""
    try:
        info = json.loads(path.read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"host {info['host']}, PID {int(info['pid'])}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its holder did not say who it is yet"
