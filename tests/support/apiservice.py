"""``rpod system service`` for tests: started on a socket in the environment's runtime dir,
stopped (and checked to leave nothing behind) afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    """Wait until ``path`` accepts connections (fail early if ``proc`` died)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"rpod system service exited with {proc.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{path} never accepted a connection"
        time.sleep(0.05)


@contextmanager
def api_service(env: dict[str, str], *args: str, sock_name: str = "api.sock") -> Iterator[Path]:
    """Serve the API on ``$XDG_RUNTIME_DIR/<sock_name>`` (``--time 0``); yields the socket path."""
    path = Path(env["XDG_RUNTIME_DIR"]) / sock_name
    log = open(path.with_suffix(".log"), "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "--log-level", "debug", "system", "service", "--time", "0", *args,
                             f"unix://{path}"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, cwd=env.get("HOME"))
    try:
        wait_for_socket(path, proc)
        yield path
    finally:
        log.close()
        text = path.with_suffix(".log").read_text(errors="replace")
        if text.strip():
            print(f"--- rpod system service log ---\n{text}")
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def docker_env(env: dict[str, str], sock: Path) -> dict[str, str]:
    """``env`` for the docker CLI/SDK: DOCKER_HOST at ``sock``, a private DOCKER_CONFIG."""
    cfg = Path(env["HOME"]) / ".docker"
    cfg.mkdir(exist_ok=True)
    return dict(env, DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=str(cfg),
                RPODTEST_API_LOG=str(sock.with_suffix(".log")))


def docker(env: dict[str, str], *args: str, input: str | None = None,  # noqa: A002
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI (output captured, text)."""
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    r = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout,
                       cwd=env.get("HOME"), **stdin)
    r.api_log = service_log(env)  # type: ignore[attr-defined]
    return r


def service_log(env: dict[str, str]) -> str:
    """The service's stderr so far (tracebacks of unexpected failures)."""
    try:
        return Path(env["RPODTEST_API_LOG"]).read_text(errors="replace")
    except (KeyError, OSError):
        return ""


def ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    log = getattr(r, "api_log", "")
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}\nservice log: {log}"
    return r


def exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
