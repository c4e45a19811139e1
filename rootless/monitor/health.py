"""Healthchecks driven by the monitor's own timer (no systemd timers); imported only when the
container has a healthcheck.

Each check is an exec in the container (``rootless.runtime.api.exec_process``, or the OCI
runtime CLI's ``exec`` through ``nsenter`` with ``--runtime``) with stdout+stderr on one pipe
the monitor reads.  Results go to ``healthcheck.log`` in the container dir (Podman's
``State.Health`` shape: ``{"Status": starting|healthy|unhealthy, "FailingStreak", "Log": [{Start,
End, ExitCode, Output}]}``, last 5 results, output cut at 500 bytes), written atomically; rpod
reads it for ``inspect`` and ``ps``.

Rules (Podman's): the first check runs one interval after the start; a success makes the
container healthy and resets the streak; a failure inside the start period does not count;
``retries`` consecutive counted failures make it unhealthy, and that transition runs the
``--health-on-failure`` action (kill, stop, restart).  A check that outlives ``timeout`` is
killed and counts as a failure.  ``rpod healthcheck run`` asks the monitor over the attach
socket to run one check now (``run_now``).
"""

from __future__ import annotations

import _signal as signal
import os
import time

from rootless import ctrfiles
from rootless.monitor import eventlog, exitfile, lean, stdio

TYPE_CHECKING = False  # typing costs ~0.6 MB in every monitor: annotations only
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 500


def check_argv(test: list[str]) -> list[str] | None:
    """The argv of a ``Test`` (``["CMD-SHELL", s]``, ``["CMD", ...]``); None for ``NONE``/empty."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:]) or None
    return list(test)


def next_state(state: dict[str, Any], exit_code: int, in_start_period: bool, retries: int) -> dict[str, Any]:
    """The health state after one check result (pure; ``state`` is not modified)."""
    new = dict(state)
    if exit_code == 0:
        new["Status"], new["FailingStreak"] = "healthy", 0
    elif not in_start_period:
        new["FailingStreak"] = int(state.get("FailingStreak", 0)) + 1
        if new["FailingStreak"] >= max(1, retries):
            new["Status"] = "unhealthy"
    return new


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """A healthcheck bug must never take the monitor (and the container's exit code) down."""
    def wrapper(self: HealthChecker, *args: Any) -> None:
        try:
            fn(self, *args)
        except Exception:
            self.current = None
            waiters, self.waiters = self.waiters, []  # a waiting `healthcheck run` gets an answer
            for reply in waiters:
                with lean.suppress(Exception):
                    reply({"error": "the healthcheck failed in the monitor"})
            with lean.suppress(Exception):
                self.schedule()
    return wrapper


class HealthChecker:
    """One container's healthcheck, run from the monitor's loop (``mon.sel``, ``mon.timers``)."""

    def __init__(self, mon: Any, spec: dict[str, Any]):
        self.mon = mon
        self.argv = check_argv(list(spec.get("test") or []))
        self.interval = float(spec.get("interval") or 0)
        self.timeout = float(spec.get("timeout") or 30)
        self.start_period = float(spec.get("start_period") or 0)
        self.retries = int(spec.get("retries") or 3)
        self.on_failure = spec.get("on_failure") or "none"
        self.path = os.path.join(mon.cfg.container_dir, ctrfiles.HEALTH_LOG)
        self.state: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self.generation = 0
        self.started = 0.0
        self.current: dict[str, Any] | None = None  # the check in flight
        self.waiters: list[Callable[[dict[str, Any]], None]] = []
        self.process: dict[str, Any] | None = None  # the exec process object, built once per start

    # ---- schedule --------------------------------------------------------------------------
    def on_start(self) -> None:
        """After each (re)start: status starting, first check one interval from now."""
        self.generation += 1
        self.started = time.monotonic()
        self.process = None
        self.state = {"Status": "starting", "FailingStreak": 0, "Log": list(self.state.get("Log") or [])}
        self.save()
        self.schedule()

    def schedule(self) -> None:
        if self.interval > 0 and self.argv:
            gen = self.generation
            self.mon.timers.append((time.monotonic() + self.interval, lambda: self.tick(gen)))

    @_guarded
    def tick(self, gen: int) -> None:
        if gen != self.generation or self.mon.exit_status is not None:
            return
        if os.path.exists(os.path.join(self.mon.cfg.container_dir, ctrfiles.STOP_MARK)):
            return  # rpod stop/kill is under way: no check into a dying container
        if self.current is None:
            self.start_check(rescheduled=True)
        else:
            self.schedule()

    @_guarded
    def run_now(self, reply: Callable[[dict[str, Any]], None]) -> None:
        """Run a check at once (``rpod healthcheck run``); ``reply`` gets the result."""
        if not self.argv or self.mon.exit_status is not None:
            reply({"error": "no healthcheck" if not self.argv else "not running"})
            return
        self.waiters.append(reply)
        if self.current is None:
            self.start_check(rescheduled=False)

    # ---- one check -------------------------------------------------------------------------
    def start_check(self, rescheduled: bool) -> None:
        start_iso = exitfile.iso_now()
        r, w = os.pipe()
        try:
            pid = self.spawn(w)
        except Exception as e:
            os.close(r)
            os.close(w)
            self.current = {"start": start_iso, "pid": 0, "buf": b"", "rescheduled": rescheduled,
                            "gen": self.generation}
            self.complete(125, f"cannot run the healthcheck: {e}")
            return
        os.close(w)
        os.set_blocking(r, False)
        self.current = {"start": start_iso, "pid": pid, "buf": b"", "fd": r, "rescheduled": rescheduled,
                        "gen": self.generation, "timed_out": False}
        self.mon.sel.register(r, lean.EVENT_READ, ("call", self.on_output))
        self.mon.child_waiters[pid] = self.on_exit
        cur = self.current
        self.mon.timers.append((time.monotonic() + self.timeout, lambda: self.on_timeout(cur)))

    def spawn(self, out_fd: int) -> int:
        c = self.mon.cfg
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            if c.runtime:
                return self._spawn_cli(out_fd, devnull)
            from rootless.runtime import api

            if self.process is None:  # once per start: config.json (seccomp profile included) is big
                self.process = api.exec_defaults(c.id, c.state_root, self.argv or [], tty=False)
            return api.exec_process(c.id, c.state_root, self.process, stdio=(devnull, out_fd, out_fd))
        finally:
            os.close(devnull)

    def _spawn_cli(self, out_fd: int, devnull: int) -> int:
        """``nsenter -U -t <init> -- <runtime> exec --process FILE ID`` (see ``CliRuntime``)."""
        import json
        import subprocess
        import tempfile

        c = self.mon.cfg
        with open(os.path.join(c.bundle, ctrfiles.SPEC)) as f:
            process = dict(json.load(f).get("process") or {}, args=self.argv, terminal=False)
        fd, name = tempfile.mkstemp(prefix="health-", suffix=".json", dir=c.run_dir)
        with os.fdopen(fd, "w") as f:
            json.dump(process, f)
        argv = ["nsenter", "-U", "-t", str(self.mon.pid), "--", *c.runtime, "--root", c.state_root, "exec",
                "--process", name, c.id]
        proc = subprocess.Popen(argv, stdin=devnull, stdout=out_fd, stderr=out_fd, close_fds=True)
        self._tmpfile = name
        return proc.pid

    @_guarded
    def on_output(self, fd: int) -> None:
        cur = self.current
        data = stdio.read_ready(fd)
        if data is None:
            return
        if cur is not None and cur.get("fd") == fd and data:
            if len(cur["buf"]) < MAX_OUTPUT * 2:
                cur["buf"] += data
            return
        self._close_fd(fd)
        if cur is not None and cur.get("fd") == fd:
            cur["fd"] = -1
            if "status" in cur:
                self._finish_exec(cur)

    def _close_fd(self, fd: int) -> None:
        with lean.suppress(Exception):
            self.mon.sel.unregister(fd)
        with lean.suppress(OSError):
            os.close(fd)

    @_guarded
    def on_exit(self, status: int) -> None:
        cur = self.current
        if cur is None:
            return
        cur["status"] = status
        if cur.get("fd", -1) < 0:
            self._finish_exec(cur)
        else:  # give the pipe a moment: a background child may hold it, do not wait for that
            self.mon.timers.append((time.monotonic() + 0.2, lambda: self._finish_exec(cur)))

    @_guarded
    def _finish_exec(self, cur: dict[str, Any]) -> None:
        if self.current is not cur:
            return
        if cur.get("fd", -1) >= 0:
            with lean.suppress(OSError):
                while True:
                    chunk = os.read(cur["fd"], 4096)
                    if not chunk:
                        break
                    cur["buf"] += chunk
            self._close_fd(cur["fd"])
            cur["fd"] = -1
        with lean.suppress(OSError, AttributeError):
            os.unlink(self._tmpfile)
        if cur.get("timed_out"):
            self.complete(1, "Healthcheck command timed out")
        else:
            code, _sig = exitfile.decode_wait_status(cur.get("status", 0))
            self.complete(code, cur["buf"].decode(errors="replace"))

    @_guarded
    def on_timeout(self, cur: dict[str, Any]) -> None:
        if self.current is not cur or "status" in cur:
            return
        cur["timed_out"] = True
        with lean.suppress(OSError):
            os.kill(cur["pid"], signal.SIGKILL)

    def complete(self, exit_code: int, output: str) -> None:
        cur = self.current or {}
        self.current = None
        in_start = time.monotonic() - self.started < self.start_period
        before = self.state.get("Status")
        self.state = next_state(self.state, exit_code, in_start, self.retries)
        log = list(self.state.get("Log") or [])
        log.append({"Start": cur.get("start", exitfile.iso_now()), "End": exitfile.iso_now(),
                    "ExitCode": exit_code, "Output": output.removesuffix("\n")[:MAX_OUTPUT]})  # Podman joins lines
        self.state["Log"] = log[-MAX_LOG_ENTRIES:]
        self.save()
        status = self.state["Status"]
        waiters, self.waiters = self.waiters, []  # answered first: nothing below may leave them waiting
        for reply in waiters:
            with lean.suppress(Exception):
                reply({"exit_code": exit_code, "status": status, "output": output[:MAX_OUTPUT]})
        if status != before:
            with lean.suppress(Exception):
                eventlog.container_event(self.mon.cfg.events, "health_status", health_status=status)
            if status == "healthy":
                self.mon.on_healthy()
        if cur.get("rescheduled") and cur.get("gen") == self.generation:
            self.schedule()
        if status == "unhealthy" and before != "unhealthy":
            self.act()

    def save(self) -> None:
        with lean.suppress(OSError):
            exitfile.write_json_atomic(self.path, self.state)

    # ---- --health-on-failure ---------------------------------------------------------------
    def act(self) -> None:
        mon = self.mon
        if self.on_failure == "none" or mon.exit_status is not None:
            return
        if self.on_failure == "kill":
            mon.signal_container(signal.SIGKILL)
            return
        if self.on_failure == "stop":
            mon.stop_requested = True
        elif self.on_failure == "restart":
            mon.restart_requested = True
        else:
            return
        mon.signal_container(int(mon.cfg.stop_signal or signal.SIGTERM))
        pid = mon.pid
        timeout = float(mon.cfg.stop_timeout if mon.cfg.stop_timeout is not None else 10)
        mon.timers.append((time.monotonic() + timeout,
                           lambda: mon.exit_status is None and mon.pid == pid and mon.signal_container(signal.SIGKILL)))
