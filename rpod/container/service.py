"""Service features of a container, engine side: ``--sdnotify``, ``--pidfile``/``--conmon-pidfile``,
``--restart``, healthchecks and ``--log-driver journald``.

The monitor does the work at run time (``rootless.monitor.notify/restart/health/journal``);
this module turns the flags and the image config into what the monitor needs (``monitor_config``),
adjusts the bundle at create time (``adjust_spec``), records the user's intent to stop
(``mark_stopped``), reads the health log and asks the monitor to run a check now
(``healthcheck_run``).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from rootless import ctrfiles
from rpod.errors import RpodError, StateConflict, UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

NOTIFY_DEST = "/run/notify"  # where --sdnotify=container mounts the proxy socket's directory
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3


# ------------------------------------------------------------------------------------ durations
def parse_duration(value: str, flag: str) -> float:
    """A Go duration (``30s``, ``1m30s``, ``500ms``; a bare number is seconds) → seconds."""
    from rpod.duration import parse

    return parse(value, flag)


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


# ---------------------------------------------------------------------------------- healthcheck
def parse_health_cmd(value: str) -> list[str]:
    """``--health-cmd``: a JSON array (``["CMD", "curl", ...]``, ``["CMD-SHELL", "..."]``) or a
    string run by ``/bin/sh -c`` (``CMD-SHELL``); ``none`` disables the image's check."""
    text = value.strip()
    if text.lower() == "none":
        return ["NONE"]
    if text.startswith("["):
        try:
            arr = json.loads(text)
        except ValueError:
            arr = None
        if isinstance(arr, list) and arr and all(isinstance(x, str) for x in arr):
            return arr if arr[0] in ("CMD", "CMD-SHELL", "NONE") else ["CMD", *arr]
    if not text:
        raise UsageError("invalid --health-cmd: the command is empty")
    return ["CMD-SHELL", value]


def resolve_healthcheck(opts: Any, image_config: dict[str, Any]) -> dict[str, Any] | None:
    """Podman's ``Config.Healthcheck`` (``Test``, ``Interval``/``Timeout``/``StartPeriod`` in ns,
    ``Retries``) from the flags over the image's ``Healthcheck``; None when there is none.
    ``--sdnotify=healthy`` without a healthcheck is a ``UsageError`` (nothing would say READY)."""
    hc = _resolve_healthcheck(opts, image_config)
    if hc is None and (opts.health_on_failure or "none") != "none":  # Podman's container_validate
        raise UsageError(f"cannot set on-failure action to {opts.health_on_failure} without a health check")
    if hc is None and opts.sdnotify == "healthy":
        raise UsageError("--sdnotify=healthy needs a healthcheck",
                         hint="add --health-cmd, or use --sdnotify=conmon")
    return hc


def _resolve_healthcheck(opts: Any, image_config: dict[str, Any]) -> dict[str, Any] | None:
    if opts.no_healthcheck:
        return None
    image_hc = dict((image_config.get("config") or {}).get("Healthcheck") or {})
    test = parse_health_cmd(opts.health_cmd) if opts.health_cmd is not None else list(image_hc.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    interval = DEFAULT_INTERVAL if not image_hc.get("Interval") else image_hc["Interval"] / 1e9
    timeout = DEFAULT_TIMEOUT if not image_hc.get("Timeout") else image_hc["Timeout"] / 1e9
    start_period = (image_hc.get("StartPeriod") or 0) / 1e9
    retries = int(image_hc.get("Retries") or DEFAULT_RETRIES)
    if opts.health_interval is not None:
        if opts.health_interval.strip().lower() == "disable":
            interval = 0.0
        else:
            interval = parse_duration(opts.health_interval, "--health-interval")
            if interval < 1:
                raise UsageError("invalid --health-interval: it must be at least 1 second (or disable)")
    if opts.health_timeout is not None:
        timeout = parse_duration(opts.health_timeout, "--health-timeout")
        if timeout < 1:
            raise UsageError("invalid --health-timeout: it must be at least 1 second")
    if opts.health_start_period is not None:
        start_period = parse_duration(opts.health_start_period, "--health-start-period")
    if opts.health_retries is not None:
        if opts.health_retries < 1:
            raise UsageError("invalid --health-retries: it must be greater than 0")
        retries = opts.health_retries
    return {"Test": test, "Interval": _ns(interval), "Timeout": _ns(timeout), "StartPeriod": _ns(start_period),
            "Retries": retries}


def read_health(cdir: Path) -> dict[str, Any] | None:
    """The monitor's health log (``{"Status", "FailingStreak", "Log"}``), None when absent."""
    try:
        with open(cdir / ctrfiles.HEALTH_LOG, "rb") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def healthcheck_run(paths: Any, record: Any) -> dict[str, Any]:
    """Ask the container's monitor to run one check now and wait for its result
    (``{"exit_code", "status", "output"}``).  ``StateConflict`` when there is no check or the
    container is not running."""
    from rootless.monitor import stdio as mstdio
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths)
    if not getattr(record, "healthcheck", None):
        raise StateConflict(f"container {record.id} has no defined healthcheck")
    st = store.state(record.id)
    if st.status != "running":
        raise StateConflict(f"container {record.name} is not running: container state improper")
    try:
        sock = mstdio.connect_attach(str(store.run_dir(record.id)))
    except OSError as e:
        raise RpodError(f"cannot reach the monitor of container {record.name}: {e}") from e
    with sock:
        sock.send(mstdio.HEALTHCHECK)
        timeout = (record.healthcheck.get("Timeout") or _ns(DEFAULT_TIMEOUT)) / 1e9 + 60  # (exec start-up on a busy host)
        sock.settimeout(timeout)
        while True:
            try:
                pkt = sock.recv(mstdio.MAX_PACKET)
            except TimeoutError:
                raise RpodError(f"the healthcheck of {record.name} did not answer in {timeout:.0f}s") from None
            if not pkt:
                raise RpodError(f"the monitor of {record.name} closed the connection (the container exited?)")
            if pkt[:1] == mstdio.HEALTHCHECK:
                result = json.loads(pkt[1:])
                if result.get("error") == "no healthcheck":
                    raise StateConflict(f"container {record.id} has no defined healthcheck")
                if result.get("error") == "not running":
                    raise StateConflict(f"container {record.name} is not running: container state improper")
                if result.get("error"):
                    raise RpodError(f"healthcheck of {record.name}: {result['error']}")
                _await_failure_action(store, record, st, result)
                return result


def _await_failure_action(store: Any, record: Any, before: Any, result: dict[str, Any]) -> None:
    """``healthcheck run`` returns once ``--health-on-failure`` took effect, as Podman's does it
    in the same call: the container stopped (kill, stop) or running again (restart)."""
    import time

    action = getattr(record.options, "health_on_failure", None) or "none"
    if action == "none" or result.get("status") != "unhealthy":
        return
    deadline = time.monotonic() + (record.stop_timeout or 10) + 60
    while time.monotonic() < deadline:
        st = store.state(record.id)
        if action == "restart":
            if st.status == "running" and (st.restart_count > before.restart_count or st.started_at != before.started_at):
                return
        elif st.status != "running":
            return
        time.sleep(0.05)  # (polling the state the monitor writes, until the deadline)


# ------------------------------------------------------------------------------------ the bundle
def adjust_spec(spec: dict[str, Any], opts: Any, cdir: Path) -> None:
    """Create time: the container never inherits the CLI's ``NOTIFY_SOCKET`` (``--env-host``)
    except with ``--sdnotify=container``, where it gets the monitor's proxy socket, mounted
    from ``<container dir>/notify`` at ``/run/notify`` (``NOTIFY_SOCKET=/run/notify/notify.sock``)."""
    proc = spec.setdefault("process", {})
    env = [e for e in proc.get("env") or [] if not e.startswith("NOTIFY_SOCKET=")]
    if opts.sdnotify == "container":
        d = cdir / ctrfiles.NOTIFY_DIR
        d.mkdir(mode=0o755, exist_ok=True)
        os.chmod(d, 0o755)
        spec.setdefault("mounts", []).append({"destination": NOTIFY_DEST, "type": "bind", "source": str(d),
                                              "options": ["bind", "rprivate", "rw"]})
        env.append(f"NOTIFY_SOCKET={NOTIFY_DEST}/notify.sock")
    proc["env"] = env


# --------------------------------------------------------------------------- the monitor config
def journal_socket() -> str | None:
    """The journal's native socket (``$RPOD_JOURNAL_SOCKET`` overrides the path), None without one."""
    from rootless.monitor.journal import available

    return available()


def monitor_config(paths: Any, record: Any, opts: Any, cdir: Path, log_driver: str) -> dict[str, Any]:
    """What the monitor needs for the service features (merged into its config by ``start``)."""
    from rpod.events import log_target

    events_path, events_max = log_target(paths)
    cfg: dict[str, Any] = {"stop_signal": record.stop_signal, "stop_timeout": record.stop_timeout,
                           "events": {"path": events_path, "max_size": events_max, "id": record.id,
                                      "name": record.name, "image": record.image_name,
                                      "labels": dict(record.labels)}}
    notify_socket = os.environ.get("NOTIFY_SOCKET")
    if notify_socket and opts.sdnotify != "ignore":
        cfg.update(sdnotify=opts.sdnotify, notify_socket=notify_socket)
        if opts.sdnotify == "container":
            cfg["notify_dir"] = str(cdir / ctrfiles.NOTIFY_DIR)
    if opts.pidfile:
        cfg["pidfile"] = os.path.abspath(opts.pidfile)
    if opts.conmon_pidfile:
        cfg["conmon_pidfile"] = os.path.abspath(opts.conmon_pidfile)
    if opts.restart and opts.restart != "no":
        cfg["restart"] = opts.restart
    hc = getattr(record, "healthcheck", None)
    if hc:
        cfg["healthcheck"] = {"test": hc["Test"], "interval": hc["Interval"] / 1e9, "timeout": hc["Timeout"] / 1e9,
                              "start_period": hc["StartPeriod"] / 1e9, "retries": hc["Retries"],
                              "on_failure": opts.health_on_failure or "none"}
    if log_driver == "journald":
        sock = journal_socket()
        if sock:
            cfg["journal_socket"] = sock
        else:
            from rpod import log

            note = ("the journald log driver needs the systemd journal (no socket at "
                    "/run/systemd/journal/socket): falling back to k8s-file")
            # Podman says nothing here (conmon's journal writes just go nowhere); rpod keeps the
            # logs in a file and tells a person at a terminal, scripts with --log-level info
            (log.warn if log.hints_enabled() else log.info)(note)
            cfg["log_driver"] = "k8s-file"
    return cfg


def mark_stopped(cdir: Path) -> None:
    """The user stopped or killed the container: the monitor must not restart it."""
    with contextlib.suppress(OSError):
        fd = os.open(cdir / ctrfiles.STOP_MARK, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)

