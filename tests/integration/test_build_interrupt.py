"""A build stopped by SIGTERM (``timeout``, a CI job cancelled) or ^C removes the container of
the RUN step it was in: nothing keeps running, nothing is left in ``ps -a`` (Podman's 040-ps
found rpod's step container still up after ``timeout 5 podman build``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _wait_for(predicate, what: str, timeout: float = 90) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _sleepers(marker: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker.encode() in (p / "cmdline").read_bytes():
                    out.append(int(p.name))
            except OSError:
                continue
    return out


def _default_signals() -> None:
    """As from a shell: an xdist worker ignores SIGINT, and an ignored signal stays ignored in
    the child (Python would then not turn ^C into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_build_leaves_no_step_container(module_env: RpodEnv, tmp_path: Path, sig: signal.Signals) -> None:
    env = module_env
    marker = f"{31 + int(sig)}.25"  # a sleep no other test runs
    (tmp_path / "Containerfile").write_text(f"FROM alpine\nRUN touch /first\nRUN sleep {marker}\n")
    before = set(ok(run_rpod(env, "ps", "-aq", "--no-trunc")).stdout.split())
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "build", "-t", "neverbuilt", str(tmp_path)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=env.home, preexec_fn=_default_signals)  # noqa: PLW1509
    try:
        _wait_for(lambda: _sleepers(f"sleep\0{marker}"), "the RUN step's sleep to start")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (143 if sig == signal.SIGTERM else 125), out
    _wait_for(lambda: not _sleepers(f"sleep\0{marker}"), "the step's process to be gone", timeout=30)
    after = set(ok(run_rpod(env, "ps", "-aq", "--no-trunc")).stdout.split())
    assert after == before, out
    assert run_rpod(env, "image", "exists", "neverbuilt").returncode == 1
