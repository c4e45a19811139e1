"""tests.support.leaks: processes found by what their environment or command line names, with
their descendants, and killed with their process group."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.leaks import kill_processes, processes_referencing, stop_referencing


def _spawn(tmp_path: Path, marker: str) -> tuple[subprocess.Popen[bytes], int]:
    """A shell in its own session (as a monitor is) carrying ``marker`` in its environment, with a
    grandchild whose environment does not; returns the shell and the grandchild's pid."""
    pidfile = tmp_path / "child.pid"
    script = f"env -i sleep 60 & echo $! > {pidfile}; wait"
    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "MARK_DIR": marker}, start_new_session=True)
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.01)
    child = int(pidfile.read_text())
    for _ in range(200):  # until the child has exec'd sleep with the empty environment
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes() == b"sleep\x0060\x00":
                break
        except OSError:
            pass
        time.sleep(0.01)
    return proc, child


def test_finds_by_environment_and_takes_descendants(tmp_path: Path) -> None:
    marker = str(tmp_path / "rt-x")
    shell, child = _spawn(tmp_path, marker)
    try:
        found = {p.pid for p in processes_referencing([marker])}
        assert shell.pid in found and child in found
        assert os.getpid() not in found
        assert processes_referencing([marker + "-other"]) == []
    finally:
        killed = stop_referencing(marker)
    assert {p.pid for p in killed} >= {shell.pid, child}
    assert shell.wait(5) == -9
    assert not Path(f"/proc/{child}").exists() or b") Z" in Path(f"/proc/{child}/stat").read_bytes()


def test_started_after_and_exclude_filter_matches(tmp_path: Path) -> None:
    marker = str(tmp_path / "rt-y")
    shell, child = _spawn(tmp_path, marker)
    try:
        assert processes_referencing([marker], exclude=[shell.pid]) == []  # its child matched only through it
        assert processes_referencing([marker], started_after=2**62) == []
    finally:
        kill_processes(processes_referencing([marker]))
    shell.wait(5)


def test_own_process_and_ancestors_are_never_returned() -> None:
    found = {p.pid for p in processes_referencing([sys.executable, "pytest"])}
    assert os.getpid() not in found and os.getppid() not in found
