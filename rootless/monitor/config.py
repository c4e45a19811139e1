"""The monitor's configuration: ONE schema that the engine fills and the monitor validates.

The engine (``rpod.container.lifecycle.start``, ``rpod.container.service.monitor_config``)
builds a plain dict and checks it with ``validate`` before sending it; the monitor checks it
again at start (``MonitorConfig.parse``): an unknown key, a missing one or a value of the
wrong type is an error (``ConfigError``) that the monitor reports on its sync socket, so the
CLI prints it, instead of being dropped in silence.

The schema is a plain dict, cheap to import (the monitor imports no ``dataclasses`` nor
``typing``: see docs/decisions.md, "Run path").  Each key maps to ``(kind, required, default)``:

* ``kind`` is ``str``, ``int``, ``float`` (an int is accepted), ``bool``, ``dict`` (an object
  checked by its owner), a tuple of strings (one of them), ``[kind]`` (a list of that kind) or
  a nested schema dict (an object with these keys);
* an optional key whose default is ``None`` may also be ``null``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs the monitor ~0.6 MB; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

REQUIRED, OPTIONAL = True, False

HEALTHCHECK = {  # rootless.monitor.health; durations in seconds
    "test": ([str], REQUIRED, None),
    "interval": (float, REQUIRED, None),
    "timeout": (float, REQUIRED, None),
    "start_period": (float, REQUIRED, None),
    "retries": (int, REQUIRED, None),
    "on_failure": (("none", "kill", "restart", "stop"), REQUIRED, None),
}

EVENTS = {  # rootless.monitor.eventlog: where and how the monitor records container events
    "path": (str, REQUIRED, None),  # "" with the "none" events backend
    "max_size": (int, OPTIONAL, 0),  # containers.conf events_logfile_max_size (0: never rotate)
    "id": (str, REQUIRED, None),
    "name": (str, REQUIRED, None),
    "image": (str, REQUIRED, None),
    "labels": (dict, REQUIRED, None),
}

PORT = {  # one published port (rpod.network.ports.PortMapping.monitor)
    "proto": (str, REQUIRED, None),
    "host_ip": (str, REQUIRED, None),
    "host_port": (int, REQUIRED, None),
    "container_port": (int, REQUIRED, None),
}

NETWORK = {  # rootless.netsetup: which keys a mode uses is netsetup's business
    "mode": (("slirp4netns", "pasta", "bridge"), REQUIRED, None),
    "options": (dict, OPTIONAL, None),  # slirp4netns
    "args": ([str], OPTIONAL, None),  # pasta
    "ports": ([PORT], OPTIONAL, None),  # slirp4netns, pasta
    "holder_dir": (str, OPTIONAL, None),  # bridge
    "request": (dict, OPTIONAL, None),  # bridge: rpod.network.holder's attach request
}

MONITOR = {
    "id": (str, REQUIRED, ""),
    "bundle": (str, REQUIRED, ""),
    "state_root": (str, REQUIRED, ""),
    "container_dir": (str, REQUIRED, ""),
    "run_dir": (str, REQUIRED, ""),
    "sync_fd": (int, REQUIRED, -1),
    "runtime": ([str], OPTIONAL, None),  # an OCI runtime CLI (argv prefix) instead of the in-process core
    "terminal": (bool, OPTIONAL, False),
    "stdin": (("null", "inherit", "pipe"), OPTIONAL, "null"),  # inherit: stdin_fd; pipe: fed by attach
    "stdin_fd": (int, OPTIONAL, -1),  # the CLI's stdin (inherit, or the terminal to copy from)
    "stdout_fd": (int, OPTIONAL, -1),  # the CLI's stdout/stderr (foreground), -1 when detached
    "stderr_fd": (int, OPTIONAL, -1),
    "log_driver": (("k8s-file", "none", "passthrough", "journald"), OPTIONAL, "k8s-file"),
    "log_path": (str, OPTIONAL, None),
    "log_size_max": (int, OPTIONAL, 0),  # --log-opt max-size: truncate the k8s-file log beyond it (conmon)
    "timeout": (int, OPTIONAL, 0),  # --timeout: SIGKILL the container after this many seconds, exit -1
    "remove": (bool, OPTIONAL, False),  # --rm
    "exit_command": ([str], OPTIONAL, None),  # run when --rm and the CLI is gone
    "detach_fork": (bool, OPTIONAL, True),
    # services (rootless.monitor.notify/restart/health/journal, imported only when used)
    "sdnotify": (("conmon", "container", "healthy", "ignore"), OPTIONAL, "ignore"),
    "notify_socket": (str, OPTIONAL, None),  # the CLI's $NOTIFY_SOCKET
    "notify_dir": (str, OPTIONAL, None),  # --sdnotify=container: the proxy socket's dir (bind-mounted)
    "pidfile": (str, OPTIONAL, None),  # --pidfile: the container's init pid
    "conmon_pidfile": (str, OPTIONAL, None),  # --conmon-pidfile: ours
    "restart": (str, OPTIONAL, None),  # --restart policy
    "healthcheck": (HEALTHCHECK, OPTIONAL, None),
    "journal_socket": (str, OPTIONAL, None),  # --log-driver journald
    "events": (EVENTS, OPTIONAL, None),
    "stop_signal": (int, OPTIONAL, 15),
    "stop_timeout": (int, OPTIONAL, 10),
    "detach_keys": (str, OPTIONAL, ""),  # foreground -it: hex of the key sequence that detaches the CLI
    "network": (NETWORK, OPTIONAL, None),
    # --preserve-fds / LISTEN_FDS: our numbers of the CLI's fds 3, 4, ... (-1: it had none open)
    "preserve_fds": ([int], OPTIONAL, None),
}

# the command line of a monitor spawned before its container exists (rpod.container.monitorspawn):
# the configuration (MONITOR) follows on sync_fd
SPAWN = {
    "await_config": (bool, REQUIRED, False),
    "id": (str, REQUIRED, ""),
    "sync_fd": (int, REQUIRED, -1),
    "stdin_fd": (int, OPTIONAL, -1),
    "stdout_fd": (int, OPTIONAL, -1),
    "stderr_fd": (int, OPTIONAL, -1),
    "cli_pid": (int, OPTIONAL, 0),  # the CLI that will send the configuration: its death ends the wait
    "cli_start": (int, OPTIONAL, None),  # its start time (pid reuse)
    "preserve_fds": ([int], OPTIONAL, None),
}


class ConfigError(ValueError):
    """The configuration does not match its schema (the message lists every problem)."""


def _kind_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return "one of " + ", ".join(kind)
    if isinstance(kind, list):
        return f"a list of {_kind_name(kind[0])}"
    if isinstance(kind, dict):
        return "an object"
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object"}[kind]


def _check(value: Any, kind: Any, where: str, problems: list[str]) -> None:
    if isinstance(kind, dict):
        if isinstance(value, dict):
            _check_object(value, kind, where + ".", problems)
            return
    elif isinstance(kind, list):
        if isinstance(value, list):
            for i, item in enumerate(value):
                _check(item, kind[0], f"{where}[{i}]", problems)
            return
    elif isinstance(kind, tuple):
        if value in kind:
            return
    elif kind is float:
        if type(value) in (int, float):
            return
    elif type(value) is kind:  # not isinstance: a bool is no integer here
        return
    problems.append(f"{where}: expected {_kind_name(kind)}, got {value!r}")


def _check_object(data: dict[str, Any], schema: dict[str, Any], prefix: str, problems: list[str]) -> None:
    for key in data:
        if key not in schema:
            problems.append(f"unknown key {prefix}{key}")
    for key, (kind, required, default) in schema.items():
        if key not in data:
            if required:
                problems.append(f"missing key {prefix}{key}")
        elif not (data[key] is None and not required and default is None):
            _check(data[key], kind, prefix + key, problems)


def validate(data: Any, schema: dict[str, Any] | None = None) -> None:
    """Raise ``ConfigError`` unless ``data`` matches ``schema`` (``MONITOR`` by default)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        problems.append(f"expected an object, got {data!r}")
    else:
        _check_object(data, MONITOR if schema is None else schema, "", problems)
    if problems:
        raise ConfigError("invalid monitor configuration: " + "; ".join(problems))


class MonitorConfig:
    """A validated configuration read by attribute; keys absent from the JSON get the schema's
    default.  Every key of ``MONITOR`` and ``SPAWN`` is an attribute."""

    def __init__(self, data: dict[str, Any], schema: dict[str, Any]) -> None:
        for key, (_kind, _required, default) in (MONITOR | SPAWN).items():
            setattr(self, key, default)
        for key, (_kind, _required, default) in schema.items():
            setattr(self, key, data.get(key, default))

    @classmethod
    def parse(cls, text: str | bytes, schema: dict[str, Any] | None = None) -> MonitorConfig:
        """Parse and validate one JSON object; ``ConfigError`` when it is not valid."""
        from rootless import minijson

        try:
            data = minijson.loads(text)
        except ValueError as e:
            raise ConfigError(f"invalid monitor configuration: not JSON: {e}") from None
        schema = MONITOR if schema is None else schema
        validate(data, schema)
        return cls(data, schema)

    @classmethod
    def from_argv(cls, text: str) -> MonitorConfig:
        """The command line's configuration: a full one, or a ``SPAWN`` one (``await_config``)."""
        from rootless import minijson

        try:
            early = minijson.loads(text).get("await_config")
        except (ValueError, AttributeError):
            early = None
        return cls.parse(text, SPAWN if early else MONITOR)
