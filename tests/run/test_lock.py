"""One writer per run directory (run/lock.py): a held lock refuses a second writer with
one line naming the holder, and a killed holder leaves no stale lock."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from purejaxdqn.run import lock

HOLD = (
    "import sys, time; from pathlib import Path; from purejaxdqn.run import lock; "
    "lock.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(120)"
)


@pytest.fixture
def holder(tmp_path):
    """A process of its own holding the lock on tmp_path/run."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_naming_the_holder_then_let_in_after_a_sigkill(tmp_path, holder):
    run = tmp_path / "run"
    with pytest.raises(lock.Locked) as refused:
        lock.acquire(run)
    message = str(refused.value)
    assert "\n" not in message
    assert f"PID {holder.pid}" in message and f"host {socket.gethostname()}" in message
    assert holder.poll() is None  # the holder is untouched
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    held = lock.acquire(run)  # no stale lock after a kill
    assert f"PID {os.getpid()}" in lock.holder(run / lock.LOCK_FILE)
    held.release()
    lock.acquire(run).release()  # and released means free again


def test_a_lock_file_that_names_no_one_still_locks(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / lock.LOCK_FILE).write_text("not json")
    assert lock.holder(run / lock.LOCK_FILE) == "its holder did not say who it is yet"
    lock.acquire(run).release()
