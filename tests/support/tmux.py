"""A real terminal for tests: a command run under tmux, typed into and read back from the screen."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Terminal:
    """One detached tmux session (its own server socket) running ``sh -c CMD`` with ``env``."""

    def __init__(self, tmux: str, sock: str) -> None:
        self.tmux = tmux
        self.sock = sock

    def screen(self) -> str:
        """What the terminal shows now."""
        return subprocess.run([self.tmux, "-S", self.sock, "capture-pane", "-p"],
                              capture_output=True, text=True).stdout

    def send(self, *keys: str) -> None:
        """Type ``keys`` (tmux key names such as ``Enter``, ``C-p`` or literal text)."""
        subprocess.run([self.tmux, "-S", self.sock, "send-keys", *keys], check=True)

    def wait_for(self, text: str, timeout: float = 30, what: str | None = None) -> str:
        """Wait until ``text`` is on the screen; return the screen (fail with it shown otherwise)."""
        deadline = time.monotonic() + timeout
        while text not in (shown := self.screen()):
            assert time.monotonic() < deadline, f"timed out waiting for {what or repr(text)}:\n{shown}"
            time.sleep(0.1)
        return shown

    def wait_prompt(self, prompt: str = "#", what: str = "the shell prompt") -> None:
        """Wait for a shell prompt, then until the shell answers a typed line: a line editor
        (busybox's) switches the pty's mode right after printing its first prompt, and keys typed
        in that instant can be lost, so the probe is typed again (after ctrl-u) until it answers."""
        self.wait_for(prompt, what=what)
        deadline = time.monotonic() + 60
        while True:
            self.send("echo rdy''-23", "Enter")  # the output, rdy-23, is not the typed text
            end = time.monotonic() + 5
            while time.monotonic() < end:
                if "rdy-23" in self.screen():
                    return
                time.sleep(0.1)
            assert time.monotonic() < deadline, f"{what} never answered a typed line:\n{self.screen()}"
            self.send("C-u")


@contextmanager
def terminal(tmp_path: Path, env: dict[str, str], cmd: str, cols: int = 90, rows: int = 25) -> Iterator[Terminal]:
    """Run ``cmd`` under a ``cols`` x ``rows`` tmux terminal; the server is killed afterwards."""
    tmux = shutil.which("tmux")
    assert tmux, "tmux is not installed (apt-get install tmux)"
    sock = str(tmp_path / "tmux.sock")
    envs = [f"{k}={v}" for k, v in env.items()]
    subprocess.run([tmux, "-S", sock, "new-session", "-d", "-x", str(cols), "-y", str(rows), "env", *envs,
                    "sh", "-c", cmd], check=True)
    try:
        yield Terminal(tmux, sock)
    finally:
        subprocess.run([tmux, "-S", sock, "kill-server"], check=False)
