"""``--restart`` done by the monitor itself (no daemon): imported only when a container has a
restart policy or ``--health-on-failure=restart``.

When the container's init exits, ``supervise`` decides (``should_restart``), records the exit
(the exit file, a ``died`` event), deletes the runtime state, waits the back-off, and creates
and starts the container again from the same bundle (same upper dir, so the writable layer
survives), then goes back to the monitor's loop.  It returns when the container is to stay
down; the monitor then finishes as usual (final exit file, report, runtime delete).

Files (in the container dir, beside ``exit`` and ``monitor.json``):

* ``restart.json``: present only during the back-off gap (``{"restart_count", "exit_code",
  "next_start", "monitor_pid", "monitor_start"}``); ``rpod`` derives "restarting" from it.
* ``stopped-by-user``: written by ``rpod stop``/``kill`` (``STOP_MARK``); a container with it
  is never restarted.  ``rpod start`` removes it.

Back-off: 100 ms, doubled after each restart up to 30 s; back to 100 ms once a run lasted 10 s
(Docker's schedule; Podman restarts at once, which turns a crash loop into a busy loop).
"""

from __future__ import annotations

import _signal as signal
import os
import time

from rootless import ctrfiles
from rootless.monitor import eventlog, exitfile, lean

TYPE_CHECKING = False  # typing costs ~0.6 MB in every monitor: annotations only
if TYPE_CHECKING:
    from typing import Any

INITIAL_DELAY = 0.1
MAX_DELAY = 30.0
RESET_AFTER = 10.0  # a run this long resets the back-off


def parse_policy(value: str | None) -> tuple[str, int]:
    """``on-failure:3`` → (``on-failure``, 3); ``None``/``""`` → (``no``, 0)."""
    if not value:
        return "no", 0
    policy, _, count = value.partition(":")
    return policy, int(count) if count.isdigit() else 0


def should_restart(policy: str, max_retries: int, exit_code: int, restarts: int, stopped_by_user: bool) -> bool:
    """Podman's rules: never after an explicit stop/kill; ``always``/``unless-stopped`` always;
    ``on-failure`` on a non-zero code, at most ``max_retries`` times (0 = no limit)."""
    if stopped_by_user:
        return False
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return exit_code != 0 and (max_retries <= 0 or restarts < max_retries)
    return False


def next_delay(delay: float, ran_for: float) -> float:
    """The back-off before the next restart, given the current one and how long the run lasted."""
    if ran_for >= RESET_AFTER:
        return INITIAL_DELAY
    return delay


def stopped_by_user(container_dir: str) -> bool:
    return os.path.exists(os.path.join(container_dir, ctrfiles.STOP_MARK))


def supervise(mon: Any, runtime: Any) -> None:
    """Restart the container per the policy until it is to stay down (see the module doc)."""
    c = mon.cfg
    policy, max_retries = parse_policy(c.restart)
    cdir = c.container_dir
    delay = INITIAL_DELAY
    while True:
        code, sig = exitfile.decode_wait_status(mon.exit_status or 0)
        forced = bool(getattr(mon, "restart_requested", False))
        mon.restart_requested = False
        if getattr(mon, "stop_requested", False):
            return
        if not (forced and not stopped_by_user(cdir)) and not should_restart(
                policy, max_retries, code, mon.restart_count, stopped_by_user(cdir)):
            return
        ran_for = (mon.exited_ns - mon.started_ns) / 1e9 if mon.started_ns else 0.0
        delay = next_delay(delay, ran_for)
        # restart.json before the exit file: a reader never sees "exited" without "restarting"
        exitfile.write_json_atomic(os.path.join(cdir, ctrfiles.RESTART), {
            "restart_count": mon.restart_count, "exit_code": code,
            "next_start": exitfile.iso_now(time.time_ns() + int(delay * 1e9)),
            "monitor_pid": os.getpid(), "monitor_start": exitfile.proc_start_time(os.getpid()),
        })
        exitfile.write_exit_file(cdir, code, sig, exitfile.iso_now(mon.exited_ns))
        eventlog.container_event(c.events, "died", exit_code=code)
        runtime.delete()
        if not wait_backoff(mon, delay):
            with lean.suppress(FileNotFoundError):
                os.unlink(os.path.join(cdir, ctrfiles.RESTART))
            return
        delay = min(delay * 2, MAX_DELAY)
        mon.restart_count += 1
        mon.reset_streams()
        try:
            mon.pid = mon.create_and_start(runtime)
        except Exception as e:  # cannot start again: that is the final exit
            code = getattr(e, "exit_code", 125)
            mon.exit_status = (code & 0xFF) << 8
            mon.exit_error = f"restarting the container failed: {e}"
            with lean.suppress(FileNotFoundError):
                os.unlink(os.path.join(cdir, ctrfiles.RESTART))
            return
        mon.exit_status = None
        mon.record_started()
        for name in (ctrfiles.EXIT, ctrfiles.RESTART, ctrfiles.DIED_MARK):
            with lean.suppress(FileNotFoundError):
                os.unlink(os.path.join(cdir, name))
        eventlog.container_event(c.events, "restart")
        mon.after_start()
        mon.loop()


def wait_backoff(mon: Any, delay: float) -> bool:
    """Sleep ``delay`` seconds serving attach clients; False when a stop was asked meanwhile
    (``stopped-by-user`` appeared, or the monitor got SIGTERM/SIGINT/SIGHUP)."""
    end = time.monotonic() + delay
    while True:
        if stopped_by_user(mon.cfg.container_dir) or getattr(mon, "stop_requested", False):
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        for key, _ev in mon.sel.select(min(left, 0.05)):
            kind = key.data[0]
            if kind == "signal":
                try:
                    sigs = os.read(key.fd, 512)
                except BlockingIOError:
                    sigs = b""
                mon.reap()
                if any(s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) for s in sigs):
                    return False
            elif kind in ("listen", "client", "call"):
                mon.dispatch(key)
            elif kind == "stream":  # a leftover pipe of the previous run
                with lean.suppress(Exception):
                    mon.sel.unregister(key.fd)
                    os.close(key.fd)

